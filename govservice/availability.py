"""Open slots of a bookable item, day by day, within the centre's booking window."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from govservice import centres, clock, schedule
from govservice.booking_models import Slot
from govservice.bookings import bookable_item
from govservice.models import Window, WindowItem


def availability(item_public_id: str, first: date | None = None, last: date | None = None) -> dict[str, Any]:
    """Open slots of the windows serving a published, bookable item, day by day, within the booking window."""
    item, version, centre = bookable_item(item_public_id)
    window_rows = db.session.scalars(
        sa.select(Window)
        .join(WindowItem, WindowItem.window_id == Window.id)
        .where(WindowItem.item_id == item.id, Window.is_active)
        .order_by(Window.number)
    ).all()
    windows = {window.id: window for window in window_rows}
    low, high = centres.bookable_days(centre)
    first, last = max(first or low, low), min(last or high, high)
    kinds, planned = schedule.plan(centre, list(windows), first, last) if first <= last else ([], [])
    booked = {}
    if windows and first <= last:
        rows = db.session.execute(
            sa.select(Slot.window_id, Slot.starts_at, Slot.booked).where(
                Slot.window_id.in_(list(windows)), Slot.day.between(first, last)
            )
        )
        booked = {(window_id, starts): count for window_id, starts, count in rows}
    now = clock.now()
    by_day: dict[date, list[dict[str, Any]]] = {kind.day: [] for kind in kinds}
    for slot in planned:
        if slot.starts_at <= now:
            continue
        window = windows[slot.window_id]
        taken = booked.get((slot.window_id, slot.starts_at), 0)
        by_day[slot.day].append(
            {
                "window": {"id": window.public_id, "number": window.number, "name": window.name},
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "capacity": slot.capacity,
                "remaining": max(slot.capacity - taken, 0),
                "label": slot.label,
            }
        )
    return {
        "item": {"id": item.public_id, "code": item.code, "name": version.name},
        "first_day": low,
        "last_day": high,
        "days": [
            {
                "day": kind.day,
                "is_workday": kind.is_workday,
                "holiday": kind.holiday,
                "makeup_workday": kind.makeup,
                "holiday_name": kind.name,
                "slots": by_day[kind.day],
            }
            for kind in kinds
        ],
    }
