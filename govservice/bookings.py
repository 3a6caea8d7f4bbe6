"""Use cases for window appointments (预约): availability, booking (for oneself, through a delegation, or by staff
for a caller), cancelling, rescheduling, closures' cancellations and the reminders.

Capacity is never exceeded: a place is taken by one statement on the slot row (``_take_place``), and the slot's
CHECK constraint refuses ``booked > capacity`` whatever the code does. "One active booking per person per item per
day" is a partial unique index, so two concurrent requests by one person cannot both pass it either.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit, outbox
from app.accounts.delegation import delegate_or_refuse
from app.accounts.errors import StaffReasonRequired as AccountsStaffReasonRequired
from app.accounts.resident_models import Resident
from app.accounts.residents import require_resident
from app.api import SHANGHAI, keyset_page
from app.auth.scopes import acting_for, authorize, can
from app.community.integrity import refusals
from app.db import atomic
from app.errors import Forbidden
from app.extensions import db
from govservice import booking_views, centres, clock, guides, notify, schedule
from govservice.booking_models import ACTIVE_STATUSES, Booking, BookingStatus, BookingVia, Slot, Suspension
from govservice.errors import (
    AlreadyBookedThatDay,
    BookingNotActive,
    BookingNotFound,
    BookingSuspended,
    CutoffPassed,
    NotBookable,
    OutsideBookingWindow,
    SlotClosed,
    SlotFull,
    SlotNotOffered,
    StaffReasonRequired,
    WindowNotFound,
)
from govservice.jobs import send_booking_reminder
from govservice.models import Centre, Closure, GuideItem, GuideVersion, Window, WindowItem
from govservice.permissions import DESK

log = logging.getLogger(__name__)

ONE_PER_DAY_INDEX = "uq_govservice_bookings_one_per_item_per_day"


# --- booking -------------------------------------------------------------------------------------------------------


def bookable_item(item_public_id: str) -> tuple[GuideItem, GuideVersion, Centre]:
    """A published item that may be booked, with its version and centre.

    :raises GuideNotFound: / :raises NotPublished: / :raises NotBookable:
    """
    item = guides.get_item(item_public_id)
    version = guides.published_version(item)
    if not version.bookable:
        raise NotBookable()
    return item, version, db.session.get(Centre, item.centre_id)


def book(
    user,
    *,
    item_id: str,
    window_id: str,
    starts_at: datetime,
    for_resident_id: str | None = None,
    staff_reason: str | None = None,
    staff_centre_id: str | None = None,
) -> Booking:
    """Book a place at a window for oneself, for a resident one holds an ``appointments`` delegation from, or (with
    ``staff_centre_id`` and ``staff_reason``) as staff for a walk-in or phone caller (代理预约).

    Every booking for someone else goes through ``acting_for``, which records actor and subject.

    :raises SlotFull: (409) no place left; :raises AlreadyBookedThatDay: (409); :raises BookingSuspended: (403);
        :raises SlotNotOffered: / :raises OutsideBookingWindow: (422); :raises SlotClosed: (409).
    """
    with atomic():
        item, _version, centre = bookable_item(item_id)
        if staff_centre_id is not None:
            staff_centre = centres.staff_centre(user, staff_centre_id, DESK)
            if staff_centre.id != centre.id:
                raise guides.GuideNotFound()
            if not (staff_reason or "").strip():
                raise StaffReasonRequired("代理预约须填写原因（如：窗口现场、电话预约）")
            resident = acting_for(user, for_resident_id, "appointments", reason=staff_reason)
            via = BookingVia.staff
        elif for_resident_id is not None:
            resident = delegated(user, for_resident_id)
            via = BookingVia.own if resident.user_id == user.id else BookingVia.delegate
        else:
            resident, via = require_resident(user), BookingVia.own
        window = _window_for(centre, item, window_id)
        slot = _open_slot(centre, window, starts_at, staff=via is BookingVia.staff)
        _check_not_suspended(resident.id, centre)
        slot_id = _take_place(window, slot)
        booking = Booking(
            centre_id=centre.id,
            window_id=window.id,
            slot_id=slot_id,
            item_id=item.id,
            resident_id=resident.id,
            booked_by_user_id=user.id,
            via=via,
            reason=staff_reason if via is BookingVia.staff else None,
            day=slot.day,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            per_day_rule=centre.one_per_item_per_day,
        )
        with refusals(unique={ONE_PER_DAY_INDEX: AlreadyBookedThatDay(details={"day": slot.day.isoformat()})}):
            db.session.add(booking)
        schedule_reminders(booking, centre)
        audit.record(
            "govservice.booking.create",
            actor=user,
            subject=("resident", resident.id),
            target=("govservice_booking", booking.public_id),
            after={"item": item.code, "window": window.number, "starts_at": slot.starts_at, "via": via.value},
            reason=booking.reason,
        )
        log.info(
            "booking %s (item %s, window %s) made by user %s via %s", booking.id, item.id, window.id, user.id, via.value
        )
        return booking


def _window_for(centre: Centre, item: GuideItem, window_public_id: str) -> Window:
    """The window, which must be an active window of the centre serving the item; held ``FOR SHARE`` until commit
    so a closure being added (``FOR UPDATE``) waits for this booking or this booking sees the closure."""
    window = db.session.scalar(
        sa.select(Window)
        .where(Window.public_id == window_public_id, Window.centre_id == centre.id)
        .with_for_update(read=True)
    )
    if window is None:
        raise WindowNotFound()
    serves = db.session.scalar(
        sa.select(sa.exists().where(WindowItem.window_id == window.id, WindowItem.item_id == item.id))
    )
    if not window.is_active or not serves:
        raise SlotNotOffered("该窗口不办理此事项")
    return window


def _open_slot(centre: Centre, window: Window, starts_at: datetime, *, staff: bool) -> schedule.PlannedSlot:
    if starts_at <= clock.now():
        raise OutsideBookingWindow("该时段已开始或已过去")
    first, last = centres.bookable_days(centre, staff=staff)
    day = starts_at.astimezone(SHANGHAI).date()
    if not first <= day <= last:
        raise OutsideBookingWindow(details={"first_day": first.isoformat(), "last_day": last.isoformat()})
    slot = schedule.planned_slot(centre, window.id, starts_at)
    if slot is None:
        raise SlotNotOffered(details={"starts_at": starts_at.astimezone(SHANGHAI).isoformat()})
    closure = schedule.closed(schedule.closures_between(centre.id, day, day), window.id, slot.starts_at, slot.ends_at)
    if closure is not None:
        raise SlotClosed(details={"reason": closure.reason})
    return slot


def _check_not_suspended(resident_id: int, centre: Centre) -> None:
    today = clock.today()
    until = db.session.scalar(
        sa.select(sa.func.max(Suspension.ends_on)).where(
            Suspension.resident_id == resident_id,
            Suspension.centre_id == centre.id,
            Suspension.lifted_at.is_(None),
            Suspension.starts_on <= today,
            Suspension.ends_on > today,
        )
    )
    if until is not None:
        raise BookingSuspended(
            f"因多次爽约，{until.isoformat()} 前不能在此中心预约", details={"until": until.isoformat()}
        )


def _take_place(window: Window, slot: schedule.PlannedSlot) -> int:
    """Take one place in the slot, or raise ``SlotFull``: one statement, so two requests cannot both take the last
    place. The first booking inserts the row with ``booked = 1``; later ones increment it only while it is below the
    capacity. A concurrent booking of the same slot waits on the row lock and PostgreSQL re-checks the WHERE clause
    against the row as the first one committed it.
    """
    statement = pg_insert(Slot).values(
        window_id=window.id,
        day=slot.day,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        capacity=slot.capacity,
        booked=1,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Slot.window_id, Slot.starts_at],
        set_={"booked": Slot.booked + 1, "capacity": statement.excluded.capacity},
        where=Slot.booked < statement.excluded.capacity,
    ).returning(Slot.id)
    slot_id = db.session.execute(statement).scalar()
    if slot_id is None:
        raise SlotFull(details={"starts_at": slot.starts_at.astimezone(SHANGHAI).isoformat()})
    return slot_id


def _release_place(slot_id: int) -> None:
    db.session.execute(sa.update(Slot).where(Slot.id == slot_id, Slot.booked > 0).values(booked=Slot.booked - 1))


# --- reminders -----------------------------------------------------------------------------------------------------


def reminder_times(booking: Booking, centre: Centre) -> dict[str, datetime]:
    """When the reminders of a booking are due: the evening before, and shortly before the start."""
    eve = schedule.local(booking.day - timedelta(days=1), centre.reminder_eve_at)
    times = {"eve": eve}
    if centre.reminder_before_minutes:
        times["soon"] = booking.starts_at - timedelta(minutes=centre.reminder_before_minutes)
    return times


def schedule_reminders(booking: Booking, centre: Centre) -> list[int]:
    """Outbox rows due at the reminder times still ahead, keyed by booking, kind and start (a rescheduled booking
    gets new rows; the old ones find the start changed and send nothing)."""
    now, rows = clock.now(), []
    times = reminder_times(booking, centre)
    for kind, run_at in times.items():
        if run_at <= now or (kind == "eve" and "soon" in times and run_at >= times["soon"]):
            continue
        row = outbox.enqueue(
            send_booking_reminder,
            booking.id,
            kind,
            booking.starts_at.isoformat(),
            run_at=run_at,
            key=reminder_key(booking, kind),
        )
        if row is not None:
            rows.append(row)
    return rows


def reminder_key(booking: Booking, kind: str) -> str:
    return f"govservice:booking-reminder:{booking.id}:{kind}:{int(booking.starts_at.timestamp())}"


# --- the resident's side -------------------------------------------------------------------------------------------


def _get(public_id: str, *, lock: bool = False) -> Booking:
    query = sa.select(Booking).where(Booking.public_id == public_id)
    if lock:
        query = query.with_for_update()
    booking = db.session.scalar(query)
    if booking is None:
        raise BookingNotFound()
    return booking


def read(user, public_id: str) -> dict[str, Any]:
    """The booking for its resident, whoever booked it, a family member holding an ``appointments`` delegation from
    the resident (who may cancel, move and check it in too; 403 ``delegation_denied`` when bound without that scope),
    or desk staff of its centre (who see the full name); 404 for anyone else."""
    booking = _get(public_id)
    subject_user = db.session.scalar(sa.select(Resident.user_id).where(Resident.id == booking.resident_id))
    if user.id == subject_user:
        return booking_views.view(booking)
    centre = db.session.get(Centre, booking.centre_id)
    if can(user, DESK, centre):
        return booking_views.view(booking, staff=True)
    if user.id == booking.booked_by_user_id or _acts_for_resident(user, booking):
        return booking_views.view(booking)
    authorize(user, DESK, centre, not_found=BookingNotFound)
    raise BookingNotFound()  # not reached: can() was False, so authorize raised 404 or 403


def _acts_for_resident(user, booking: Booking) -> bool:
    """Whether ``user`` holds an ``appointments`` delegation from the booking's resident (the read is recorded like
    any act for them). :raises DelegationDenied: bound to the resident, but without that scope or no longer."""
    with atomic():
        return delegate_or_refuse(user, "appointments", resident_id=booking.resident_id) is not None


def act_on(user, booking: Booking) -> Resident:
    """The resident of the booking, if ``user`` is them or acts for them with an ``appointments`` delegation."""
    public_id = db.session.scalar(sa.select(Resident.public_id).where(Resident.id == booking.resident_id))
    return delegated(user, public_id)


def delegated(user, resident_public_id: str) -> Resident:
    """``acting_for`` without a staff reason: oneself, or through an ``appointments`` delegation."""
    try:
        return acting_for(user, resident_public_id, "appointments")
    except AccountsStaffReasonRequired:
        # Staff over the resident without a delegation: their acts go through the desk endpoints, with a reason.
        raise Forbidden("工作人员请通过窗口工作台办理", details={"action": DESK}) from None


def cancel(user, public_id: str, *, reason: str | None = None) -> Booking:
    """The resident (or their delegate) cancels, until the centre's cut-off before the start."""
    with atomic():
        booking = _get(public_id, lock=True)
        act_on(user, booking)
        centre = db.session.get(Centre, booking.centre_id)
        _check_cutoff(booking, centre)
        _cancel(booking, user, reason or "居民取消", statuses=(BookingStatus.booked,))
        return booking


def staff_cancel(user, public_id: str, *, reason: str) -> Booking:
    """Desk staff cancel a booking (any time before it is served), with a reason the resident is told."""
    with atomic():
        booking = _get(public_id, lock=True)
        centre = db.session.get(Centre, booking.centre_id)
        authorize(user, DESK, centre, not_found=BookingNotFound)
        _cancel(booking, user, reason, statuses=ACTIVE_STATUSES)
        _tell_cancelled(booking, centre, reason, key=f"govservice:booking-cancelled:{booking.id}")
        return booking


def _check_cutoff(booking: Booking, centre: Centre) -> None:
    deadline = booking.starts_at - timedelta(minutes=centre.cancel_cutoff_minutes)
    if clock.now() > deadline:
        raise CutoffPassed(details={"deadline": deadline.astimezone(SHANGHAI).isoformat()})


def _cancel(booking: Booking, user, reason: str, *, statuses, closure: Closure | None = None) -> None:
    before = booking.status
    updated = db.session.execute(
        sa.update(Booking)
        .where(Booking.id == booking.id, Booking.status.in_(statuses))
        .values(
            status=BookingStatus.cancelled,
            cancelled_at=clock.now(),
            cancelled_by_user_id=getattr(user, "id", None),
            cancel_reason=reason[:200],
            closure_id=closure.id if closure else None,
        )
        .returning(Booking.id)
    ).scalar()
    if updated is None:
        raise BookingNotActive(details={"status": booking.status.value})
    _release_place(booking.slot_id)
    db.session.refresh(booking)
    audit.record(
        "govservice.booking.cancel",
        actor=user,
        subject=("resident", booking.resident_id),
        target=("govservice_booking", booking.public_id),
        before={"status": before.value},
        after={"status": booking.status.value, "closure": closure.public_id if closure else None},
        reason=reason,
    )


def cancel_for_closure(user, centre: Centre, closure: Closure) -> int:
    """Cancel the active bookings a new closure covers and tell each resident (called by ``create_closure`` with the
    windows locked)."""
    query = (
        sa.select(Booking)
        .where(Booking.centre_id == centre.id, Booking.day == closure.day, Booking.status.in_(ACTIVE_STATUSES))
        .order_by(Booking.id)
        .with_for_update()
    )
    if closure.window_id is not None:
        query = query.where(Booking.window_id == closure.window_id)
    cancelled = 0
    for booking in db.session.scalars(query).all():
        if schedule.closed([closure], booking.window_id, booking.starts_at, booking.ends_at) is None:
            continue
        reason = f"窗口停办：{closure.reason}"
        _cancel(booking, user, reason, statuses=ACTIVE_STATUSES, closure=closure)
        _tell_cancelled(booking, centre, reason, key=f"govservice:closure:{closure.id}:{booking.id}")
        cancelled += 1
    return cancelled


def _tell_cancelled(booking: Booking, centre: Centre, reason: str, *, key: str) -> None:
    notify.notify(
        "govservice.booking_cancelled",
        [booking.resident_id],
        {**booking_views.notice_data(booking, centre), "reason": reason},
        source=("govservice_booking", booking.public_id),
        key=key,
    )


def reschedule(user, public_id: str, *, starts_at: datetime, window_id: str | None = None) -> Booking:
    """Move a booking to another slot (same item), under the same rules as a new booking and the cancel cut-off."""
    with atomic():
        booking = _get(public_id, lock=True)
        act_on(user, booking)
        if booking.status is not BookingStatus.booked:
            raise BookingNotActive(details={"status": booking.status.value})
        item, _version, centre = bookable_item(
            db.session.scalar(sa.select(GuideItem.public_id).where(GuideItem.id == booking.item_id))
        )
        _check_cutoff(booking, centre)
        window = db.session.get(Window, booking.window_id)
        window = _window_for(centre, item, window_id or window.public_id)
        slot = _open_slot(centre, window, starts_at, staff=False)
        if (window.id, slot.starts_at) == (booking.window_id, booking.starts_at):
            return booking
        old = {"window": booking.window_id, "starts_at": booking.starts_at}
        new_slot_id = _take_place(window, slot)
        _release_place(booking.slot_id)
        booking.slot_id, booking.window_id = new_slot_id, window.id
        booking.day, booking.starts_at, booking.ends_at = slot.day, slot.starts_at, slot.ends_at
        with refusals(unique={ONE_PER_DAY_INDEX: AlreadyBookedThatDay(details={"day": slot.day.isoformat()})}):
            pass
        schedule_reminders(booking, centre)
        audit.record(
            "govservice.booking.reschedule",
            actor=user,
            subject=("resident", booking.resident_id),
            target=("govservice_booking", booking.public_id),
            before=old,
            after={"window": window.id, "starts_at": slot.starts_at},
        )
        return booking


def my_bookings(user, *, status: BookingStatus | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """Bookings for me and those I made for others (a delegate's list), newest first (cursor pages)."""
    mine = sa.select(Resident.id).where(Resident.user_id == user.id).scalar_subquery()
    query = sa.select(Booking).where(sa.or_(Booking.resident_id == mine, Booking.booked_by_user_id == user.id))
    if status is not None:
        query = query.where(Booking.status == status)
    page = keyset_page(db.session, query, [Booking.created_at, Booking.public_id], cursor=cursor, limit=limit)
    return {"items": booking_views.views(page["items"]), "next_cursor": page["next_cursor"]}
