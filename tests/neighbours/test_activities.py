"""Activities and volunteering: staff create and publish, residents list and read (their community only), sign-up
with a waitlist promoted on cancellation (and told), the deadline, a delegate signing up an elder, check-in and
volunteer minutes, the ranking, reminders, and 30 concurrent sign-ups for 10 places."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.resident_models import Resident
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow
from neighbours import activities as service
from neighbours.activity_models import Activity, ActivitySignup, SignupStatus
from tests.community.fixtures import build_tree, make_delegation
from tests.conftest import race

N = "/api/v1/neighbours"
MANAGE = f"{N}/manage/activities"


def _body(community, **overrides) -> dict:
    starts = utcnow() + timedelta(days=3)
    body = {
        "community_id": community.public_id,
        "title": "健康讲座",
        "description": "社区医生讲解秋冬养生",
        "place": "党群服务中心",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "signup_deadline": (starts - timedelta(hours=12)).isoformat(),
        "capacity": 2,
        "publish": True,
    }
    body.update(overrides)
    return body


@pytest.fixture
def staff_a(tree, make_staff):
    return make_staff(tree.a)


@pytest.fixture
def activity(api, tree, staff_a):
    """``activity(**overrides)`` → a published activity of community A (JSON)."""

    def create(**overrides):
        response = api(staff_a, "post", MANAGE, json=_body(tree.a, **overrides))
        assert response.status_code == 201, response.json
        return response.json

    return create


def _inbox(api, user) -> list[tuple[str, str]]:
    response = api(user, "get", "/api/v1/me/inbox")
    assert response.status_code == 200, response.json
    return [(item["event"], item["title"]) for item in response.json["items"]]


# --- create, publish, list, read -----------------------------------------------------------------------------------


def test_a_draft_is_hidden_until_published_and_other_communities_never_see_it(
    api, db, tree, staff_a, make_staff, neighbour
):
    resident = neighbour(tree.rooms_a["101"])
    outsider = neighbour(tree.rooms_b["101"])
    draft = api(staff_a, "post", MANAGE, json=_body(tree.a, publish=False)).json
    assert (draft["status"], draft["places_left"], draft["community_id"]) == ("draft", 2, tree.a.public_id)
    assert api(resident, "get", f"{N}/activities").json["items"] == []
    assert api(resident, "get", f"{N}/activities/{draft['id']}").status_code == 404

    published = api(staff_a, "post", f"{MANAGE}/{draft['id']}/publish")
    assert published.status_code == 200, published.json
    assert published.json["status"] == "published"
    assert api(staff_a, "post", f"{MANAGE}/{draft['id']}/publish").json["code"] == "activity_not_editable"
    (item,) = api(resident, "get", f"{N}/activities").json["items"]
    assert (item["title"], item["place"], item["my_signups"]) == ("健康讲座", "党群服务中心", [])
    assert item["starts_at"].endswith("+08:00")
    assert api(resident, "get", f"{N}/activities/{draft['id']}").json["id"] == draft["id"]

    # Another community's resident and staff: 404, never the activity.
    assert api(outsider, "get", f"{N}/activities").json["items"] == []
    assert api(outsider, "get", f"{N}/activities/{draft['id']}").status_code == 404
    assert api(outsider, "post", f"{N}/activities/{draft['id']}/signup", json={}).status_code == 404
    staff_b = make_staff(tree.b)
    assert api(staff_b, "get", f"{MANAGE}/{draft['id']}").status_code == 404
    assert api(staff_b, "post", f"{MANAGE}/{draft['id']}/cancel").status_code == 404
    refused = api(staff_b, "post", MANAGE, json=_body(tree.a))
    assert (refused.status_code, refused.json["code"]) == (404, "community_not_found")
    # A grid worker reads but does not manage; a resident does neither.
    grid = make_staff(tree.a, role="grid_worker")
    assert api(grid, "get", f"{MANAGE}/{draft['id']}").status_code == 200
    assert api(grid, "post", MANAGE, json=_body(tree.a)).status_code == 403
    assert api(resident, "post", MANAGE, json=_body(tree.a)).status_code == 404


def test_bad_times_are_a_422_and_write_nothing(api, db, tree, staff_a):
    starts = utcnow() + timedelta(days=1)
    cases = [
        {"ends_at": (starts - timedelta(hours=1)).isoformat(), "starts_at": starts.isoformat()},
        {"signup_deadline": (starts + timedelta(days=5)).isoformat()},
        {"starts_at": (utcnow() - timedelta(hours=2)).isoformat(), "ends_at": utcnow().isoformat()},
    ]
    for overrides in cases:
        response = api(staff_a, "post", MANAGE, json=_body(tree.a, **overrides))
        assert (response.status_code, response.json["code"]) == (422, "activity_invalid"), response.json
    assert api(staff_a, "post", MANAGE, json=_body(tree.a, capacity=0)).json["code"] == "validation_failed"
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 0


def test_upcoming_list_pages_soonest_first_with_a_constant_statement_count(
    api, db, tree, neighbour, activity, count_queries
):
    resident = neighbour(tree.rooms_a["101"])
    made = [
        activity(
            title=f"活动{i}",
            starts_at=(utcnow() + timedelta(days=i + 1)).isoformat(),
            ends_at=(utcnow() + timedelta(days=i + 1, hours=1)).isoformat(),
            signup_deadline=None,
        )
        for i in range(7)
    ]
    for item in made[:4]:
        api(resident, "post", f"{N}/activities/{item['id']}/signup", json={})
    seen, cursor = [], None
    while True:
        url = f"{N}/activities?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api(resident, "get", url).json
        seen += [(item["title"], len(item["my_signups"])) for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [(f"活动{i}", 1 if i < 4 else 0) for i in range(7)]

    counts = []
    for limit in (1, 7):
        with count_queries() as queries:
            assert len(api(resident, "get", f"{N}/activities?limit={limit}").json["items"]) == limit
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- sign-up, waitlist, cancel -------------------------------------------------------------------------------------


def test_full_activity_waitlists_in_order_and_a_cancellation_promotes_the_first_who_is_told(
    api, db, tree, neighbour, activity, run_jobs
):
    item = activity(capacity=2)
    url = f"{N}/activities/{item['id']}/signup"
    a, b, c, d = (neighbour(tree.rooms_a["101"], name) for name in ("甲", "乙", "丙", "丁"))
    results = [api(user, "post", url, json={}) for user in (a, b, c, d)]
    assert [r.status_code for r in results] == [201] * 4
    assert [(r.json["status"], r.json["waitlist_position"]) for r in results] == [
        ("confirmed", None),
        ("confirmed", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    again = api(a, "post", url, json={})
    assert (again.status_code, again.json["code"]) == (409, "activity_already_signed_up")

    cancelled = api(b, "delete", url)
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["status"] == "cancelled"
    read = api(c, "get", f"{N}/activities/{item['id']}").json
    assert (read["confirmed_count"], read["waitlist_count"]) == (2, 1)
    assert [s["status"] for s in read["my_signups"]] == ["confirmed"]
    assert read["my_signups"][0]["promoted_at"] is not None
    assert api(b, "delete", url).json["code"] == "activity_not_signed_up"

    # A waitlisted cancellation frees no place; the one left waiting moves up.
    api(d, "delete", url)
    staff_view = api(b, "get", f"{N}/activities/{item['id']}").json
    assert (staff_view["confirmed_count"], staff_view["waitlist_count"]) == (2, 0)
    # The cancelled one may sign up again and goes to the back of the line.
    back = api(b, "post", url, json={}).json
    assert (back["status"], back["waitlist_position"]) == ("waitlisted", 1)

    run_jobs()
    assert _inbox(api, c) == [("neighbours.activity_promoted", "候补成功：健康讲座")]
    assert _inbox(api, d) == []


def test_sign_up_after_the_deadline_or_on_a_cancelled_activity_is_a_409(api, db, tree, neighbour, activity, staff_a):
    resident = neighbour(tree.rooms_a["101"])
    item = activity()
    with atomic():
        database.session.execute(
            sa.update(Activity)
            .where(Activity.public_id == item["id"])
            .values(signup_deadline=utcnow() - timedelta(minutes=1))
        )
    late = api(resident, "post", f"{N}/activities/{item['id']}/signup", json={})
    assert (late.status_code, late.json["code"]) == (409, "activity_signup_closed")
    assert late.json["message"] == "报名已截止"

    other = activity()
    api(staff_a, "post", f"{MANAGE}/{other['id']}/cancel")
    closed = api(resident, "post", f"{N}/activities/{other['id']}/signup", json={})
    assert (closed.status_code, closed.json["code"]) == (409, "activity_not_open")
    assert database.session.scalar(sa.select(sa.func.count()).select_from(ActivitySignup)) == 0


def test_a_delegate_signs_up_an_elder_with_the_activities_scope_only(
    api, db, tree, neighbour, activity, make_resident, join
):
    daughter = neighbour(tree.rooms_a["101"], "王丽")
    _none, elder = make_resident("王秀兰", sequence="992", account=False)
    join(elder, tree.rooms_a["102"])
    _none, stranger = make_resident("李大爷", sequence="993", account=False)
    join(stranger, tree.rooms_a["201"])
    daughter_resident = database.session.scalar(sa.select(Resident).where(Resident.user_id == daughter.id))
    make_delegation(daughter_resident, elder, ["activities"])
    make_delegation(daughter_resident, stranger, ["bills"])
    item = activity()
    url = f"{N}/activities/{item['id']}/signup"

    signed = api(daughter, "post", url, json={"resident_id": elder.public_id})
    assert signed.status_code == 201, signed.json
    assert (signed.json["name"], signed.json["status"]) == ("王秀兰", "confirmed")
    denied = api(daughter, "post", url, json={"resident_id": stranger.public_id})
    assert (denied.status_code, denied.json["code"]) == (403, "delegation_denied"), denied.json
    mine = api(daughter, "get", f"{N}/activities/{item['id']}").json["my_signups"]
    assert [s["name"] for s in mine] == ["王秀兰"]
    assert api(daughter, "delete", f"{url}?resident_id={elder.public_id}").json["status"] == "cancelled"


# --- check-in, volunteer minutes, ranking --------------------------------------------------------------------------


def test_check_in_and_out_record_volunteer_minutes_seen_by_the_volunteer_and_ranked_for_staff(
    api, db, tree, neighbour, activity, staff_a, make_staff
):
    first = neighbour(tree.rooms_a["101"], "志愿者甲")
    second = neighbour(tree.rooms_a["102"], "志愿者乙")
    cleanup = activity(title="河道清洁", volunteer=True, capacity=5)
    talk = activity(title="讲座", capacity=5)
    signups = {}
    for user in (first, second):
        signups[user.id] = api(user, "post", f"{N}/activities/{cleanup['id']}/signup", json={}).json
    talk_signup = api(first, "post", f"{N}/activities/{talk['id']}/signup", json={}).json
    base = f"{MANAGE}/{cleanup['id']}/signups"

    listed = api(staff_a, "get", base).json["items"]
    assert [s["name"] for s in listed] == ["志愿者甲", "志愿者乙"]
    not_in = api(staff_a, "post", f"{base}/{signups[first.id]['id']}/check-out", json={})
    assert not_in.json["code"] == "activity_not_checked_in"
    for user in (first, second):
        checked = api(staff_a, "post", f"{base}/{signups[user.id]['id']}/check-in")
        assert checked.status_code == 200, checked.json
        assert checked.json["checked_in_at"] is not None
    assert api(staff_a, "post", f"{base}/{signups[first.id]['id']}/check-in").json["code"] == (
        "activity_already_checked_in"
    )
    late = api(first, "delete", f"{N}/activities/{cleanup['id']}/signup")
    assert (late.status_code, late.json["code"]) == (409, "activity_not_editable")
    out = api(staff_a, "post", f"{base}/{signups[first.id]['id']}/check-out", json={"minutes": 150})
    assert (out.status_code, out.json["volunteer_minutes"]) == (200, 150)
    timed = api(staff_a, "post", f"{base}/{signups[second.id]['id']}/check-out", json={}).json
    assert timed["volunteer_minutes"] == 1  # checked in a moment ago: at least one minute
    assert api(staff_a, "post", f"{base}/{signups[first.id]['id']}/check-out", json={}).json["code"] == (
        "activity_already_checked_out"
    )
    # A talk is no volunteer activity: check-in yes, check-out no.
    talk_base = f"{MANAGE}/{talk['id']}/signups/{talk_signup['id']}"
    api(staff_a, "post", f"{talk_base}/check-in")
    assert api(staff_a, "post", f"{talk_base}/check-out", json={}).json["code"] == "activity_not_volunteer"

    hours = api(first, "get", f"{N}/volunteer-hours").json
    assert (hours["total_minutes"], hours["activity_count"]) == (150, 1)
    assert [(h["title"], h["minutes"]) for h in hours["items"]] == [("河道清洁", 150)]

    street_staff = make_staff(tree.street)
    ranking = api(street_staff, "get", f"{N}/manage/volunteer-ranking?region_id={tree.street.public_id}")
    assert ranking.status_code == 200, ranking.json
    assert [(r["rank"], r["name"], r["total_minutes"]) for r in ranking.json] == [
        (1, "志愿者甲", 150),
        (2, "志愿者乙", 1),
    ]
    page2 = api(
        street_staff, "get", f"{N}/manage/volunteer-ranking?region_id={tree.street.public_id}&page=2&page_size=1"
    )
    assert [(r["rank"], r["name"]) for r in page2.json] == [(2, "志愿者乙")]
    assert '"total": 2' in page2.headers["X-Pagination"]
    staff_b = make_staff(tree.b)
    assert api(staff_b, "get", f"{N}/manage/volunteer-ranking?region_id={tree.a.public_id}").status_code == 404
    assert api(staff_b, "get", f"{N}/manage/volunteer-ranking?region_id={tree.b.public_id}").json == []
    assert api(first, "get", f"{N}/manage/volunteer-ranking?region_id={tree.a.public_id}").status_code == 404


# --- reminders -----------------------------------------------------------------------------------------------------


def test_reminders_the_day_before_and_an_hour_before_reach_confirmed_sign_ups_only(
    api, db, tree, neighbour, activity, run_jobs
):
    stays = neighbour(tree.rooms_a["101"], "留下")
    leaves = neighbour(tree.rooms_a["102"], "退出")
    item = activity(capacity=5)
    url = f"{N}/activities/{item['id']}/signup"
    for user in (stays, leaves):
        api(user, "post", url, json={})
    rows = database.session.execute(
        sa.select(OutboxRow.key, OutboxRow.run_at).where(OutboxRow.key.like("activity-reminder:%"))
    ).all()
    assert len(rows) == 4
    starts = database.session.scalar(sa.select(Activity.starts_at).where(Activity.public_id == item["id"]))
    assert sorted({starts - run_at for _key, run_at in rows}) == [timedelta(hours=1), timedelta(days=1)]
    api(leaves, "delete", url)

    with atomic():  # make them due now
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.key.like("activity-reminder:%")).values(run_at=utcnow())
        )
    run_jobs()
    assert _inbox(api, stays) == [("neighbours.activity_reminder", "活动提醒：健康讲座")] * 2
    assert _inbox(api, leaves) == []


# --- race ----------------------------------------------------------------------------------------------------------


def test_thirty_concurrent_sign_ups_for_ten_places_confirm_ten_and_waitlist_twenty_in_order(
    app, committed_db, neighbour, make_staff
):
    world = build_tree()
    staff = make_staff(world.a)
    item = service.create_activity(
        staff,
        {
            "community_id": world.a.public_id,
            "title": "义诊",
            "place": "卫生站",
            "starts_at": utcnow() + timedelta(days=2),
            "ends_at": utcnow() + timedelta(days=2, hours=2),
            "capacity": 10,
            "publish": True,
        },
    )
    users = [neighbour(world.rooms_a["101"]) for _ in range(30)]
    queue = list(users)

    def sign_up():
        return service.sign_up(queue.pop(), item["id"])

    results = race(app, 30, sign_up)
    assert sorted(r["status"] for r in results).count("confirmed") == 10
    waitlisted = sorted(r["waitlist_position"] for r in results if r["status"] == "waitlisted")
    assert waitlisted == list(range(1, 21))
    activity = committed_db.session.scalar(sa.select(Activity).where(Activity.public_id == item["id"]))
    assert (activity.confirmed_count, activity.waitlist_count) == (10, 20)
    rows = committed_db.session.execute(
        sa.select(ActivitySignup.status, ActivitySignup.queue_no)
        .where(ActivitySignup.activity_id == activity.id)
        .order_by(ActivitySignup.queue_no)
    ).all()
    assert [row.queue_no for row in rows] == list(range(1, 31))
    assert [row.status for row in rows] == [SignupStatus.confirmed] * 10 + [SignupStatus.waitlisted] * 20
    # A confirmed cancellation promotes queue number 11, the first in line.
    first_user_id = committed_db.session.scalar(
        sa.select(Resident.user_id)
        .join(ActivitySignup, ActivitySignup.resident_id == Resident.id)
        .where(ActivitySignup.activity_id == activity.id, ActivitySignup.queue_no == 1)
    )
    service.cancel_signup(next(u for u in users if u.id == first_user_id), item["id"])
    promoted = committed_db.session.scalar(
        sa.select(ActivitySignup.status).where(ActivitySignup.activity_id == activity.id, ActivitySignup.queue_no == 11)
    )
    assert promoted is SignupStatus.confirmed


# --- demo ----------------------------------------------------------------------------------------------------------


def test_demo_activity_has_the_tenant_and_the_elder_signed_up(database_url, redis_url, committed_db):
    from app.demo import seed_demo
    from tests.conftest import extra_app

    with extra_app(database_url, redis_url, DEMO_MODE=True) as application:
        assert "neighbours.activities" in seed_demo()
        client = application.test_client()
        token = client.post("/api/v1/auth/dev-login", json={"phone": "+8619900000003"}).json["access_token"]
        (talk,) = client.get(f"{N}/activities", headers={"Authorization": f"Bearer {token}"}).json["items"]
        assert (talk["title"], talk["confirmed_count"], talk["capacity"]) == ("秋冬季老年人健康讲座", 2, 30)
        assert [(s["name"], s["status"]) for s in talk["my_signups"]] == [("王秀兰", "confirmed")]
