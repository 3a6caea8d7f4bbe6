"""When windows are open: weekly sessions read against the working-day calendar, minus closures.

The rule, in the calendar's words (``app.calendar.describe_day``):

- a **holiday** is a day the calendar makes a rest day that is either Monday–Friday or carries a holiday name
  (春节, 国庆节 …, or an override's name): 国庆 on a Saturday is a holiday, an ordinary Saturday is not;
- a **make-up working day** (调休上班) is a Saturday or Sunday the calendar makes a working day;
- a ``workday_only`` session is held when the day is a working day: on its own weekday, and on a make-up working
  day when its weekday is the centre's ``makeup_weekday`` (Monday unless set);
- any other session (a weekend or evening session) is held on its weekday unless the day is a holiday; with
  ``holiday_service`` it is held on holidays too;
- a closure (whole day or some hours, one window or the whole centre) removes the slots it overlaps.

So on 2026-02-14, a 调休 Saturday, a window opens with its Monday working-day sessions and its Saturday session;
on 2026-10-01 only ``holiday_service`` sessions open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from app.api import SHANGHAI
from app.calendar import Day, days_in_range, describe_day
from app.extensions import db
from govservice.models import Centre, Closure, Session


@dataclass(frozen=True)
class DayKind:
    day: date
    is_workday: bool
    holiday: bool
    makeup: bool
    #: The holiday the day belongs to (for a make-up working day, the holiday it makes up for).
    name: str | None


@dataclass(frozen=True)
class PlannedSlot:
    window_id: int
    day: date
    starts_at: datetime  # UTC
    ends_at: datetime
    capacity: int
    label: str


def classify(info: Day) -> DayKind:
    weekend = info.day.weekday() >= 5
    holiday = not info.is_workday and (not weekend or info.name is not None)
    return DayKind(info.day, info.is_workday, holiday, info.is_workday and weekend, info.name)


def kind_of(day: date) -> DayKind:
    return classify(describe_day(day))


def is_held(session: Session, kind: DayKind, makeup_weekday: int) -> bool:
    """Whether ``session`` is held on the day described by ``kind`` (the rule in the module docstring)."""
    weekday = kind.day.weekday()
    if session.workday_only:
        if not kind.is_workday:
            return False
        return session.weekday == (makeup_weekday if kind.makeup else weekday)
    if session.weekday != weekday:
        return False
    return not kind.holiday or session.holiday_service


def local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=SHANGHAI).astimezone(UTC)


def session_slots(session: Session, day: date) -> list[tuple[datetime, datetime]]:
    """The slots of a session on a day: from its start, ``slot_minutes`` each, the last ending by its end."""
    start = datetime.combine(day, session.starts_at)
    end = datetime.combine(day, session.ends_at)
    step = timedelta(minutes=session.slot_minutes)
    slots = []
    while start + step <= end:
        slots.append(
            (start.replace(tzinfo=SHANGHAI).astimezone(UTC), (start + step).replace(tzinfo=SHANGHAI).astimezone(UTC))
        )
        start += step
    return slots


def closed(closures: Iterable[Closure], window_id: int, starts_at: datetime, ends_at: datetime) -> Closure | None:
    """The first closure covering any part of the slot, or None."""
    day = starts_at.astimezone(SHANGHAI).date()
    for closure in closures:
        if closure.day != day or closure.window_id not in (None, window_id):
            continue
        if closure.starts_at is None:
            return closure
        if local(day, closure.starts_at) < ends_at and starts_at < local(day, closure.ends_at):
            return closure
    return None


def plan(
    centre: Centre,
    window_ids: list[int],
    first: date,
    last: date,
    *,
    include_closed: bool = False,
) -> tuple[list[DayKind], list[PlannedSlot]]:
    """The days of ``[first, last]`` and the open slots of the given windows on them (three queries).

    Overlapping sessions of one window share their slots (the first session's capacity counts).
    """
    kinds = [classify(info) for info in days_in_range(first, last)]
    if not window_ids or not kinds:
        return kinds, []
    sessions = db.session.scalars(
        sa.select(Session)
        .where(Session.window_id.in_(window_ids))
        .order_by(Session.window_id, Session.starts_at, Session.id)
    ).all()
    closures = [] if include_closed else closures_between(centre.id, first, last)
    slots: list[PlannedSlot] = []
    seen: set[tuple[int, datetime]] = set()
    for kind in kinds:
        for session in sessions:
            if not is_held(session, kind, centre.makeup_weekday):
                continue
            for starts_at, ends_at in session_slots(session, kind.day):
                key = (session.window_id, starts_at)
                if key in seen or closed(closures, session.window_id, starts_at, ends_at):
                    continue
                seen.add(key)
                slots.append(
                    PlannedSlot(session.window_id, kind.day, starts_at, ends_at, session.capacity, session.label)
                )
    slots.sort(key=lambda slot: (slot.starts_at, slot.window_id))
    return kinds, slots


def closures_between(centre_id: int, first: date, last: date) -> list[Closure]:
    return list(
        db.session.scalars(sa.select(Closure).where(Closure.centre_id == centre_id, Closure.day.between(first, last)))
    )


def planned_slot(centre: Centre, window_id: int, starts_at: datetime) -> PlannedSlot | None:
    """The open slot of a window starting exactly at ``starts_at`` (closures ignored: the caller checks them
    under the window lock), or None when no session offers it."""
    day = starts_at.astimezone(SHANGHAI).date()
    _kinds, slots = plan(centre, [window_id], day, day, include_closed=True)
    for slot in slots:
        if slot.starts_at == starts_at:
            return slot
    return None
