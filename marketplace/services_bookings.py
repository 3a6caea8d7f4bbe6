"""Service bookings, the resident's side: booking (for oneself or, with a ``marketplace`` delegation, for an elder),
reads, cancellation, the answer to the quote, the rating and rework within the warranty; and ``record_step``, which
records every step as a ``ServiceOrderEvent`` and tells the resident. The vendor's side is in ``services_steps.py``.

Every step takes the booking's row lock (``SELECT … FOR UPDATE``, re-read) before it checks the status, so two
requests racing on one booking (two dispatchers accepting it for different technicians, a quote answered twice)
are serialised by PostgreSQL and the second sees the first one's result.

The life of a booking::

    pending ─accept─▶ accepted ─depart─▶ on_the_way ─arrive─▶ arrived ─quote─▶ quoted
       │                 │                                                   │ accept_quote    │ decline_quote
       ▼ decline/cancel  ▼ cancel                               in_progress ◀┘                 ▼
    declined / cancelled                                             │ complete       awaiting_payment (call-out fee)
                                                                     ▼                 or closed (no fee)
                        rework ◀─(within warranty)── paid/rated ◀─pay─ awaiting_payment
                          └─depart─▶ on_the_way ─arrive─▶ arrived ─complete─▶ back to paid / rated (free)
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from app import files
from app.accounts.delegation import delegate_or_refuse
from app.accounts.errors import DelegationDenied
from app.accounts.resident_models import HouseholdMembership, MembershipStatus, Resident
from app.accounts.residents import require_resident, resident_for_user
from app.auth.merge import register_merge_step
from app.auth.scopes import acting_for, roles_over
from app.community.models import Household
from app.community.services import household_address
from app.db import atomic, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from marketplace import services_notify
from marketplace.errors import CommunityNotServed, VendorNotOpen
from marketplace.models import Vendor, VendorStatus
from marketplace.service_models import ServiceListing, ServiceOrder, ServiceOrderEvent, ServiceOrderStatus
from marketplace.services_access import DISPATCHERS
from marketplace.services_errors import (
    HouseholdNotYours,
    ReworkNotApplicable,
    ServiceNotFound,
    ServiceOrderNotFound,
    ServiceOrderStateConflict,
    ServiceUnavailable,
    WarrantyExpired,
)
from marketplace.services_listings import int_keyset_page

log = logging.getLogger(__name__)

KIND = "marketplace.service_order"
PHOTO_OWNER_KIND = "service_order"
DEFAULT_WARRANTY_DAYS = 30
#: How far ahead a resident may ask for a visit.
BOOKING_HORIZON = timedelta(days=60)
#: The resident may cancel until the technician sets out.
CANCELLABLE = (ServiceOrderStatus.pending, ServiceOrderStatus.accepted)
#: Where a booking rests once paid; rework may reopen it from here.
SETTLED = (ServiceOrderStatus.paid, ServiceOrderStatus.rated)

S = ServiceOrderStatus


def warranty_days() -> int:
    return int(current_app.config.get("MARKETPLACE_SERVICE_WARRANTY_DAYS", DEFAULT_WARRANTY_DAYS))


def warranty_until(order: ServiceOrder):
    """The end of the free-rework period: only work that was quoted, accepted and completed carries a warranty."""
    if order.completed_at is None or not order.quote_accepted:
        return None
    return order.completed_at + timedelta(days=warranty_days())


def get_order(public_id: str, *, lock: bool = False) -> ServiceOrder | None:
    query = sa.select(ServiceOrder).where(ServiceOrder.public_id == public_id)
    if lock:  # and re-read: an earlier unlocked read in this session may hold a stale status
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def record_step(
    order: ServiceOrder, from_status: ServiceOrderStatus | None, *, actor=None, note: str | None = None
) -> ServiceOrderEvent:
    """Record the step that brought ``order`` to its current status, and tell the resident."""
    event = ServiceOrderEvent(
        order_id=order.id,
        from_status=from_status.value if from_status else None,
        to_status=order.status.value,
        actor_user_id=getattr(actor, "id", None),
        note=note,
    )
    db.session.add(event)
    db.session.flush()
    vendor_name, service_name = db.session.execute(
        sa.select(Vendor.name, ServiceListing.name)
        .join(ServiceListing, ServiceListing.vendor_id == Vendor.id)
        .where(ServiceListing.id == order.service_id)
    ).one()
    services_notify.notify_step(order, vendor_name=vendor_name, service_name=service_name, event_id=event.id, note=note)
    log.info(
        "service order %s %s → %s by user %s", order.id, event.from_status, event.to_status, getattr(actor, "id", None)
    )
    return event


def move(order: ServiceOrder, allowed: tuple[ServiceOrderStatus, ...], target: ServiceOrderStatus, step: str):
    """Check the booking may take ``step`` from its status and set the new one; return the old status.

    :raises ServiceOrderStateConflict: it may not (the caller holds the row lock, so the status is current).
    """
    if order.status not in allowed:
        raise ServiceOrderStateConflict(details={"status": order.status.value, "step": step})
    before, order.status = order.status, target
    return before


def attach_photos(user, order: ServiceOrder, photo_ids: list[str], field: str) -> list[str]:
    """Attach private uploads of ``user`` to the booking; return their ids in order (duplicates dropped)."""
    photo_ids = list(dict.fromkeys(photo_ids))
    for photo_id in photo_ids:
        stored = files.attach(photo_id, PHOTO_OWNER_KIND, order.id, by_user=user)
        if stored.is_public:
            raise ValidationFailed(
                details={"fields": {field: {photo_id: ["照片须以私有方式上传（visibility=private）"]}}}
            )
    return photo_ids


# --- booking -------------------------------------------------------------------------------------------------------


def _household_for(resident: Resident, household_public_id: str | None) -> Household:
    """The household the technician comes to: one where the resident is an active member (the only one, if the
    resident has one and did not name it)."""
    query = (
        sa.select(Household)
        .join(HouseholdMembership, HouseholdMembership.household_id == Household.id)
        .where(HouseholdMembership.resident_id == resident.id, HouseholdMembership.status == MembershipStatus.active)
    )
    if household_public_id:
        household = db.session.scalar(query.where(Household.public_id == household_public_id))
        if household is None:
            raise HouseholdNotYours(details={"fields": {"household_id": ["不是您所在的房屋"]}})
        return household
    households = db.session.scalars(query.order_by(Household.id).limit(2)).all()
    if len(households) != 1:
        raise HouseholdNotYours(
            details={"fields": {"household_id": ["请指定上门地址" if households else "您尚未加入任何房屋"]}}
        )
    return households[0]


def _check_window(window_start, window_end) -> None:
    now = utcnow()
    errors: dict[str, list[str]] = {}
    if window_end <= window_start:
        errors["window_end"] = ["期望时段的结束须晚于开始"]
    elif window_end <= now:
        errors["window_end"] = ["期望时段已经过去"]
    if window_start > now + BOOKING_HORIZON:
        errors["window_start"] = [f"最多预约 {BOOKING_HORIZON.days} 天内的上门时间"]
    if errors:
        raise ValidationFailed(details={"fields": errors})


def book_service(user, data: dict[str, Any]) -> ServiceOrder:
    """Book a service for oneself, or for the resident named by ``for_resident_id`` (needs a ``marketplace``
    delegation), at a household where that resident lives.

    :raises ServiceUnavailable: the listing is off the shelf.
    :raises CommunityNotServed: the vendor does not serve the household's community.
    """
    with atomic():
        if data.get("for_resident_id"):
            resident = acting_for(user, data["for_resident_id"], "marketplace")
        else:
            resident = require_resident(user)
        service = db.session.scalar(
            sa.select(ServiceListing)
            .where(ServiceListing.public_id == data["service_id"])
            .options(joinedload(ServiceListing.vendor))
        )
        if service is None:
            raise ServiceNotFound()
        if service.vendor.status is not VendorStatus.approved:
            raise VendorNotOpen(details={"status": service.vendor.status.value})
        if not service.on_shelf:
            raise ServiceUnavailable()
        household = _household_for(resident, data.get("household_id"))
        if household.community_id not in service.vendor.scope_community_ids():
            raise CommunityNotServed()
        _check_window(data["window_start"], data["window_end"])
        order = ServiceOrder(
            vendor_id=service.vendor_id,
            service_id=service.id,
            resident_id=resident.id,
            placed_by_user_id=user.id,
            community_id=household.community_id,
            household_id=household.id,
            address=household_address(household)["label"][:200],
            contact_phone=data.get("contact_phone") or user.phone,
            description=data["description"],
            window_start=data["window_start"],
            window_end=data["window_end"],
            status=S.pending,
            callout_fee_fen=service.callout_fee_fen,
        )
        db.session.add(order)
        db.session.flush()
        order.photo_ids = attach_photos(user, order, data.get("photo_ids") or [], "photo_ids")
        db.session.flush()
        record_step(order, None, actor=user)
        return order


# --- the resident's side --------------------------------------------------------------------------------------------


def _own(user, order: ServiceOrder) -> bool:
    if order.placed_by_user_id == user.id:
        return True
    resident = resident_for_user(user)
    return resident is not None and resident.id == order.resident_id


def _delegated(user, order: ServiceOrder, *, refuse: bool = False) -> bool:
    """Whether ``user`` acts for the booking's resident with the ``marketplace`` scope; with ``refuse``, a delegation
    from that resident without the scope (or not active) raises ``DelegationDenied`` (403) instead of answering no."""
    try:
        return delegate_or_refuse(user, "marketplace", resident_id=order.resident_id) is not None
    except DelegationDenied:
        if refuse:
            raise
        return False


def order_for_resident(user, public_id: str, *, lock: bool = False) -> ServiceOrder:
    """A booking the caller made or that is for them; a delegate with ``marketplace`` scope reaches the subject's
    bookings through ``acting_for`` (recorded); a family member whose delegation lacks the scope gets 403
    (``delegation_denied``), anyone else 404."""
    order = get_order(public_id, lock=lock)
    if order is None or not (_own(user, order) or _delegated(user, order, refuse=True)):
        raise ServiceOrderNotFound()
    return order


def vendor_sees(user, order: ServiceOrder) -> bool:
    """Owner and clerk see every booking of their vendor; a courier (technician) only those assigned to it."""
    roles = roles_over(user, order)
    return bool(roles & DISPATCHERS) or ("courier" in roles and order.technician_user_id == user.id)


def order_visible_to(user, public_id: str) -> ServiceOrder:
    """For the detail view: the vendor's staff as ``vendor_sees`` allows, or the resident's side."""
    order = get_order(public_id)
    if order is not None and vendor_sees(user, order):
        return order
    return order_for_resident(user, public_id)


def _can_read_photo(user, order_id: int) -> bool:
    order = db.session.get(ServiceOrder, order_id)
    return order is not None and (vendor_sees(user, order) or _own(user, order) or _delegated(user, order))


# Booking photos are private: the resident's side and the vendor staff who see the booking read them.
files.register_owner_kind(PHOTO_OWNER_KIND, _can_read_photo)


def cancel_booking(user, public_id: str, *, reason: str | None) -> ServiceOrder:
    """The resident cancels before the technician sets out (nothing has been paid yet)."""
    with atomic():
        order = order_for_resident(user, public_id, lock=True)
        before = move(order, CANCELLABLE, S.cancelled, "cancel")
        db.session.flush()
        record_step(order, before, actor=user, note=reason)
        return order


def answer_quote(user, public_id: str, *, accept: bool, reason: str | None = None) -> ServiceOrder:
    """The resident accepts the quote (the work goes ahead and costs the quote) or declines it (only the call-out
    fee is owed; with no call-out fee the booking closes)."""
    with atomic():
        order = order_for_resident(user, public_id, lock=True)
        if accept:
            before = move(order, (S.quoted,), S.in_progress, "accept_quote")
            order.quote_accepted, order.amount_fen = True, order.quote_fen
        else:
            target = S.awaiting_payment if order.callout_fee_fen > 0 else S.closed
            before = move(order, (S.quoted,), target, "decline_quote")
            order.quote_accepted = False
            order.amount_fen = order.callout_fee_fen or None
            order.decline_reason = reason
        db.session.flush()
        record_step(order, before, actor=user, note=reason if not accept else "已确认报价")
        return order


def rate_booking(
    user, public_id: str, *, rating: int, comment: str | None, photo_ids: list[str] | None = None
) -> ServiceOrder:
    """The resident rates a paid booking, once, with up to 9 photos; the listing's totals move in the same unit
    of work (one conditional UPDATE), so its average never misses or double-counts a rating."""
    with atomic():
        order = order_for_resident(user, public_id, lock=True)
        before = move(order, (S.paid,), S.rated, "rate")
        order.rating, order.rating_comment, order.rated_at = rating, comment, utcnow()
        order.rating_photo_ids = attach_photos(user, order, photo_ids or [], "photo_ids")
        db.session.execute(
            sa.update(ServiceListing)
            .where(ServiceListing.id == order.service_id)
            .values(rating_count=ServiceListing.rating_count + 1, rating_sum=ServiceListing.rating_sum + rating)
        )
        db.session.flush()
        record_step(order, before, actor=user, note=f"{rating} 星")
        return order


def request_rework(user, public_id: str, *, reason: str) -> ServiceOrder:
    """Within the warranty, the resident reopens completed, paid work; the technician comes back free of charge.

    :raises ReworkNotApplicable: no work was done (the quote was declined).
    :raises WarrantyExpired: more than ``MARKETPLACE_SERVICE_WARRANTY_DAYS`` after completion.
    """
    with atomic():
        order = order_for_resident(user, public_id, lock=True)
        if order.status not in SETTLED:
            raise ServiceOrderStateConflict(details={"status": order.status.value, "step": "rework"})
        until = warranty_until(order)
        if until is None:
            raise ReworkNotApplicable()
        if utcnow() > until:
            raise WarrantyExpired(details={"warranty_until": until.isoformat()})
        before = move(order, SETTLED, S.rework, "rework")
        order.reworking, order.rework_count = True, order.rework_count + 1
        db.session.flush()
        record_step(order, before, actor=user, note=reason)
        return order


def _page(query, *, cursor: str | None, limit: int) -> dict[str, Any]:
    return int_keyset_page(query, ServiceOrder.id, cursor=cursor, limit=limit)


LIST_OPTIONS = (
    selectinload(ServiceOrder.vendor),
    selectinload(ServiceOrder.service),
    selectinload(ServiceOrder.technician),
)


def my_bookings(user, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Bookings the caller made or that are for them, newest first."""
    resident = resident_for_user(user)
    mine = ServiceOrder.placed_by_user_id == user.id
    if resident is not None:
        mine = sa.or_(mine, ServiceOrder.resident_id == resident.id)
    return _page(sa.select(ServiceOrder).where(mine).options(*LIST_OPTIONS), cursor=cursor, limit=limit)


def booking_detail(user, order: ServiceOrder) -> ServiceOrder:
    """Load what the detail view shows (vendor, service, technician, quote lines, steps, photo URLs for ``user``)."""
    order = db.session.scalar(
        sa.select(ServiceOrder)
        .where(ServiceOrder.id == order.id)
        .options(*LIST_OPTIONS, selectinload(ServiceOrder.quote_lines))
        .execution_options(populate_existing=True)
    )
    order.steps = list(
        db.session.scalars(
            sa.select(ServiceOrderEvent).where(ServiceOrderEvent.order_id == order.id).order_by(ServiceOrderEvent.id)
        )
    )
    attached = {f.public_id: f for f in files.files_of(PHOTO_OWNER_KIND, order.id)}

    def urls(ids: list[str]) -> list[dict[str, Any]]:
        shown = []
        for photo_id in ids:
            if photo_id in attached:
                url, expires_at = files.file_url(attached[photo_id], user=user)
                shown.append({"id": photo_id, "url": url, "url_expires_at": expires_at})
        return shown

    order.photos, order.completion_photos = urls(order.photo_ids), urls(order.completion_photo_ids)
    order.rating_photos = urls(order.rating_photo_ids)
    order.warranty_until = warranty_until(order)
    return order


def merge_accounts(absorbed: int, survivor: int) -> None:
    """A staff account merge: the bookings the folded account made, and those it was sent to as technician, move to
    the kept account (its roles moved too)."""
    for column in (ServiceOrder.placed_by_user_id, ServiceOrder.technician_user_id):
        db.session.execute(
            sa.update(ServiceOrder)
            .where(column == absorbed)
            .values({column.key: survivor})
            .execution_options(synchronize_session=False)
        )


register_merge_step("marketplace.services", merge_accounts)
