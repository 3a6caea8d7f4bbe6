"""The window desk: the day's worklist, check-in with a queue number (取号), served, no-show and its sanction
(爽约限制), and lifting a suspension."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit
from app.accounts.resident_models import Resident
from app.auth.scopes import authorize, can
from app.db import atomic
from app.errors import ValidationFailed
from app.extensions import db
from govservice import booking_views, bookings, centres, clock
from govservice.booking_models import Booking, BookingStatus, QueueCounter, Suspension
from govservice.errors import (
    BookingNotActive,
    BookingNotFound,
    CheckInNotOpen,
    SuspensionNotFound,
    TooEarlyForNoShow,
    WindowNotFound,
)
from govservice.models import Centre, Window
from govservice.permissions import DESK

log = logging.getLogger(__name__)


def worklist(
    user, centre_public_id: str, *, day: date | None, window_id: str | None, status: BookingStatus | None, pagination
) -> list[dict[str, Any]]:
    """A centre's bookings of one day (today by default) in start order, with totals for the desk screen."""
    centre = centres.staff_centre(user, centre_public_id, DESK)
    query = sa.select(Booking).where(Booking.centre_id == centre.id, Booking.day == (day or clock.today()))
    if window_id:
        window = db.session.scalar(
            sa.select(Window).where(Window.public_id == window_id, Window.centre_id == centre.id)
        )
        if window is None:
            raise WindowNotFound()
        query = query.where(Booking.window_id == window.id)
    if status is not None:
        query = query.where(Booking.status == status)
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(Booking.starts_at, Booking.queue_number.nulls_last(), Booking.id)
        .offset(pagination.first_item)
        .limit(pagination.page_size)
    ).all()
    return booking_views.views(list(rows), staff=True)


def _desk_booking(user, public_id: str) -> tuple[Booking, Centre]:
    booking = bookings._get(public_id, lock=True)
    centre = db.session.get(Centre, booking.centre_id)
    authorize(user, DESK, centre, not_found=BookingNotFound)
    return booking, centre


def check_in(user, public_id: str) -> dict[str, Any]:
    """Give the booking the next queue number of its window for the day (取号).

    Desk staff check anyone in on the booking's day; the resident (or their delegate) checks in on site from the
    centre's ``checkin_open_minutes`` before the start until the slot ends. The number comes from one upsert on the
    window's counter row for the day, which stays locked until commit: numbers are gap-free and never repeat.
    """
    with atomic():
        booking = bookings._get(public_id, lock=True)
        centre = db.session.get(Centre, booking.centre_id)
        now = clock.now()
        staff = can(user, DESK, centre)
        if staff:
            if booking.day != clock.today():
                raise CheckInNotOpen("只能为当天的预约取号", details={"day": booking.day.isoformat()})
        else:
            bookings.act_on(user, booking)
            opens = booking.starts_at - timedelta(minutes=centre.checkin_open_minutes)
            if not opens <= now <= booking.ends_at:
                raise CheckInNotOpen(details={"opens_at": opens.isoformat(), "closes_at": booking.ends_at.isoformat()})
        if booking.status is BookingStatus.checked_in:
            return booking_views.view(booking, staff=staff)  # a repeated tap keeps its number
        if booking.status is not BookingStatus.booked:
            raise BookingNotActive(details={"status": booking.status.value})
        statement = pg_insert(QueueCounter).values(window_id=booking.window_id, day=booking.day, last_number=1)
        number = db.session.execute(
            statement.on_conflict_do_update(
                index_elements=[QueueCounter.window_id, QueueCounter.day],
                set_={"last_number": QueueCounter.last_number + 1},
            ).returning(QueueCounter.last_number)
        ).scalar_one()
        booking.status, booking.queue_number, booking.checked_in_at = BookingStatus.checked_in, number, now
        if staff:
            booking.handled_by_user_id = user.id
        db.session.flush()
        audit.record(
            "govservice.booking.check_in",
            actor=user,
            subject=("resident", booking.resident_id),
            target=("govservice_booking", booking.public_id),
            after={"queue_number": number, "by": "staff" if staff else "resident"},
        )
        return booking_views.view(booking, staff=staff)


def mark_served(user, public_id: str) -> dict[str, Any]:
    with atomic():
        booking, _centre = _desk_booking(user, public_id)
        if booking.status is not BookingStatus.checked_in:
            raise BookingNotActive("须先取号才能办结", details={"status": booking.status.value})
        booking.status, booking.served_at, booking.handled_by_user_id = BookingStatus.served, clock.now(), user.id
        db.session.flush()
        audit.record(
            "govservice.booking.served",
            actor=user,
            subject=("resident", booking.resident_id),
            target=("govservice_booking", booking.public_id),
        )
        return booking_views.view(booking, staff=True)


def mark_no_show(user, public_id: str) -> dict[str, Any]:
    """Record that the resident did not come (after the start), and suspend booking at the centre when this makes
    ``noshow_limit`` no-shows within ``noshow_window_days`` (no-shows already sanctioned do not count again)."""
    with atomic():
        booking, centre = _desk_booking(user, public_id)
        if booking.status is not BookingStatus.booked:
            raise BookingNotActive(details={"status": booking.status.value})
        now = clock.now()
        if now < booking.starts_at:
            raise TooEarlyForNoShow()
        booking.status, booking.no_show_at, booking.handled_by_user_id = BookingStatus.no_show, now, user.id
        db.session.flush()
        audit.record(
            "govservice.booking.no_show",
            actor=user,
            subject=("resident", booking.resident_id),
            target=("govservice_booking", booking.public_id),
        )
        _sanction(booking.resident_id, centre, user)
        return booking_views.view(booking, staff=True)


def _sanction(resident_id: int, centre: Centre, user) -> Suspension | None:
    if centre.noshow_limit == 0:
        return None
    # Two no-shows of one person marked at once must not both miss the count: serialise per person and centre.
    db.session.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"govservice.noshow:{centre.id}:{resident_id}", 0))
        )
    )
    today = clock.today()
    last_sanction = db.session.scalar(
        sa.select(sa.func.max(Suspension.created_at)).where(
            Suspension.resident_id == resident_id, Suspension.centre_id == centre.id
        )
    )
    counted = sa.select(sa.func.count()).where(
        Booking.resident_id == resident_id,
        Booking.centre_id == centre.id,
        Booking.status == BookingStatus.no_show,
        Booking.day > today - timedelta(days=centre.noshow_window_days),
    )
    if last_sanction is not None:
        counted = counted.where(Booking.no_show_at > last_sanction)
    count = db.session.scalar(counted)
    if count < centre.noshow_limit:
        return None
    suspension = Suspension(
        centre_id=centre.id,
        resident_id=resident_id,
        starts_on=today,
        ends_on=today + timedelta(days=centre.suspension_days),
        no_shows=count,
        created_at=clock.now(),  # compared with no_show_at (the same clock) to count later no-shows only
    )
    db.session.add(suspension)
    db.session.flush()
    audit.record(
        "govservice.suspension.create",
        actor=user,
        subject=("resident", resident_id),
        target=("govservice_suspension", suspension.public_id),
        after={"no_shows": count, "until": suspension.ends_on.isoformat()},
    )
    log.info(
        "resident %s suspended from booking at centre %s until %s after %s no-shows",
        resident_id,
        centre.id,
        suspension.ends_on,
        count,
    )
    return suspension


def suspensions(user, centre_public_id: str, *, active_only: bool, pagination) -> list[dict[str, Any]]:
    centre = centres.staff_centre(user, centre_public_id, DESK)
    query = (
        sa.select(Suspension, Resident)
        .join(Resident, Resident.id == Suspension.resident_id)
        .where(Suspension.centre_id == centre.id)
    )
    if active_only:
        query = query.where(Suspension.lifted_at.is_(None), Suspension.ends_on > clock.today())
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(Suspension.created_at.desc(), Suspension.id.desc())
        .offset(pagination.first_item)
        .limit(pagination.page_size)
    ).all()
    return [suspension_view(suspension, resident) for suspension, resident in rows]


def suspension_view(suspension: Suspension, resident: Resident) -> dict[str, Any]:
    return {
        "id": suspension.public_id,
        "resident": {"id": resident.public_id, "name": resident.real_name, "document": resident.document_masked},
        "starts_on": suspension.starts_on,
        "ends_on": suspension.ends_on,
        "no_shows": suspension.no_shows,
        "lifted_at": suspension.lifted_at,
        "lift_reason": suspension.lift_reason,
        "created_at": suspension.created_at,
    }


def lift(user, public_id: str, *, reason: str) -> dict[str, Any]:
    with atomic():
        suspension = db.session.scalar(sa.select(Suspension).where(Suspension.public_id == public_id).with_for_update())
        if suspension is None:
            raise SuspensionNotFound()
        authorize(user, DESK, db.session.get(Centre, suspension.centre_id), not_found=SuspensionNotFound)
        if suspension.lifted_at is not None:
            raise ValidationFailed("该限制已解除")
        suspension.lifted_at, suspension.lifted_by_user_id, suspension.lift_reason = clock.now(), user.id, reason
        db.session.flush()
        audit.record(
            "govservice.suspension.lift",
            actor=user,
            subject=("resident", suspension.resident_id),
            target=("govservice_suspension", suspension.public_id),
            reason=reason,
        )
        return suspension_view(suspension, db.session.get(Resident, suspension.resident_id))


def close_ended_bookings() -> int:
    """End of day: every booking still ``booked`` whose slot has ended becomes a no-show (爽约), with the same
    sanction rule as the desk's button; the desk need not remember to press it. Safe to run again or concurrently
    (rows are locked and skipped when another run holds them)."""
    now = clock.now()
    closed = 0
    with atomic():
        rows = db.session.scalars(
            sa.select(Booking)
            .where(Booking.status == BookingStatus.booked, Booking.ends_at <= now)
            .order_by(Booking.id)
            .with_for_update(skip_locked=True)
        ).all()
        centres_by_id: dict[int, Centre] = {}
        for booking in rows:
            booking.status, booking.no_show_at = BookingStatus.no_show, now
            db.session.flush()
            audit.record(
                "govservice.booking.no_show",
                subject=("resident", booking.resident_id),
                target=("govservice_booking", booking.public_id),
                reason="日终自动记为爽约（未取号）",
            )
            centre = centres_by_id.get(booking.centre_id) or db.session.get(Centre, booking.centre_id)
            centres_by_id[centre.id] = centre
            _sanction(booking.resident_id, centre, None)
            closed += 1
    if closed:
        log.info("end of day: %d bookings recorded as no-shows", closed)
    return closed
