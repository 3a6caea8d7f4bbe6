"""Background jobs of govservice: booking reminders (the day before, and shortly before the start)."""

from __future__ import annotations

import logging
from datetime import datetime

from app import outbox
from app.extensions import db
from govservice import clock, notify
from govservice.booking_models import Booking, BookingStatus
from govservice.booking_views import notice_data
from govservice.models import Centre

log = logging.getLogger(__name__)


@outbox.job(queue="push")
def send_booking_reminder(booking_id: int, kind: str, starts_at: str) -> None:
    """Remind the resident of a booking, unless it was cancelled, moved, checked in or has started.

    The outbox may deliver this twice; the notice's dedup key makes the second delivery a no-op.
    """
    booking = db.session.get(Booking, booking_id)
    if booking is None or booking.status is not BookingStatus.booked:
        log.info("reminder %s for booking %s skipped: no longer booked", kind, booking_id)
        return
    if booking.starts_at != datetime.fromisoformat(starts_at) or clock.now() >= booking.starts_at:
        log.info("reminder %s for booking %s skipped: moved or started", kind, booking_id)
        return
    notify.notify(
        "govservice.booking_reminder",
        [booking.resident_id],
        {**notice_data(booking, db.session.get(Centre, booking.centre_id)), "kind": kind},
        source=("govservice_booking", booking.public_id),
        key=f"govservice:reminder-notice:{booking.id}:{kind}:{int(booking.starts_at.timestamp())}",
    )


@outbox.periodic("govservice.bookings.close_day", "50 23 * * *")
def close_the_day(_slot: str) -> int:
    """23:50 every day: bookings nobody checked in for become no-shows (and count towards suspensions)."""
    from govservice import desk

    return desk.close_ended_bookings()
