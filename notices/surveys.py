"""Survey use cases (调查): staff draft a questionnaire for an audience and publish it; residents (or a delegate with
the ``activities`` scope) answer once between its open and close times; staff read results and export CSV.

Permissions are the notices' ones on the survey's region: ``notices.manage`` to create and publish, ``notices.read``
to read results and export. A resident sees a survey only once it was announced to them (an inbox row for them, on
their own account or a delegate's), as for notices.

Anonymous surveys keep who and what apart (see ``notices.survey_models``); nothing here logs or audits a ballot.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit, outbox, push
from app.accounts.residents import resident_for_user, today
from app.api import keyset_page
from app.auth.scopes import acting_for, authorize, can
from app.community.errors import RegionNotFound
from app.community.models import Region
from app.community.services import get_region
from app.db import atomic, utcnow
from app.extensions import db
from app.push.inbox import received_rows
from notices import audience, markdown
from notices.errors import (
    AnswersInvalid,
    SurveyAlreadyAnswered,
    SurveyInvalid,
    SurveyNotEditable,
    SurveyNotFound,
    SurveyNotOpen,
)
from notices.services import _visible_regions, regions_by_id
from notices.survey_models import QuestionKind, Survey, SurveyBallot, SurveyParticipant, SurveyStatus

log = logging.getLogger(__name__)

SOURCE_KIND = "survey"
EVENT = "surveys.published"
MAX_QUESTIONS = 50
MAX_OPTIONS = 20
TEXT_MAX = 500

push.register_event(
    EVENT,
    "社区调查",
    channels=("inbox",),
    scope="activities",  # a delegate who signs an elder up for activities also answers surveys for them
    title="【调查】{title}",
    body="{summary}",
)


# --- lookups -------------------------------------------------------------------------------------------------------


def _get(public_id: str, *, lock: bool = False) -> Survey:
    query = sa.select(Survey).where(Survey.public_id == public_id)
    if lock:
        query = query.with_for_update()
    survey = db.session.scalar(query)
    if survey is None:
        raise SurveyNotFound()
    return survey


def _staff_survey(user, public_id: str, action: str, *, lock: bool = False) -> Survey:
    survey = _get(public_id, lock=lock)
    authorize(user, action, db.session.get(Region, survey.region_id), not_found=SurveyNotFound)
    return survey


def _received(user, survey: Survey, resident_id: int | None = None):
    """The caller's inbox rows announcing the survey (for ``resident_id`` only, when given)."""
    return received_rows(user.id, SOURCE_KIND, survey.public_id, resident_id=resident_id)


# --- drafting ------------------------------------------------------------------------------------------------------


def _check_questions(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Questions in stored form, ids ``q1``, ``q2`` … in order.

    :raises SurveyInvalid: too many, or a choice question with fewer than two (or duplicate) options.
    """
    if not 0 < len(raw) <= MAX_QUESTIONS:
        raise SurveyInvalid(f"问题数量须为 1–{MAX_QUESTIONS}")
    questions = []
    for number, item in enumerate(raw, start=1):
        kind = QuestionKind(item["kind"])
        question: dict[str, Any] = {
            "id": f"q{number}",
            "kind": kind.value,
            "title": item["title"].strip(),
            "required": bool(item.get("required", True)),
        }
        options = [option.strip() for option in item.get("options") or []]
        if kind in (QuestionKind.single, QuestionKind.multiple):
            if not 2 <= len(options) <= MAX_OPTIONS or len(set(options)) != len(options) or not all(options):
                raise SurveyInvalid(
                    f"选择题须有 2–{MAX_OPTIONS} 个不重复的选项", details={"question": number, "options": options}
                )
            question["options"] = options
        elif options:
            raise SurveyInvalid("只有选择题可以设置选项", details={"question": number})
        questions.append(question)
    return questions


def create_survey(staff, data: dict[str, Any]) -> Survey:
    """A draft survey at a region the caller manages notices for.

    :raises RegionNotFound: no such region, or outside the caller's scopes.
    :raises AudienceInvalid: a malformed audience, or a place outside the region.
    :raises SurveyInvalid: bad questions, or a close time not after the open time and now.
    """
    with atomic():
        region = get_region(data["region_id"])
        authorize(staff, "notices.manage", region, not_found=RegionNotFound)
        opens_at, closes_at = data.get("opens_at") or utcnow(), data["closes_at"]
        if closes_at <= opens_at or closes_at <= utcnow():
            raise SurveyInvalid("截止时间须晚于开始时间和当前时间", details={"closes_at": closes_at.isoformat()})
        survey = Survey(
            region_id=region.id,
            title=data["title"].strip(),
            description=data.get("description") or "",
            anonymous=data.get("anonymous", False),
            audience=audience.normalize(region, data.get("audience")),
            questions=_check_questions(data["questions"]),
            opens_at=opens_at,
            closes_at=closes_at,
            created_by_user_id=staff.id,
        )
        db.session.add(survey)
        db.session.flush()
        audit.record(
            "survey.create",
            actor=staff,
            target=("survey", survey.public_id),
            after={"title": survey.title, "anonymous": survey.anonymous},
        )
        log.info("survey %s drafted at region %s by user %s", survey.id, region.id, staff.id)
        return survey


# --- publishing ----------------------------------------------------------------------------------------------------


def _announce(survey: Survey) -> None:
    """Announce to the audience (one set-based send; the inbox rows are who may answer)."""
    receipt = push.send(
        EVENT,
        audience.resident_ids(survey.region_id, survey.audience),
        {"title": survey.title, "summary": markdown.summary(survey.description or survey.title)},
        source=(SOURCE_KIND, survey.public_id),
        key=f"survey:{survey.id}",
    )
    survey.status, survey.delivery_id, survey.audience_count = (
        SurveyStatus.published,
        receipt.delivery_id,
        receipt.audience,
    )
    db.session.flush()
    log.info("survey %s announced to %s residents", survey.id, receipt.audience)


def publish_survey(staff, public_id: str) -> Survey:
    """Publish a draft: announced now if it is open, else when it opens (an outbox row due then).

    :raises SurveyNotEditable: it is not a draft.
    :raises SurveyInvalid: it has already closed.
    """
    with atomic():
        survey = _staff_survey(staff, public_id, "notices.manage", lock=True)
        if survey.status is not SurveyStatus.draft:
            raise SurveyNotEditable(details={"status": survey.status.value})
        now = utcnow()
        if survey.closes_at <= now:
            raise SurveyInvalid("调查已过截止时间", details={"closes_at": survey.closes_at.isoformat()})
        survey.published_at = now
        if survey.opens_at <= now:
            _announce(survey)
        else:
            survey.status = SurveyStatus.scheduled
            db.session.flush()
            outbox.enqueue(announce_due_survey, survey.id, run_at=survey.opens_at, key=f"surveys:announce:{survey.id}")
        audit.record(
            "survey.publish", actor=staff, target=("survey", survey.public_id), after={"status": survey.status.value}
        )
        return survey


@outbox.job(queue="default", timeout=120)
def announce_due_survey(survey_id: int) -> None:
    """Announce a scheduled survey when it opens; a second run does nothing."""
    survey = db.session.scalar(sa.select(Survey).where(Survey.id == survey_id).with_for_update())
    if survey is None or survey.status is not SurveyStatus.scheduled:
        return
    if survey.opens_at > utcnow():
        log.warning("survey %s: announce job ran before %s, skipped", survey.id, survey.opens_at)
        return
    _announce(survey)


# --- answering -----------------------------------------------------------------------------------------------------


def _check_answers(survey: Survey, raw: dict[str, Any]) -> dict[str, Any]:
    """Answers in stored form: option indexes, ratings 1–5, trimmed texts; optional questions may be left out.

    :raises AnswersInvalid: an unknown question, a required one unanswered, or a value that does not fit.
    """
    questions = {question["id"]: question for question in survey.questions}
    errors: dict[str, str] = {}
    unknown = sorted(set(raw) - set(questions))
    for qid in unknown:
        errors[qid] = "没有这个问题"
    answers: dict[str, Any] = {}
    for qid, question in questions.items():
        value = raw.get(qid)
        if value is None or value == [] or (isinstance(value, str) and not value.strip()):
            if question["required"]:
                errors[qid] = "必答题"
            continue
        kind = QuestionKind(question["kind"])
        count = len(question.get("options") or ())
        if kind is QuestionKind.single:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
                errors[qid] = f"须为选项序号 0–{count - 1}"
                continue
        elif kind is QuestionKind.multiple:
            if (
                not isinstance(value, list)
                or any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < count for v in value)
                or len(set(value)) != len(value)
            ):
                errors[qid] = f"须为不重复的选项序号列表（0–{count - 1}）"
                continue
            value = sorted(value)
        elif kind is QuestionKind.rating:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                errors[qid] = "评分须为 1–5 的整数"
                continue
        else:
            if not isinstance(value, str) or len(value.strip()) > TEXT_MAX:
                errors[qid] = f"须为不超过 {TEXT_MAX} 字的文字"
                continue
            value = value.strip()
        answers[qid] = value
    if errors:
        raise AnswersInvalid(details={"answers": errors})
    return answers


#: One statement: take every ballot of the survey out and put them back with the new one, in random order and under
#: new random keys. Physical order, keys and the writing transaction then say nothing about which ballot is newest.
_SHUFFLE_IN = sa.text(
    """
WITH old AS (
    DELETE FROM notices_survey_ballots WHERE survey_id = :survey_id RETURNING answers
), ballots AS (
    SELECT answers FROM old UNION ALL SELECT CAST(:answers AS jsonb)
)
INSERT INTO notices_survey_ballots (id, survey_id, answers)
SELECT gen_random_uuid(), :survey_id, answers FROM ballots ORDER BY random()
"""
).bindparams(sa.bindparam("answers", type_=JSONB))


def _store_anonymous(survey: Survey, answers: dict[str, Any]) -> None:
    # Answers to one anonymous survey queue on its row (FOR NO KEY UPDATE does not block the participants'
    # foreign-key checks), so each rewrite sees every earlier ballot.
    db.session.execute(sa.select(Survey.id).where(Survey.id == survey.id).with_for_update(key_share=True))
    db.session.execute(_SHUFFLE_IN, {"survey_id": survey.id, "answers": answers})


def answer_survey(
    user, public_id: str, raw_answers: dict[str, Any], *, subject_id: str | None = None
) -> dict[str, Any]:
    """Answer a survey once, for oneself or (``subject_id``) for a resident who delegated ``activities``.

    :raises SurveyNotFound: it was not announced to the resident answered for (through the caller's inbox).
    :raises SurveyNotOpen: before it opens or after it closes.
    :raises SurveyAlreadyAnswered: that resident has answered already (the unique constraint decides a race).
    :raises AnswersInvalid: see ``_check_answers``.
    """
    with atomic():
        survey = _get(public_id)
        # A delegate answers for the elder only through acting_for (scope ``activities``, audited).
        resident = resident_for_user(user) if subject_id is None else acting_for(user, subject_id, "activities")
        # An account with no resident profile was announced nothing: 404 like any outsider, not "fill in a profile".
        if (
            resident is None
            or survey.status is not SurveyStatus.published
            or not db.session.scalar(sa.select(sa.exists().where(_received(user, survey, resident.id))))
        ):
            raise SurveyNotFound()
        now = utcnow()
        if not survey.opens_at <= now < survey.closes_at:
            raise SurveyNotOpen(
                details={"opens_at": survey.opens_at.isoformat(), "closes_at": survey.closes_at.isoformat()}
            )
        answers = _check_answers(survey, raw_answers)
        taken = db.session.execute(
            pg_insert(SurveyParticipant)
            .values(survey_id=survey.id, resident_id=resident.id, answered_by_user_id=user.id, answered_on=today())
            .on_conflict_do_nothing(index_elements=["survey_id", "resident_id"])
            .returning(SurveyParticipant.id)
        ).scalar()
        if taken is None:
            raise SurveyAlreadyAnswered()
        if survey.anonymous:
            _store_anonymous(survey, answers)
        else:
            db.session.add(SurveyBallot(survey_id=survey.id, resident_id=resident.id, answers=answers))
            db.session.flush()
        log.info("survey %s answered by user %s", survey.id, user.id)
        return {"survey_id": survey.public_id, "answered": True, "anonymous": survey.anonymous}


# --- reading -------------------------------------------------------------------------------------------------------


def survey_view(
    survey: Survey, *, staff: bool, answered: bool | None = None, region: Region | None = None
) -> dict[str, Any]:
    region = region or db.session.get(Region, survey.region_id)
    now = utcnow()
    view: dict[str, Any] = {
        "id": survey.public_id,
        "region": {"id": region.public_id, "name": region.name, "kind": region.kind.value},
        "title": survey.title,
        "description": survey.description,
        "description_html": markdown.render(survey.description),
        "anonymous": survey.anonymous,
        "status": survey.status.value,
        "open": survey.status is SurveyStatus.published and survey.opens_at <= now < survey.closes_at,
        "questions": survey.questions,
        "opens_at": survey.opens_at,
        "closes_at": survey.closes_at,
        "published_at": survey.published_at,
        "created_at": survey.created_at,
    }
    if staff:
        view["audience"] = {**survey.audience, "summary": audience.describe(survey.audience)}
        view["audience_count"] = survey.audience_count
    if answered is not None:
        view["answered"] = answered
    return view


def open_survey(user, public_id: str) -> dict[str, Any]:
    """Staff over its region see any survey; a resident or delegate sees it once it was announced to them.

    :raises SurveyNotFound: anyone else.
    """
    with atomic():
        survey = _get(public_id)
        if can(user, "notices.read", db.session.get(Region, survey.region_id)):
            return survey_view(survey, staff=True)
        if survey.status is not SurveyStatus.published or not db.session.scalar(
            sa.select(sa.exists().where(_received(user, survey)))
        ):
            raise SurveyNotFound()
        from app.accounts.residents import resident_for_user

        own = resident_for_user(user)
        answered = own is not None and bool(
            db.session.scalar(
                sa.select(
                    sa.exists().where(SurveyParticipant.survey_id == survey.id, SurveyParticipant.resident_id == own.id)
                )
            )
        )
        return survey_view(survey, staff=False, answered=answered)


def list_surveys(staff, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Surveys posted at regions under the caller's roles, newest first (cursor pages)."""
    with atomic():
        query = sa.select(Survey)
        visible = _visible_regions(staff, "notices.read")
        if visible is not None:
            query = query.where(Survey.region_id.in_(visible))
        page = keyset_page(db.session, query, [Survey.created_at, Survey.public_id], cursor=cursor, limit=limit)
        regions = regions_by_id({survey.region_id for survey in page["items"]})
        page["items"] = [survey_view(survey, staff=True, region=regions[survey.region_id]) for survey in page["items"]]
        return page


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def survey_results(staff, public_id: str) -> dict[str, Any]:
    """Per question: answers, and per option (or rating) the count and percentage of those who answered it; the
    response rate against the audience announced to. Three statements whatever the number of ballots."""
    with atomic():
        survey = _staff_survey(staff, public_id, "notices.read")
        responses = db.session.scalar(sa.select(sa.func.count()).where(SurveyParticipant.survey_id == survey.id))
        # Counted in SQL, never by loading ballots: (question, value) pairs for choices and ratings (a multiple
        # choice counts once per option chosen; texts are left out), then per question the ballots that answered it.
        entry = sa.func.jsonb_each(SurveyBallot.answers).table_valued("key", "value").render_derived()
        element = (
            sa.func.jsonb_array_elements(
                sa.case(
                    (sa.func.jsonb_typeof(entry.c.value) == "array", entry.c.value),
                    else_=sa.func.jsonb_build_array(entry.c.value),
                )
            )
            .table_valued("value")
            .render_derived(name="element")
        )
        rows = db.session.execute(
            sa.select(entry.c.key, sa.cast(element.c.value, sa.Text), sa.func.count())
            .select_from(SurveyBallot)
            .join(entry, sa.true())
            .join(element, sa.true())
            .where(SurveyBallot.survey_id == survey.id, sa.func.jsonb_typeof(entry.c.value) != "string")
            .group_by(entry.c.key, sa.cast(element.c.value, sa.Text))
        ).all()
        answered = dict(
            db.session.execute(
                sa.select(entry.c.key, sa.func.count())
                .select_from(SurveyBallot)
                .join(entry, sa.true())
                .where(SurveyBallot.survey_id == survey.id)
                .group_by(entry.c.key)
            ).all()
        )
        counts: dict[str, dict[str, int]] = {}
        for qid, value, count in rows:
            counts.setdefault(qid, {})[value] = count
        questions = []
        for question in survey.questions:
            qid, kind = question["id"], QuestionKind(question["kind"])
            total = answered.get(qid, 0)
            item: dict[str, Any] = {
                "id": qid,
                "kind": kind.value,
                "title": question["title"],
                "required": question["required"],
                "answered": total,
            }
            mine = counts.get(qid, {})
            if kind in (QuestionKind.single, QuestionKind.multiple):
                item["options"] = [
                    {
                        "option": text,
                        "count": mine.get(str(index), 0),
                        "percent": _percent(mine.get(str(index), 0), total),
                    }
                    for index, text in enumerate(question["options"])
                ]
            elif kind is QuestionKind.rating:
                item["options"] = [
                    {
                        "option": str(score),
                        "count": mine.get(str(score), 0),
                        "percent": _percent(mine.get(str(score), 0), total),
                    }
                    for score in range(1, 6)
                ]
                item["average"] = (
                    round(sum(score * mine.get(str(score), 0) for score in range(1, 6)) / total, 2) if total else None
                )
            questions.append(item)
        audience_count = survey.audience_count or 0
        return {
            "survey_id": survey.public_id,
            "anonymous": survey.anonymous,
            "audience": audience_count,
            "responses": responses,
            "response_rate": _percent(responses, audience_count),
            "questions": questions,
        }


def export_results(staff, public_id: str) -> tuple[str, str]:
    """Every ballot as a CSV row (question titles as columns; anonymous ballots in their random key order, with no
    name). The export is audited.

    :return: ``(filename, text)``
    """
    with atomic():
        survey = _staff_survey(staff, public_id, "notices.read")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        header = [question["title"] for question in survey.questions]
        query = sa.select(SurveyBallot.answers).where(SurveyBallot.survey_id == survey.id).order_by(SurveyBallot.id)
        if not survey.anonymous:
            from app.accounts.resident_models import Resident

            query = (
                sa.select(SurveyBallot.answers, Resident.real_name)
                .join(Resident, Resident.id == SurveyBallot.resident_id, isouter=True)
                .where(SurveyBallot.survey_id == survey.id)
                .order_by(Resident.real_name, SurveyBallot.id)
            )
            header = ["姓名", *header]
        writer.writerow(header)
        rows = 0
        for row in db.session.execute(query):
            answers = row[0]
            cells = [_cell(question, answers.get(question["id"])) for question in survey.questions]
            writer.writerow(cells if survey.anonymous else [row[1] or "", *cells])
            rows += 1
        audit.record("survey.export", actor=staff, target=("survey", survey.public_id), after={"rows": rows})
        return f"survey-{survey.public_id}-results.csv", "\ufeff" + buffer.getvalue()


def _cell(question: dict[str, Any], value: Any) -> str:
    if value is None:
        return ""
    kind = QuestionKind(question["kind"])
    if kind is QuestionKind.single:
        return question["options"][value]
    if kind is QuestionKind.multiple:
        return "；".join(question["options"][index] for index in value)
    return str(value)
