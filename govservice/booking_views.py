"""Bookings as residents and staff see them, and what a notice about a booking says."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from app.accounts.households import mask_name
from app.accounts.resident_models import Resident
from app.extensions import db
from govservice.booking_models import Booking
from govservice.models import Centre, GuideItem, GuideVersion, VersionStatus, Window


def notice_data(booking: Booking, centre: Centre) -> dict[str, Any]:
    """What a notice about a booking says (see ``govservice.notify`` for the texts)."""
    window = db.session.get(Window, booking.window_id)
    return {
        "booking_id": booking.public_id,
        "item": item_names([booking.item_id])[booking.item_id]["name"],
        "starts_at": booking.starts_at,
        "place": f"{centre.name}{window.number}号窗口",
        "tip": "请携带有效证件按时到场",
    }


def item_names(item_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each item's public id, code and current name (published, else its latest version), in one query."""
    rows = db.session.execute(
        sa.select(GuideItem.id, GuideItem.public_id, GuideItem.code, GuideVersion.name)
        .join(GuideVersion, GuideVersion.item_id == GuideItem.id)
        .where(GuideItem.id.in_(set(item_ids)))
        .order_by(GuideItem.id, (GuideVersion.status == VersionStatus.published).desc(), GuideVersion.number.desc())
        .ext(distinct_on(GuideItem.id))
    )
    return {row.id: {"id": row.public_id, "code": row.code, "name": row.name} for row in rows}


def views(bookings: list[Booking], *, staff: bool = False) -> list[dict[str, Any]]:
    """Bookings for display, with centre, window, item and resident loaded in four queries."""
    if not bookings:
        return []
    centres_by_id = {
        c.id: c for c in db.session.scalars(sa.select(Centre).where(Centre.id.in_({b.centre_id for b in bookings})))
    }
    windows = {
        w.id: w for w in db.session.scalars(sa.select(Window).where(Window.id.in_({b.window_id for b in bookings})))
    }
    items = item_names([b.item_id for b in bookings])
    residents = {
        r.id: r
        for r in db.session.scalars(sa.select(Resident).where(Resident.id.in_({b.resident_id for b in bookings})))
    }
    result = []
    for booking in bookings:
        centre, window, resident = (
            centres_by_id[booking.centre_id],
            windows[booking.window_id],
            residents[booking.resident_id],
        )
        result.append(
            {
                "id": booking.public_id,
                "status": booking.status,
                "via": booking.via,
                "centre": {"id": centre.public_id, "name": centre.name, "address": centre.address},
                "window": {"id": window.public_id, "number": window.number, "name": window.name},
                "item": items[booking.item_id],
                "resident": {
                    "id": resident.public_id,
                    "name": resident.real_name if staff else mask_name(resident.real_name),
                    "document": resident.document_masked if staff else None,
                },
                "day": booking.day,
                "starts_at": booking.starts_at,
                "ends_at": booking.ends_at,
                "queue_number": f"{window.queue_prefix}{booking.queue_number:03d}" if booking.queue_number else None,
                "checked_in_at": booking.checked_in_at,
                "served_at": booking.served_at,
                "no_show_at": booking.no_show_at,
                "cancelled_at": booking.cancelled_at,
                "cancel_reason": booking.cancel_reason,
                "cancel_until": booking.starts_at - timedelta(minutes=centre.cancel_cutoff_minutes),
                "reason": booking.reason if staff else None,
                "created_at": booking.created_at,
            }
        )
    return result


def view(booking: Booking, *, staff: bool = False) -> dict[str, Any]:
    return views([booking], staff=staff)[0]
