"""Surveys: create, announce, answer once (a delegate with `activities` for an elder), results and CSV; and an
anonymous survey whose participants and answers cannot be joined back by key, order or time."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from notices import surveys
from notices.errors import SurveyAlreadyAnswered
from notices.survey_models import Survey
from tests.conftest import race

QUESTIONS = [
    {"kind": "single", "title": "您家住几楼", "options": ["1–3 层", "4–6 层", "7 层以上"]},
    {"kind": "multiple", "title": "希望加装哪些设施", "options": ["电梯", "坡道", "扶手"]},
    {"kind": "rating", "title": "对物业的满意度"},
    {"kind": "text", "title": "其他建议", "required": False},
]


def _survey(api, staff, region, *, publish=True, **fields):
    body = {
        "region_id": region.public_id,
        "title": "加装电梯意愿调查",
        "description": "请**如实**填写。",
        "closes_at": (utcnow() + timedelta(days=7)).isoformat(),
        "questions": QUESTIONS,
        **fields,
    }
    response = api(staff, "post", "/api/v1/notices/surveys", json=body)
    assert response.status_code == 201, response.json
    survey = response.json
    if publish:
        published = api(staff, "post", f"/api/v1/notices/surveys/{survey['id']}/publish")
        assert published.status_code == 200, published.json
        survey = published.json
    return survey


def _answer(api, user, survey_id, answers, **extra):
    return api(user, "post", f"/api/v1/notices/surveys/{survey_id}/responses", json={"answers": answers, **extra})


@pytest.fixture
def elder2(people, tree, make_resident, join, delegate):
    """A second elder of community A (no account) whose son holds an ``activities`` delegation."""
    son_user, son = make_resident("李子", sequence="921")
    _none, elder = make_resident("老李", born=date(1938, 5, 1), sequence="922", account=False)
    join(elder, tree.rooms_a["102"])
    join(son, tree.rooms_b["201"])
    delegate(son, elder, ("activities",))
    return type("Elder", (), {"son": son_user, "elder": elder})


def test_a_survey_is_answered_once_and_results_count_against_the_audience(people, elder2, tree, api, run_jobs):
    survey = _survey(api, people.staff, tree.a)
    assert (survey["status"], survey["open"], survey["audience_count"]) == ("published", True, 5)
    assert "<strong>如实</strong>" in survey["description_html"]
    run_jobs()

    shown = api(people.own1, "get", f"/api/v1/notices/surveys/{survey['id']}")
    assert shown.status_code == 200, shown.json
    assert [q["id"] for q in shown.json["questions"]] == ["q1", "q2", "q3", "q4"]
    assert shown.json["answered"] is False
    assert "audience" not in shown.json

    assert _answer(api, people.own1, survey["id"], {"q1": 0, "q2": [0, 2], "q3": 5, "q4": "尽快"}).status_code == 201
    assert _answer(api, people.own2, survey["id"], {"q1": 1, "q2": [0], "q3": 3}).status_code == 201
    # The son answers for the elder (scope activities); the elder counts as a respondent.
    for_elder = _answer(api, elder2.son, survey["id"], {"q1": 0, "q2": [], "q3": 4}, subject_id=elder2.elder.public_id)
    assert for_elder.status_code == 422  # q2 is required: an empty choice is no answer
    for_elder = _answer(api, elder2.son, survey["id"], {"q1": 0, "q2": [1], "q3": 4}, subject_id=elder2.elder.public_id)
    assert for_elder.status_code == 201, for_elder.json

    again = _answer(api, people.own1, survey["id"], {"q1": 2, "q2": [1], "q3": 1})
    assert (again.status_code, again.json["code"]) == (409, "survey_already_answered")
    assert api(people.own1, "get", f"/api/v1/notices/surveys/{survey['id']}").json["answered"] is True

    results = api(people.staff, "get", f"/api/v1/notices/surveys/{survey['id']}/results")
    assert results.status_code == 200, results.json
    body = results.json
    assert (body["audience"], body["responses"], body["response_rate"]) == (5, 3, 60.0)
    q1, q2, q3, q4 = body["questions"]
    assert [(o["option"], o["count"], o["percent"]) for o in q1["options"]] == [
        ("1–3 层", 2, 66.7),
        ("4–6 层", 1, 33.3),
        ("7 层以上", 0, 0.0),
    ]
    assert [(o["count"], o["percent"]) for o in q2["options"]] == [(2, 66.7), (1, 33.3), (1, 33.3)]
    assert [o["count"] for o in q3["options"]] == [0, 0, 1, 1, 1]
    assert q3["average"] == 4.0
    assert (q4["answered"], q4.get("options")) == (1, None)

    export = api(people.staff, "get", f"/api/v1/notices/surveys/{survey['id']}/results/export")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert rows[0] == ["姓名", "您家住几楼", "希望加装哪些设施", "对物业的满意度", "其他建议"]
    assert sorted(rows[1:]) == sorted(
        [
            ["甲", "1–3 层", "电梯；扶手", "5", "尽快"],
            ["乙", "4–6 层", "电梯", "3", ""],
            ["老李", "1–3 层", "坡道", "4", ""],
        ]
    )


def test_a_delegate_without_the_activities_scope_cannot_answer_for_the_elder(people, tree, api, run_jobs):
    survey = _survey(api, people.staff, tree.a)
    run_jobs()
    # The daughter holds 老张's delegation for notices only.
    response = _answer(
        api, people.daughter, survey["id"], {"q1": 0, "q2": [0], "q3": 5}, subject_id=people.elder.public_id
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"q2": [0], "q3": 5}, "q1"),
        ({"q1": 3, "q2": [0], "q3": 5}, "q1"),
        ({"q1": True, "q2": [0], "q3": 5}, "q1"),
        ({"q1": 0, "q2": [0, 0], "q3": 5}, "q2"),
        ({"q1": 0, "q2": [0], "q3": 6}, "q3"),
        ({"q1": 0, "q2": [0], "q3": 5, "q4": 7}, "q4"),
        ({"q1": 0, "q2": [0], "q3": 5, "q9": 1}, "q9"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_recorded(people, tree, api, run_jobs, answers, field):
    survey = _survey(api, people.staff, tree.a)
    run_jobs()
    response = _answer(api, people.own1, survey["id"], answers)
    assert response.status_code == 422
    assert response.json["code"] == "answers_invalid"
    assert field in response.json["details"]["answers"]
    assert api(people.staff, "get", f"/api/v1/notices/surveys/{survey['id']}/results").json["responses"] == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"questions": [{"kind": "single", "title": "只有一个选项", "options": ["是"]}]},
        {"questions": [{"kind": "rating", "title": "评分", "options": ["a", "b"]}]},
        {"questions": []},
        {"closes_at": "2020-01-01T00:00:00+08:00"},
        {"audience": {"expression": {"building": "nope"}}},
    ],
)
def test_bad_questionnaires_are_refused(people, tree, api, fields):
    body = {
        "region_id": tree.a.public_id,
        "title": "x",
        "closes_at": (utcnow() + timedelta(days=1)).isoformat(),
        "questions": QUESTIONS,
        **fields,
    }
    response = api(people.staff, "post", "/api/v1/notices/surveys", json=body)
    assert response.status_code == 422, response.json


def test_answers_only_while_open_and_only_by_the_audience(people, tree, api, run_jobs, make_staff):
    later = _survey(api, people.staff, tree.a, opens_at=(utcnow() + timedelta(days=1)).isoformat())
    assert later["status"] == "scheduled"
    run_jobs()
    assert _answer(api, people.own1, later["id"], {"q1": 0, "q2": [0], "q3": 5}).status_code == 404

    survey = _survey(api, people.staff, tree.a, audience={"expression": {"tag": "高龄"}})
    run_jobs()
    # Not in the audience (甲), or outside the community: 404. Staff of another community: 404.
    assert _answer(api, people.own1, survey["id"], {"q1": 0, "q2": [0], "q3": 5}).status_code == 404
    assert api(people.outsider, "get", f"/api/v1/notices/surveys/{survey['id']}").status_code == 404
    assert api(make_staff(tree.b), "get", f"/api/v1/notices/surveys/{survey['id']}/results").status_code == 404
    assert api(people.own1, "get", f"/api/v1/notices/surveys/{survey['id']}/results").status_code == 404
    # An account with no resident profile (staff of B) learns nothing either: 404, not "fill in your profile".
    no_profile = _answer(api, make_staff(tree.b), survey["id"], {"q1": 0, "q2": [0], "q3": 5})
    assert (no_profile.status_code, no_profile.json["code"]) == (404, "survey_not_found")

    everyone = _survey(api, people.staff, tree.a)
    run_jobs()
    with atomic():
        database.session.execute(
            sa.update(Survey)
            .where(Survey.public_id == everyone["id"])
            .values(opens_at=sa.func.now() - timedelta(days=2), closes_at=sa.func.now() - timedelta(days=1))
        )
    closed = _answer(api, people.own1, everyone["id"], {"q1": 0, "q2": [0], "q3": 5})
    assert (closed.status_code, closed.json["code"]) == (409, "survey_not_open")


def test_a_scheduled_survey_is_announced_when_it_opens(people, tree, api, run_jobs):
    survey = _survey(api, people.staff, tree.a, opens_at=(utcnow() + timedelta(hours=1)).isoformat())
    row_key = (
        f"surveys:announce:{database.session.scalar(sa.select(Survey.id).where(Survey.public_id == survey['id']))}"
    )
    from app.outbox import OutboxRow

    with atomic():
        database.session.execute(
            sa.update(Survey).where(Survey.public_id == survey["id"]).values(opens_at=sa.func.now() - timedelta(1))
        )
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.key == row_key).values(run_at=sa.func.now() - timedelta(seconds=1))
        )
    run_jobs()
    shown = api(people.staff, "get", f"/api/v1/notices/surveys/{survey['id']}").json
    assert (shown["status"], shown["audience_count"]) == ("published", 4)
    assert _answer(api, people.own1, survey["id"], {"q1": 0, "q2": [0], "q3": 5}).status_code == 201


# --- races and anonymity (committed data) ---------------------------------------------------------------------------


@pytest.fixture
def committed_people(committed_db, make_staff, make_resident, join):
    from tests.community.fixtures import build_tree

    tree = build_tree()
    staff = make_staff(tree.a)
    users = []
    for i in range(10):
        user, resident = make_resident(f"居民{i}", sequence=f"94{i}")
        join(resident, tree.rooms_a["101" if i % 2 else "201"])
        users.append(user)
    return tree, staff, users


def test_concurrent_answers_by_one_resident_record_one(committed_people, app, api, run_jobs):
    tree, staff, users = committed_people
    survey = _survey(api, staff, tree.a)
    run_jobs()
    user = users[0]

    def attempt():
        try:
            surveys.answer_survey(user, survey["id"], {"q1": 0, "q2": [0], "q3": 5})
            return "answered"
        except SurveyAlreadyAnswered:
            return "refused"

    results = race(app, 8, attempt)
    assert sorted(results) == ["answered"] + ["refused"] * 7
    counts = database.session.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM notices_survey_participants), (SELECT count(*) FROM notices_survey_ballots)"
        )
    ).one()
    assert tuple(counts) == (1, 1)


def test_anonymous_answers_cannot_be_joined_back_by_key_order_or_time(committed_people, app, api, run_jobs):
    tree, staff, users = committed_people
    survey = _survey(api, staff, tree.a, anonymous=True)
    run_jobs()
    # Ten residents answer one after another; each writes their own number in the text question, so the test (and
    # only the test) knows which ballot is whose.
    for number, user in enumerate(users):
        response = _answer(api, user, survey["id"], {"q1": 0, "q2": [0], "q3": 5, "q4": str(number)})
        assert response.status_code == 201, response.json
    answer_order = [str(number) for number in range(len(users))]

    def rows(sql: str) -> list:
        return list(database.session.execute(sa.text(sql)).all())

    # Key: the ballot holds nothing that names a person or a participant row.
    columns = {
        table: {
            name for (name,) in rows(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'")
        }
        for table in ("notices_survey_ballots", "notices_survey_participants")
    }
    assert columns["notices_survey_ballots"] == {"id", "survey_id", "resident_id", "answers"}
    assert columns["notices_survey_participants"] == {
        "id",
        "survey_id",
        "resident_id",
        "answered_by_user_id",
        "answered_on",
    }
    assert rows("SELECT count(*) FROM notices_survey_ballots WHERE resident_id IS NOT NULL") == [(0,)]
    shared = rows("SELECT count(*) FROM notices_survey_ballots b JOIN notices_survey_participants p ON p.id = b.id")
    assert shared == [(0,)]

    # Order: by key, by physical position and by writing transaction, the ballots do not come in answer order.
    by_key = [r[0] for r in rows("SELECT answers->>'q4' FROM notices_survey_ballots ORDER BY id")]
    by_position = [r[0] for r in rows("SELECT answers->>'q4' FROM notices_survey_ballots ORDER BY ctid")]
    assert sorted(by_key) == sorted(answer_order)
    assert by_key != answer_order
    assert by_position != answer_order
    # Every ballot was rewritten by the last answer's transaction: xmin tells nothing about who came when.
    assert rows("SELECT count(DISTINCT xmin::text) FROM notices_survey_ballots") == [(1,)]
    participants_by_key = [
        r[0]
        for r in rows(
            "SELECT r.real_name FROM notices_survey_participants p JOIN accounts_residents r ON r.id = p.resident_id "
            "ORDER BY p.id"
        )
    ]
    assert participants_by_key != [f"居民{number}" for number in range(len(users))]

    # Time: ballots carry no time at all; participants only the business date.
    types = dict(
        rows(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'notices_survey_participants'"
        )
    )
    assert types["answered_on"] == "date"
    assert not {"created_at", "updated_at", "answered_at"} & columns["notices_survey_ballots"]

    # Results still count everything; the CSV has no names, in random key order.
    results = api(staff, "get", f"/api/v1/notices/surveys/{survey['id']}/results").json
    assert (results["responses"], results["questions"][3]["answered"]) == (10, 10)
    export = api(staff, "get", f"/api/v1/notices/surveys/{survey['id']}/results/export")
    lines = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert lines[0][0] == "您家住几楼"
    assert [line[3] for line in lines[1:]] == by_key


def test_concurrent_anonymous_answers_keep_every_ballot(committed_people, app, api, run_jobs):
    tree, staff, users = committed_people
    survey = _survey(api, staff, tree.a, anonymous=True)
    run_jobs()
    queue, lock = iter(users), threading.Lock()

    def attempt():
        with lock:
            user = next(queue)
        surveys.answer_survey(user, survey["id"], {"q1": 1, "q2": [2], "q3": 3})
        return user.id

    assert len(race(app, len(users), attempt)) == len(users)
    counts = database.session.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM notices_survey_participants), (SELECT count(*) FROM notices_survey_ballots)"
        )
    ).one()
    assert tuple(counts) == (10, 10)
