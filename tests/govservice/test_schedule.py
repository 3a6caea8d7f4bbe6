"""When windows open: working-day sessions, evening and weekend sessions, 调休 make-up Saturdays, statutory holidays
and overrides, as the core calendar says."""

from datetime import date, time

import pytest

from app.calendar import set_override
from app.db import atomic
from govservice import schedule
from tests.govservice.fixtures import at, body, build_centre

#: A typical week: Mon–Fri working-day sessions, a Tuesday evening (延时服务), a Saturday morning, and a Sunday
#: "holiday service" session that opens whatever the calendar says.
WEEK = [
    *[
        {
            "weekday": d,
            "starts_at": time(9),
            "ends_at": time(10),
            "slot_minutes": 30,
            "capacity": 3,
            "workday_only": True,
            "label": "上午",
        }
        for d in range(5)
    ],
    {
        "weekday": 1,
        "starts_at": time(18),
        "ends_at": time(19),
        "slot_minutes": 30,
        "capacity": 2,
        "workday_only": False,
        "label": "延时服务",
    },
    {
        "weekday": 5,
        "starts_at": time(10),
        "ends_at": time(11),
        "slot_minutes": 60,
        "capacity": 2,
        "workday_only": False,
        "label": "周六服务",
    },
    {
        "weekday": 6,
        "starts_at": time(14),
        "ends_at": time(15),
        "slot_minutes": 60,
        "capacity": 2,
        "workday_only": False,
        "holiday_service": True,
        "label": "节假日不打烊",
    },
    {
        "weekday": 3,
        "starts_at": time(14),
        "ends_at": time(15),
        "slot_minutes": 60,
        "capacity": 2,
        "workday_only": False,
        "holiday_service": True,
        "label": "节假日不打烊",
    },
]


@pytest.fixture
def week(tree):
    return build_centre(tree.a, sessions=WEEK, latest_days=30)


def labels_on(setup, day: date) -> list[tuple[str, str]]:
    _kinds, slots = schedule.plan(setup.centre, [setup.window.id], day, day)
    return [(slot.label, slot.starts_at.astimezone(at(day, 0).tzinfo).strftime("%H:%M")) for slot in slots]


def test_an_ordinary_week(week):
    assert labels_on(week, date(2026, 11, 24)) == [
        ("上午", "09:00"),
        ("上午", "09:30"),
        ("延时服务", "18:00"),
        ("延时服务", "18:30"),
    ]  # a Tuesday
    assert labels_on(week, date(2026, 11, 28)) == [("周六服务", "10:00")]  # an ordinary Saturday
    assert labels_on(week, date(2026, 11, 29)) == [("节假日不打烊", "14:00")]  # a Sunday


def test_a_makeup_saturday_opens_monday_sessions_and_its_own_weekend_session(week):
    # 2026-02-14 (Saturday) is a 调休 working day for the Spring Festival.
    kind = schedule.kind_of(date(2026, 2, 14))
    assert (kind.is_workday, kind.makeup, kind.holiday) == (True, True, False)
    assert labels_on(week, date(2026, 2, 14)) == [("上午", "09:00"), ("上午", "09:30"), ("周六服务", "10:00")]


def test_the_makeup_weekday_is_the_centres_setting(tree):
    setup = build_centre(
        tree.a,
        sessions=[
            {
                "weekday": 0,
                "starts_at": time(9),
                "ends_at": time(10),
                "slot_minutes": 60,
                "capacity": 1,
                "workday_only": True,
                "label": "周一",
            },
            {
                "weekday": 4,
                "starts_at": time(15),
                "ends_at": time(16),
                "slot_minutes": 60,
                "capacity": 1,
                "workday_only": True,
                "label": "周五",
            },
        ],
        makeup_weekday=4,
    )
    assert labels_on(setup, date(2026, 2, 14)) == [("周五", "15:00")]


def test_a_statutory_holiday_closes_all_but_holiday_service(week):
    # 2026-10-01 is a Thursday in the National Day holiday; 2026-10-03 a Saturday inside it.
    assert schedule.kind_of(date(2026, 10, 1)).holiday
    assert labels_on(week, date(2026, 10, 1)) == [("节假日不打烊", "14:00")]
    assert labels_on(week, date(2026, 10, 3)) == []  # the Saturday session closes: the day is a holiday
    assert labels_on(week, date(2026, 10, 4)) == [("节假日不打烊", "14:00")]  # a Sunday: holiday service opens
    # 2026-10-10 (Saturday) is the make-up working day after it.
    assert labels_on(week, date(2026, 10, 10)) == [("上午", "09:00"), ("上午", "09:30"), ("周六服务", "10:00")]


def test_an_override_closes_a_working_day_and_opens_a_rest_day(week, make_user):
    admin = make_user("管理员", platform_roles=("admin",))
    with atomic():
        set_override(date(2027, 3, 3), is_workday=False, name="临时闭馆", actor=admin)  # a Wednesday
        set_override(date(2027, 3, 6), is_workday=True, name="调休上班", actor=admin)  # a Saturday
    assert labels_on(week, date(2027, 3, 3)) == []
    assert labels_on(week, date(2027, 3, 6)) == [("上午", "09:00"), ("上午", "09:30"), ("周六服务", "10:00")]


def test_availability_and_booking_follow_the_calendar(week, resident, api, freeze):
    freeze(at(date(2026, 9, 28), 8))  # a Monday before the National Day holiday
    item = week.item.public_id
    days = api(None, "get", f"/api/v1/govservice/guides/{item}/availability?from=2026-09-30&to=2026-10-10").json
    by_day = {
        day["day"]: {**day, "slots": [s for s in day["slots"] if s["window"]["number"] == 1]} for day in days["days"]
    }
    assert (by_day["2026-10-01"]["holiday"], by_day["2026-10-01"]["holiday_name"]) == (True, "国庆节")
    assert [s["label"] for s in by_day["2026-10-01"]["slots"]] == ["节假日不打烊"]
    assert by_day["2026-10-10"]["makeup_workday"] is True
    assert {s["label"] for s in by_day["2026-10-10"]["slots"]} == {"上午", "周六服务"}
    assert by_day["2026-09-30"]["slots"][0]["remaining"] == 3

    user, _person = resident
    closed = api(
        user, "post", "/api/v1/govservice/bookings", json=body(week.item, week.window, at(date(2026, 10, 2), 9))
    )
    assert (closed.status_code, closed.json["code"]) == (422, "slot_not_offered")
    opened = api(
        user, "post", "/api/v1/govservice/bookings", json=body(week.item, week.window, at(date(2026, 10, 10), 9))
    )
    assert opened.status_code == 201, opened.json


def test_sessions_are_validated(setup, staff_a, api):
    path = f"/api/v1/govservice/manage/windows/{setup.window.public_id}"
    weekend_workday = {
        "weekday": 5,
        "starts_at": "09:00",
        "ends_at": "12:00",
        "slot_minutes": 30,
        "capacity": 2,
        "workday_only": True,
    }
    refused = api(staff_a, "patch", path, json={"sessions": [weekend_workday]})
    assert refused.status_code == 422
    backwards = {**weekend_workday, "workday_only": False, "starts_at": "12:00", "ends_at": "09:00"}
    assert api(staff_a, "patch", path, json={"sessions": [backwards]}).status_code == 422
    saved = api(staff_a, "patch", path, json={"sessions": [{**weekend_workday, "workday_only": False}]})
    assert saved.status_code == 200, saved.json
    assert saved.json["sessions"][0]["workday_only"] is False
