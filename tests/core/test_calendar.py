"""Working-day calendar: statutory data, staff overrides, the Mon–Fri fallback, day arithmetic and the endpoints."""

import logging
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
import sqlalchemy as sa

from app import calendar
from app.audit import AuditEntry
from app.calendar import DaySource, add_workdays, is_workday, workdays_between
from app.extensions import db as database

DAYS_URL = "/api/v1/calendar/days"
COVERAGE_URL = "/api/v1/calendar/coverage"


def override_url(day: str) -> str:
    return f"/api/v1/calendar/overrides/{day}"


@pytest.fixture
def admin(make_user):
    return make_user("日历管理员", platform_roles=("admin",))


@pytest.fixture
def resident(make_user):
    return make_user("居民")


@pytest.fixture
def fresh_calendar():
    """No overrides read yet in this app context, and the fallback warning not yet given in this process."""
    calendar.forget_cache()
    saved = dict(calendar._last_warned)
    calendar._last_warned.clear()
    yield
    calendar._last_warned.clear()
    calendar._last_warned.update(saved)
    calendar.forget_cache()


def each_day(start: date, end: date):
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


# --- statutory data ---------------------------------------------------------------------------------------------


def test_is_workday_matches_chinese_calendar_every_day_of_2024_to_2026_in_three_queries(
    db, fresh_calendar, count_queries
):
    days = list(each_day(date(2024, 1, 1), date(2026, 12, 31)))
    assert len(days) == 1096
    with count_queries() as queries:
        answers = {day: is_workday(day) for day in days}
    assert answers == {day: chinese_calendar.is_workday(day) for day in days}
    assert len(queries) <= 3  # one per year, then the app context's cache answers


def test_a_range_of_three_years_is_one_query(db, fresh_calendar, count_queries):
    with count_queries() as queries:
        described = calendar.days_in_range(date(2024, 1, 1), date(2026, 12, 31))
    assert len(queries) == 1
    assert len(described) == 1096
    assert {info.source for info in described} == {DaySource.statutory}
    assert [info.day for info in described if info.is_workday] == calendar.workdays_in_range(
        date(2024, 1, 1), date(2026, 12, 31)
    )


def test_statutory_days_carry_the_holiday_name_in_chinese(db, fresh_calendar):
    assert calendar.describe_day(date(2026, 10, 1)) == calendar.Day(
        date(2026, 10, 1), False, DaySource.statutory, "国庆节"
    )
    # A 调休 make-up Saturday is a working day named after the holiday it makes up for.
    assert calendar.describe_day(date(2026, 10, 10)) == calendar.Day(
        date(2026, 10, 10), True, DaySource.statutory, "国庆节"
    )
    assert calendar.describe_day(date(2026, 10, 12)).name is None


# --- day arithmetic ---------------------------------------------------------------------------------------------


def test_add_workdays_skips_national_day_2026_and_counts_the_make_up_saturday(db, fresh_calendar):
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # Saturday, 调休 for 国庆
    before_holiday = date(2026, 9, 30)  # Wednesday, the last working day before 1–7 October
    assert add_workdays(before_holiday, 1) == date(2026, 10, 8)
    assert add_workdays(before_holiday, 2) == date(2026, 10, 9)
    assert add_workdays(before_holiday, 3) == date(2026, 10, 10)
    assert add_workdays(before_holiday, 4) == date(2026, 10, 12)
    assert add_workdays(date(2026, 10, 8), -1) == before_holiday
    # The Sunday before Mid-autumn is a make-up working day too; Mid-autumn itself (25–27 September) is off.
    assert add_workdays(date(2026, 9, 19), 1) == date(2026, 9, 20)
    assert add_workdays(date(2026, 9, 24), 1) == date(2026, 9, 28)


def test_add_zero_workdays_rolls_forward_to_a_working_day(db, fresh_calendar):
    assert add_workdays(date(2026, 10, 3), 0) == date(2026, 10, 8)
    assert add_workdays(date(2026, 10, 8), 0) == date(2026, 10, 8)


def test_workdays_between_counts_the_end_day_not_the_start_day(db, fresh_calendar):
    friday, monday = date(2026, 11, 20), date(2026, 11, 23)
    assert workdays_between(friday, monday) == 1
    assert workdays_between(monday, monday) == 0
    assert workdays_between(monday, friday) == -1  # backwards: [Friday, Monday) holds one working day
    assert workdays_between(date(2026, 9, 30), date(2026, 10, 12)) == 4
    assert workdays_between(date(2026, 10, 1), date(2026, 10, 7)) == 0


@pytest.mark.parametrize("start", [date(2026, 9, 30), date(2026, 10, 3), date(2026, 12, 31), date(2026, 2, 14)])
def test_workdays_between_undoes_add_workdays(db, fresh_calendar, start):
    for n in [*range(-70, 0), *range(1, 71)]:
        assert workdays_between(start, add_workdays(start, n)) == n, n


def test_a_60_workday_deadline_into_next_year_costs_one_query(db, fresh_calendar, count_queries):
    with count_queries() as queries:
        deadline = add_workdays(date(2026, 11, 23), 60)
    assert len(queries) == 1
    assert deadline.year == 2027


def test_datetimes_are_refused_because_their_business_day_depends_on_the_time_zone():
    with pytest.raises(TypeError, match="date"):
        is_workday(datetime(2026, 10, 1, 12, 0))


# --- overrides and the fallback ---------------------------------------------------------------------------------


def test_override_for_2027_wins_over_the_fallback(client, db, fresh_calendar, admin, resident, auth_header):
    spring_festival, make_up_saturday = "2027-02-08", "2027-02-20"
    response = client.put(
        override_url(spring_festival), json={"is_workday": False, "name": "春节"}, headers=auth_header(admin)
    )
    assert response.status_code == 200
    assert response.json["date"] == spring_festival
    assert response.json["updated_at"].endswith("+08:00")
    response = client.put(
        override_url(make_up_saturday),
        json={"is_workday": True, "name": "春节调休上班", "note": "国办发明电〔2026〕X号"},
        headers=auth_header(admin),
    )
    assert response.status_code == 200

    response = client.get(f"{DAYS_URL}?start=2027-02-07&end=2027-02-21", headers=auth_header(resident))
    assert response.status_code == 200
    days = {item["date"]: item for item in response.json}
    assert days[spring_festival] == {"date": spring_festival, "is_workday": False, "source": "override", "name": "春节"}
    assert days[make_up_saturday] == {
        "date": make_up_saturday,
        "is_workday": True,
        "source": "override",
        "name": "春节调休上班",
    }
    assert days["2027-02-09"] == {"date": "2027-02-09", "is_workday": True, "source": "fallback", "name": None}
    assert days["2027-02-21"]["is_workday"] is False
    assert add_workdays(date(2027, 2, 5), 1) == date(2027, 2, 9)


def test_override_inside_a_covered_year_wins_and_removing_it_restores_the_statutory_answer(
    client, db, fresh_calendar, admin, auth_header
):
    assert is_workday(date(2026, 10, 10))
    response = client.put(
        override_url("2026-10-10"), json={"is_workday": False, "name": "社区停电检修"}, headers=auth_header(admin)
    )
    assert response.status_code == 200
    assert calendar.describe_day(date(2026, 10, 10)) == calendar.Day(
        date(2026, 10, 10), False, DaySource.override, "社区停电检修"
    )
    assert add_workdays(date(2026, 9, 30), 3) == date(2026, 10, 12)

    assert client.delete(override_url("2026-10-10"), headers=auth_header(admin)).status_code == 204
    assert calendar.describe_day(date(2026, 10, 10)).source is DaySource.statutory
    assert is_workday(date(2026, 10, 10))


def test_putting_an_override_again_replaces_it_and_both_writes_are_audited(client, db, admin, auth_header):
    headers = auth_header(admin)
    client.put(override_url("2027-10-01"), json={"is_workday": False, "name": "国庆"}, headers=headers)
    response = client.put(override_url("2027-10-01"), json={"is_workday": False, "name": "国庆节"}, headers=headers)
    assert response.json["name"] == "国庆节"
    assert database.session.scalar(sa.select(sa.func.count()).select_from(calendar.CalendarOverride)) == 1
    client.delete(override_url("2027-10-01"), headers=headers)

    entries = database.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.target_id == "2027-10-01").order_by(AuditEntry.id)
    ).all()
    assert [entry.action for entry in entries] == [
        "calendar.override.set",
        "calendar.override.set",
        "calendar.override.delete",
    ]
    assert all(entry.actor_user_id == admin.id for entry in entries)
    assert entries[0].before is None
    assert entries[1].before == {"is_workday": False, "holiday": "国庆", "note": None}
    assert entries[1].after == {"is_workday": False, "holiday": "国庆节", "note": None}
    assert entries[2].before["holiday"] == "国庆节"


def test_a_write_is_seen_by_the_next_read_in_the_same_context(db, fresh_calendar, admin):
    assert is_workday(date(2026, 12, 31))
    calendar.set_override(date(2026, 12, 31), is_workday=False, name="跨年活动", actor=admin)
    assert not is_workday(date(2026, 12, 31))
    calendar.delete_override(date(2026, 12, 31), actor=admin)
    assert is_workday(date(2026, 12, 31))


def test_a_year_without_data_falls_back_to_monday_to_friday_with_a_logged_warning(db, fresh_calendar, caplog):
    with caplog.at_level(logging.WARNING, logger="app.calendar"):
        described = calendar.days_in_range(date(2030, 1, 1), date(2030, 1, 7))
        calendar.days_in_range(date(2030, 2, 1), date(2030, 2, 7))
    assert [(info.is_workday, info.source) for info in described] == [
        (True, DaySource.fallback),  # Tuesday 1 January: 元旦 in reality, but no one has entered 2030 yet
        (True, DaySource.fallback),
        (True, DaySource.fallback),
        (True, DaySource.fallback),
        (False, DaySource.fallback),  # Saturday
        (False, DaySource.fallback),
        (True, DaySource.fallback),
    ]
    warnings = [record for record in caplog.records if "2030" in record.getMessage()]
    assert len(warnings) == 1  # once per process and hour, not once per day looked at


def test_coverage_warns_about_next_year_until_its_holidays_are_entered(
    client, db, fresh_calendar, admin, auth_header, monkeypatch
):
    monkeypatch.setattr(calendar, "today", lambda: date(2026, 11, 23))
    headers = auth_header(admin)
    response = client.get(COVERAGE_URL, headers=headers)
    assert response.status_code == 200
    this_year, next_year = response.json
    assert this_year == {"year": 2026, "source": "package", "override_count": 0, "warning": None}
    assert next_year["year"] == 2027
    assert next_year["source"] == "fallback"
    assert "2027 年尚无法定节假日安排数据" in next_year["warning"]

    client.put(override_url("2027-01-01"), json={"is_workday": False, "name": "元旦"}, headers=headers)
    next_year = client.get(COVERAGE_URL, headers=headers).json[1]
    assert next_year == {"year": 2027, "source": "overrides", "override_count": 1, "warning": None}


def test_coverage_of_a_chosen_span_of_years(client, db, admin, auth_header):
    response = client.get(f"{COVERAGE_URL}?start_year=2025&end_year=2030", headers=auth_header(admin))
    assert [(item["year"], item["source"]) for item in response.json] == [
        (2025, "package"),
        (2026, "package"),
        (2027, "fallback"),
        (2028, "fallback"),
        (2029, "fallback"),
        (2030, "fallback"),
    ]


# --- access and validation --------------------------------------------------------------------------------------


def test_anonymous_gets_401_for_days(client, db):
    response = client.get(f"{DAYS_URL}?start=2026-10-01&end=2026-10-07")
    assert response.status_code == 401
    assert response.json["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("put", override_url("2027-02-08"), {"is_workday": False, "name": "春节"}),
        ("delete", override_url("2027-02-08"), None),
        ("get", COVERAGE_URL, None),
    ],
)
def test_non_admin_gets_403_for_admin_endpoints(client, db, resident, auth_header, method, url, body):
    response = client.open(url, method=method.upper(), json=body, headers=auth_header(resident))
    assert response.status_code == 403
    assert response.json["code"] == "forbidden"


def test_deleting_a_missing_override_gives_404(client, db, admin, auth_header):
    response = client.delete(override_url("2027-02-08"), headers=auth_header(admin))
    assert response.status_code == 404
    assert response.json["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-13-01&end=2026-12-31",
        "start=2026-10-07&end=2026-10-01",
        "start=2026-01-01&end=2027-01-02",  # 367 days
        "start=2026-10-01",
        "start=2026-10-01&end=tomorrow",
    ],
)
def test_bad_day_ranges_give_422(client, db, resident, auth_header, query):
    response = client.get(f"{DAYS_URL}?{query}", headers=auth_header(resident))
    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert response.json["details"]["fields"]


def test_a_leap_year_is_the_longest_range(client, db, resident, auth_header):
    response = client.get(f"{DAYS_URL}?start=2024-01-01&end=2024-12-31", headers=auth_header(resident))
    assert response.status_code == 200
    assert len(response.json) == 366


@pytest.mark.parametrize(
    ("day", "body"),
    [
        ("2027-02-30", {"is_workday": False, "name": "春节"}),
        ("not-a-date", {"is_workday": False, "name": "春节"}),
        ("1999-02-08", {"is_workday": False, "name": "春节"}),
        ("2027-02-08", {"name": "春节"}),
        ("2027-02-08", {"is_workday": False, "name": "   "}),
        ("2027-02-08", {"is_workday": False, "name": "春" * 33}),
        ("2027-02-08", {"is_workday": False, "name": "春\x00节"}),
        ("2027-02-08", {"is_workday": False, "name": "春节", "colour": "red"}),
    ],
)
def test_bad_overrides_give_422(client, db, admin, auth_header, day, body):
    response = client.put(override_url(day), json=body, headers=auth_header(admin))
    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert response.json["details"]["fields"]
    assert database.session.scalar(sa.select(sa.func.count()).select_from(calendar.CalendarOverride)) == 0


@pytest.mark.parametrize("query", ["start_year=2030&end_year=2027", "start_year=2020&end_year=2040", "end_year=1990"])
def test_bad_coverage_spans_give_422(client, db, admin, auth_header, query):
    response = client.get(f"{COVERAGE_URL}?{query}", headers=auth_header(admin))
    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"


def test_openapi_documents_the_calendar_access_rules(client):
    paths = client.get("/openapi.json").json["paths"]
    assert paths["/api/v1/calendar/days"]["get"]["x-access"] == {"public": False, "platform_roles": []}
    for method in ("put", "delete"):
        assert paths["/api/v1/calendar/overrides/{day}"][method]["x-access"]["platform_roles"] == ["admin"]
    assert paths["/api/v1/calendar/coverage"]["get"]["x-access"]["platform_roles"] == ["admin"]
