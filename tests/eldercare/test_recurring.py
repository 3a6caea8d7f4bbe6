"""Recurring orders: a lunch on every working day across October 2026 (国庆 off, the 调休 Saturday 10 October on)
with a hospital stay paused and resumed, the daily job creating two weeks ahead exactly once, weekly baths, and who
may start or change a series."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.extensions import db as database
from eldercare.meal_models import Series, SeriesOccurrence
from eldercare.models import CareCategory, CareOrder, CareOrderStatus
from eldercare.recurring_jobs import create_series_occurrences
from tests.eldercare import test_meals
from tests.eldercare.fixtures import E, add_offer, add_provider, add_role
from tests.eldercare.test_meals import at, fund, issue

#: Fixtures shared with test_meals (a fixture is found by its name in the test's module).
clock, meal = test_meals.clock, test_meals.meal


def days(care, *, status=None) -> list[str]:
    query = (
        sa.select(SeriesOccurrence.day)
        .join(CareOrder, CareOrder.id == SeriesOccurrence.order_id)
        .where(CareOrder.resident_id == care.elder.id)
        .order_by(SeriesOccurrence.day)
    )
    if status is not None:
        query = query.where(CareOrder.status == status)
    return [d.strftime("%m-%d") for d in database.session.scalars(query)]


def start_lunches(api, meal, **extra):
    body = {
        "offer_id": meal.lunch.public_id,
        "elder_id": meal.care.elder.public_id,
        "pattern": "workdays",
        "starts_on": "2026-09-28",
        "ends_on": "2026-10-31",
        **extra,
    }
    return api(meal.care.daughter_user, "post", f"{E}/series", json=body)


def test_workday_lunches_across_october_follow_the_calendar_and_a_hospital_stay(api, meal, clock, run_jobs):
    care = meal.care
    fund(issue(care), 100_000, care.daughter_user)

    clock(at(date(2026, 9, 28), 8))  # Monday, before the 10:00 cut-off
    started = start_lunches(api, meal)
    assert started.status_code == 201, started.json
    series_id = started.json["id"]
    # Two weeks ahead, today included: 1–7 October are 国庆 holidays, Saturday 10 October is a make-up working day.
    assert days(care) == ["09-28", "09-29", "09-30", "10-08", "10-09", "10-10", "10-12"]
    assert [u["day"] for u in started.json["upcoming"]][:3] == ["2026-09-28", "2026-09-29", "2026-09-30"]
    first = database.session.scalar(
        sa.select(CareOrder).join(SeriesOccurrence, SeriesOccurrence.order_id == CareOrder.id).order_by(CareOrder.id)
    )
    assert first.scheduled_at == at(date(2026, 9, 28), 11, 30)
    assert first.category is CareCategory.meal
    assert first.status is CareOrderStatus.submitted  # its copay came from the care balance

    clock(at(date(2026, 9, 29), 9))
    paused = api(
        care.daughter_user,
        "post",
        f"{E}/series/{series_id}/pause",
        json={"from": "2026-10-12", "to": "2026-10-14", "reason": "住院"},
    )
    assert paused.status_code == 200, paused.json
    assert paused.json["pauses"] == [{"from": "2026-10-12", "to": "2026-10-14", "reason": "住院"}]
    assert days(care, status=CareOrderStatus.cancelled) == ["10-12"]  # created already: cancelled

    clock(at(date(2026, 10, 9), 0, 10))
    create_series_occurrences("2026-10-09T00:10:00+08:00")
    run_jobs()
    assert days(care, status=CareOrderStatus.submitted) == [
        "09-28", "09-29", "09-30", "10-08", "10-09", "10-10",
        "10-15", "10-16", "10-19", "10-20", "10-21", "10-22", "10-23",
    ]  # fmt: skip

    before = database.session.scalar(sa.select(sa.func.count()).select_from(SeriesOccurrence))
    create_series_occurrences("2026-10-09T00:10:00+08:00")  # the same slot delivered again
    run_jobs()
    create_series_occurrences("2026-10-10T00:10:00+08:00")  # the next day: nothing new within the range yet
    run_jobs()
    assert database.session.scalar(sa.select(sa.func.count()).select_from(SeriesOccurrence)) == before

    clock(at(date(2026, 10, 20), 12))
    api(care.daughter_user, "post", f"{E}/series/{series_id}/pause", json={"from": "2026-10-26"})  # open-ended
    clock(at(date(2026, 10, 21), 12))
    resumed = api(care.daughter_user, "post", f"{E}/series/{series_id}/resume", json={"on": "2026-10-28"})
    assert resumed.status_code == 200, resumed.json
    assert resumed.json["pauses"][-1] == {"from": "2026-10-26", "to": "2026-10-27", "reason": None}
    assert days(care, status=CareOrderStatus.submitted) == [
        "09-28",
        "09-29",
        "09-30",
        "10-08",
        "10-09",
        "10-10",
        "10-15",
        "10-16",
        "10-19",
        "10-20",
        "10-21",
        "10-22",
        "10-23",
        "10-28",
        "10-29",
        "10-30",
    ]  # fmt: skip  (31 October is a Saturday and not a working day; the series ends that day)

    ended = api(care.daughter_user, "post", f"{E}/series/{series_id}/end", json={"reason": "搬去女儿家住"})
    assert ended.json["status"] == "ended"
    assert days(care, status=CareOrderStatus.cancelled) == ["10-12", "10-22", "10-23", "10-28", "10-29", "10-30"]
    create_series_occurrences("2026-10-22T00:10:00+08:00")
    run_jobs()
    assert days(care, status=CareOrderStatus.submitted)[-1] == "10-21"  # the 21st has started: kept


def test_each_occurrence_is_priced_with_the_subsidy_of_its_own_month(api, meal, clock):
    care = meal.care  # 10 % copay, 5000 fen a month: three lunches fully at 1350, the fourth gets 950
    fund(issue(care), 100_000, care.daughter_user)
    clock(at(date(2026, 9, 28), 8))
    assert start_lunches(api, meal).status_code == 201
    rows = database.session.execute(
        sa.select(SeriesOccurrence.day, CareOrder.subsidy_fen, CareOrder.copay_fen)
        .join(CareOrder, CareOrder.id == SeriesOccurrence.order_id)
        .order_by(SeriesOccurrence.day)
    ).all()
    assert [(d.strftime("%m-%d"), s, c) for d, s, c in rows] == [
        ("09-28", 1350, 150),
        ("09-29", 1350, 150),
        ("09-30", 1350, 150),  # September's quota: 4050 of 5000 used
        ("10-08", 1350, 150),  # October starts afresh
        ("10-09", 1350, 150),
        ("10-10", 1350, 150),
        ("10-12", 950, 550),  # 5000 − 3 × 1350 left
    ]


def test_a_weekly_bath_every_saturday(api, care, clock):
    fund(issue(care), 100_000, care.daughter_user)
    clock(at(date(2026, 9, 28), 8))
    started = api(
        care.daughter_user,
        "post",
        f"{E}/series",
        json={
            "offer_id": care.offer.public_id,
            "elder_id": care.elder.public_id,
            "pattern": "weekly",
            "weekdays": [6],
            "time_of_day": "15:00",
        },
    )
    assert started.status_code == 201, started.json
    assert days(care) == ["10-03", "10-10"]  # Saturdays, holiday or not: the pattern is the weekday
    assert [u["day"] for u in started.json["upcoming"]] == ["2026-10-03", "2026-10-10"]
    assert started.json["upcoming"][0]["status"] == "submitted"


def test_weekly_without_weekdays_and_a_start_in_the_past_are_refused(api, care, clock):
    clock(at(date(2026, 9, 28), 8))
    body = {"offer_id": care.offer.public_id, "elder_id": care.elder.public_id, "pattern": "weekly"}
    refused = api(care.daughter_user, "post", f"{E}/series", json=body)
    assert refused.status_code == 422
    assert "weekdays" in refused.json["details"]["fields"]
    past = api(care.daughter_user, "post", f"{E}/series", json={**body, "weekdays": [6], "starts_on": "2026-09-01"})
    assert past.status_code == 422
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Series)) == 0


def test_who_may_start_read_and_change_a_series(api, meal, clock, make_resident, make_user):
    from tests.eldercare.fixtures import delegate

    care = meal.care
    clock(at(date(2026, 9, 28), 8))
    son_user, son = make_resident("王强", born=date(1970, 2, 2), sequence="985")
    delegate(son, care.elder, scopes=("bills",))
    refused = api(
        son_user,
        "post",
        f"{E}/series",
        json={"offer_id": meal.lunch.public_id, "elder_id": care.elder.public_id, "pattern": "workdays"},
    )
    assert refused.status_code == 403
    assert refused.json["code"] == "delegation_denied"

    series_id = start_lunches(api, meal).json["id"]
    other_admin = make_user("别家管理员")
    other = add_provider(other_admin, [care.tree.a], name="福寿护理站")
    add_offer(other, [care.tree.a])
    other_caregiver = make_user("别家护理员")
    add_role(other, other_caregiver, "caregiver")
    assert api(other_admin, "get", f"{E}/series/{series_id}").status_code == 404
    assert api(other_caregiver, "get", f"{E}/series/{series_id}").status_code == 404
    # A son whose delegation lacks eldercare: refused as the list refuses him (403 delegation_denied, issue #12).
    assert api(son_user, "get", f"{E}/series/{series_id}").json["code"] == "delegation_denied"
    assert api(son_user, "post", f"{E}/series/{series_id}/end", json={}).status_code == 403
    assert api(care.caregiver, "get", f"{E}/series/{series_id}").status_code == 404  # caregivers see their visits
    assert api(care.admin, "get", f"{E}/series/{series_id}").status_code == 200
    assert api(care.admin, "post", f"{E}/series/{series_id}/end", json={}).status_code == 404  # the family decides

    listed = api(care.daughter_user, "get", f"{E}/series", query_string={"elder_id": care.elder.public_id})
    assert [s["id"] for s in listed.json["items"]] == [series_id]
    assert api(son_user, "get", f"{E}/series", query_string={"elder_id": care.elder.public_id}).status_code == 403


def test_the_job_racing_itself_creates_each_day_once(app, committed_db, make_user, make_resident, join, clock):
    """Ten deliveries of the day's job for one series at once: the series row is locked ``FOR UPDATE`` and each
    (series, day) is inserted with ``ON CONFLICT DO NOTHING`` before its order is placed, so the ten new days are
    created once between them. Without both guards two deliveries place the same day twice: the unique
    (series_id, day) then fails one of them, which ``race`` re-raises."""
    from eldercare import recurring
    from tests.conftest import race
    from tests.eldercare.fixtures import build_care, build_tree

    care = build_care(make_user, make_resident, join, build_tree())
    lunch = add_offer(care.provider, [care.tree.a], name="午餐送餐", category=CareCategory.meal, price_fen=1500)
    fund(issue(care), 100_000, care.daughter_user)
    clock(at(date(2026, 9, 28), 8))
    body = {"offer_id": lunch.public_id, "elder_id": care.elder.public_id, "pattern": "workdays"}
    series = recurring.create_series(care.daughter_user, {**body, "starts_on": date(2026, 10, 12)})
    assert days(care) == ["10-12"]

    clock(at(date(2026, 10, 9), 0, 10))
    created = race(app, 10, lambda: len(recurring.extend_one(series.id, date(2026, 10, 9))))

    assert sum(created) == 9
    assert days(care) == ["10-12", "10-13", "10-14", "10-15", "10-16", "10-19", "10-20", "10-21", "10-22", "10-23"]


def test_an_elders_series_list_pages_with_a_constant_number_of_queries(api, meal, clock, count_queries):
    care = meal.care
    clock(at(date(2026, 9, 28), 8))
    made = [
        start_lunches(api, meal, starts_on=f"2026-11-{day:02d}", ends_on=f"2026-11-{day:02d}").json["id"]
        for day in (2, 3, 4)
    ]
    query = {"elder_id": care.elder.public_id}
    with count_queries() as one:
        first = api(care.daughter_user, "get", f"{E}/series", query_string={**query, "limit": 1})
    with count_queries() as three:
        every = api(care.daughter_user, "get", f"{E}/series", query_string={**query, "limit": 3})
    assert [s["id"] for s in first.json["items"]] == made[-1:]
    assert [s["id"] for s in every.json["items"]] == made[::-1]
    assert len(three) == len(one)
