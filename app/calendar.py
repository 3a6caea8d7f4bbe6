"""Working days: chinese-calendar's statutory data, a staff-edited override table, and a stated Mon–Fri fallback.

Where a day's answer comes from, in order:

1. ``override`` — a row in ``core_calendar_overrides`` (admins enter next year's holidays and 调休 make-up
   Saturdays when the State Council publishes them, or correct a single day);
2. ``statutory`` — the ``chinese_calendar`` package, for the years it carries (2004–2026 in 1.11.0);
3. ``fallback`` — Monday to Friday. A year with neither package data nor any override is logged as a warning
   and reported by :func:`coverage`; it is never an error.

Ranges: :func:`days_in_range` and :func:`workdays_in_range` take a **closed** range ``[start, end]``;
:func:`workdays_between` counts the working days you *land on* walking from ``a`` to ``b``: ``(a, b]`` forwards,
``[b, a)`` negated backwards, so ``workdays_between(s, add_workdays(s, n)) == n`` for every ``n != 0``.

Cost: overrides are read a year at a time, the years a call needs in one query, and kept for the rest of the app
context (one request, one job); writes here forget them. Another process sees a change from its next request.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import chinese_calendar
import sqlalchemy as sa
from flask import g
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, mapped_column

from app.api import SHANGHAI
from app.audit import record as audit
from app.db import atomic, updated_at
from app.errors import NotFound, ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)

#: Overrides may be entered for these years only (a guard against typed years such as 0207 or 2207).
MIN_OVERRIDE_YEAR, MAX_OVERRIDE_YEAR = 2000, 2100
#: A fallback year is logged at most this often per process, not once per day looked at.
FALLBACK_WARNING_INTERVAL = 3600.0
#: The widest span of years one coverage report covers.
MAX_COVERAGE_YEARS = 10

_CACHE_KEY = "calendar_overrides"
_last_warned: dict[int, float] = {}


class CalendarOverride(db.Model):
    """One day whose working status staff have set by hand; it wins over the package and the fallback."""

    __tablename__ = "core_calendar_overrides"

    day: Mapped[date] = mapped_column(primary_key=True)
    is_workday: Mapped[bool]
    name: Mapped[str] = mapped_column(sa.String(32), comment="What the day is, e.g. 春节 or 春节调休上班")
    note: Mapped[str | None] = mapped_column(sa.Text)
    updated_by: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey("accounts_users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[updated_at]

    __table_args__ = (sa.CheckConstraint("char_length(btrim(name)) > 0", name="name_not_empty"),)


class DaySource(enum.StrEnum):
    override = "override"
    statutory = "statutory"
    fallback = "fallback"


class YearSource(enum.StrEnum):
    package = "package"
    overrides = "overrides"
    fallback = "fallback"


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    is_workday: bool
    source: DaySource
    #: The holiday the day belongs to (for a make-up workday, the holiday it makes up for); None on ordinary days.
    name: str | None


@dataclass(frozen=True, slots=True)
class YearCoverage:
    year: int
    source: YearSource
    override_count: int
    warning: str | None


def today() -> date:
    """Today in Asia/Shanghai, the calendar's time zone."""
    return datetime.now(SHANGHAI).date()


# --- reading ---------------------------------------------------------------------------------------------------


def is_workday(day: date) -> bool:
    """Whether ``day`` is a working day (statutory holidays off, 调休 make-up days on, overrides first)."""
    return describe_day(day).is_workday


def describe_day(day: date) -> Day:
    """Whether ``day`` is a working day, where that answer comes from, and the holiday's name."""
    _check_date(day)
    _load_years(day.year, day.year)
    return _resolve(day)


def days_in_range(start: date, end: date) -> list[Day]:
    """Every day of the **closed** range ``[start, end]`` described; at most one query. Empty when end < start."""
    _check_date(start, end)
    if end < start:
        return []
    _load_years(start.year, end.year)
    return [_resolve(start + timedelta(days=offset)) for offset in range((end - start).days + 1)]


def workdays_in_range(start: date, end: date) -> list[date]:
    """The working days of the **closed** range ``[start, end]``, in order; at most one query."""
    return [info.day for info in days_in_range(start, end) if info.is_workday]


def add_workdays(start: date, n: int) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself never counts).

    ``n == 0`` rolls forward: ``start`` if it is a working day, else the next working day. A negative ``n`` walks
    backwards: ``add_workdays(d, -1)`` is the last working day before ``d``. Overrides for the years the walk is
    expected to cross are read in one query.
    """
    _check_date(start)
    step = 1 if n >= 0 else -1
    # Five working days a week, plus room for a golden week or two: the walk rarely leaves these years.
    horizon = _shift(start, step * (abs(n) * 3 // 2 + 31))
    _load_years(min(start, horizon).year, max(start, horizon).year)
    day = start
    if n == 0:
        while not is_workday(day):
            day += timedelta(days=1)
        return day
    remaining = abs(n)
    while remaining:
        day += timedelta(days=step)
        if is_workday(day):
            remaining -= 1
    return day


def workdays_between(a: date, b: date) -> int:
    """Working days from ``a`` to ``b``: those in ``(a, b]`` (the start day is not counted, the end day is).

    When ``b < a`` the answer is minus the working days in ``[b, a)``, so that
    ``workdays_between(d, add_workdays(d, n)) == n`` for any ``n != 0``. At most one query.
    """
    _check_date(a, b)
    if a == b:
        return 0
    if a < b:
        return len(workdays_in_range(a + timedelta(days=1), b))
    return -len(workdays_in_range(b, a - timedelta(days=1)))


def coverage(first_year: int | None = None, last_year: int | None = None) -> list[YearCoverage]:
    """Per year (default: this year and next), where working days come from, with a warning for fallback years.

    :raises ValidationFailed: ``last_year`` is before ``first_year``, or the span passes ``MAX_COVERAGE_YEARS``.
    """
    first_year = today().year if first_year is None else first_year
    last_year = first_year + 1 if last_year is None else last_year
    if not 0 <= last_year - first_year < MAX_COVERAGE_YEARS:
        message = f"年份范围应为起始年份起 1–{MAX_COVERAGE_YEARS} 年"
        raise ValidationFailed(message, details={"fields": {"query": {"end_year": [message]}}})
    rows = db.session.execute(
        sa.select(sa.extract("year", CalendarOverride.day).cast(sa.Integer), sa.func.count())
        .where(CalendarOverride.day.between(date(first_year, 1, 1), date(last_year, 12, 31)))
        .group_by(sa.text("1"))
    ).all()
    counts = {int(year): count for year, count in rows}
    result = []
    for year in range(first_year, last_year + 1):
        count = counts.get(year, 0)
        if _package_has_year(year):
            source, warning = YearSource.package, None
        elif count:
            source, warning = YearSource.overrides, None
        else:
            source, warning = YearSource.fallback, _fallback_warning(year)
        result.append(YearCoverage(year=year, source=source, override_count=count, warning=warning))
    return result


# --- writing ---------------------------------------------------------------------------------------------------


def set_override(day: date, *, is_workday: bool, name: str, note: str | None = None, actor) -> CalendarOverride:
    """Create or replace the override for ``day`` (admins); audited.

    :raises ValidationFailed: ``day`` is outside the years overrides may be entered for.
    """
    _check_override_year(day)
    values = {"is_workday": is_workday, "name": name, "note": note, "updated_by": actor.id}
    with atomic():
        # The lock only serves the audit entry's "before"; the write itself is one upsert, safe under races.
        before = db.session.execute(
            sa.select(CalendarOverride.is_workday, CalendarOverride.name, CalendarOverride.note)
            .where(CalendarOverride.day == day)
            .with_for_update()
        ).first()
        statement = (
            insert(CalendarOverride)
            .values(day=day, **values)
            .on_conflict_do_update(index_elements=[CalendarOverride.day], set_={**values, "updated_at": sa.func.now()})
            .returning(CalendarOverride)
        )
        override = db.session.scalars(statement, execution_options={"populate_existing": True}).one()
        audit(
            "calendar.override.set",
            actor=actor,
            target=("calendar_day", day.isoformat()),
            before=_audit_values(before),
            after=_audit_values(override),
        )
        forget_cache()
        log.info("calendar override %s set (workday=%s, %s) by user %s", day, is_workday, name, actor.id)
        return override


def delete_override(day: date, *, actor) -> None:
    """Remove the override for ``day``, so the package (or the fallback) decides again; audited.

    :raises NotFound: there is no override for ``day``.
    """
    with atomic():
        removed = db.session.execute(
            sa.delete(CalendarOverride)
            .where(CalendarOverride.day == day)
            .returning(CalendarOverride.is_workday, CalendarOverride.name, CalendarOverride.note),
            execution_options={"synchronize_session": False},
        ).first()
        if removed is None:
            raise NotFound("该日期没有人工调整记录", details={"date": day.isoformat()})
        audit(
            "calendar.override.delete",
            actor=actor,
            target=("calendar_day", day.isoformat()),
            before=_audit_values(removed),
        )
        forget_cache()
        log.info("calendar override %s removed by user %s", day, actor.id)


def forget_cache() -> None:
    """Drop the overrides read in this app context (called after every write, and before each request)."""
    g.pop(_CACHE_KEY, None)


# --- helpers ---------------------------------------------------------------------------------------------------


def _check_date(*days: date) -> None:
    for day in days:
        # A datetime is a date too, but its business day depends on the time zone: the caller must choose.
        if isinstance(day, datetime) or not isinstance(day, date):
            raise TypeError(f"expected a date in Asia/Shanghai, got {type(day).__name__}")


def _check_override_year(day: date) -> None:
    if not MIN_OVERRIDE_YEAR <= day.year <= MAX_OVERRIDE_YEAR:
        message = f"只能调整 {MIN_OVERRIDE_YEAR}–{MAX_OVERRIDE_YEAR} 年的日期"
        raise ValidationFailed(message, details={"fields": {"path": {"day": [message]}}})


def _shift(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _cache() -> dict[int, dict[date, tuple[bool, str]]]:
    if _CACHE_KEY not in g:
        setattr(g, _CACHE_KEY, {})
    return getattr(g, _CACHE_KEY)


def _load_years(first: int, last: int) -> None:
    """Read the overrides of the years in ``[first, last]`` not read yet in this app context, in one query."""
    years = _cache()
    missing = [year for year in range(first, last + 1) if year not in years]
    if not missing:
        return
    low, high = missing[0], missing[-1]
    loaded: dict[int, dict[date, tuple[bool, str]]] = {year: {} for year in range(low, high + 1)}
    rows = db.session.execute(
        sa.select(CalendarOverride.day, CalendarOverride.is_workday, CalendarOverride.name).where(
            CalendarOverride.day.between(date(low, 1, 1), date(high, 12, 31))
        )
    )
    for day, workday, name in rows:
        loaded[day.year][day] = (workday, name)
    years.update(loaded)


def _resolve(day: date) -> Day:
    overrides = _cache()[day.year]
    hit = overrides.get(day)
    if hit is not None:
        return Day(day, hit[0], DaySource.override, hit[1])
    if _package_has_year(day.year):
        holiday, english_name = chinese_calendar.get_holiday_detail(day)
        return Day(day, not holiday, DaySource.statutory, _chinese_name(english_name))
    if not overrides:
        _warn_fallback(day.year)
    return Day(day, day.weekday() < 5, DaySource.fallback, None)


@cache
def _package_has_year(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:  # chinese_calendar's answer for a year it has no data for
        return False
    return True


@cache
def _chinese_name(english_name: str | None) -> str | None:
    if english_name is None:
        return None
    try:
        return chinese_calendar.Holiday(english_name).chinese
    except ValueError:
        return english_name


def _fallback_warning(year: int) -> str:
    return (
        f"{year} 年尚无法定节假日安排数据，暂按周一至周五为工作日计算；"
        "国务院公布放假安排后，请管理员录入节假日和调休上班日。"
    )


def _warn_fallback(year: int) -> None:
    now = time.monotonic()
    last = _last_warned.get(year)
    if last is None or now - last >= FALLBACK_WARNING_INTERVAL:
        _last_warned[year] = now
        log.warning("calendar: no holiday data for %s (package or overrides); assuming Monday to Friday", year)


def _audit_values(row) -> dict | None:
    if row is None:
        return None
    # "holiday", not "name": the audit log masks any key called "name" as a person's name.
    return {"is_workday": row.is_workday, "holiday": row.name, "note": row.note}
