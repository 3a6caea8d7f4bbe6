"""Service bookings, the vendor's side: the worklist, accepting (naming the technician) or declining, reassigning,
and the technician's steps (set out, arrive, quote, complete), each recorded by ``services_bookings.record_step``.

Owner and clerk dispatch; a courier is the technician and reaches only the bookings assigned to it (404 for the rest,
403 for a dispatcher's step on its own assignment).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.auth.models import RoleAssignment
from app.auth.scopes import ACTIONS, roles_over
from app.db import atomic, utcnow
from app.errors import Forbidden, ValidationFailed
from app.extensions import db
from marketplace.models import VENDOR_ROLES
from marketplace.service_models import ServiceOrder, ServiceOrderStatus, ServiceQuoteLine
from marketplace.services_access import DISPATCHERS
from marketplace.services_bookings import (
    LIST_OPTIONS,
    _page,
    attach_photos,
    get_order,
    move,
    record_step,
    vendor_sees,
)
from marketplace.services_errors import ServiceOrderNotFound, ServiceOrderStateConflict, TechnicianNotStaff
from marketplace.vendors import vendor_for

log = logging.getLogger(__name__)

S = ServiceOrderStatus
#: Before the technician sets out (first visit or rework), the dispatcher may still change who goes.
ASSIGNABLE = (S.accepted, S.rework)


def order_for_vendor(user, public_id: str, action: str, *, lock: bool = False) -> ServiceOrder:
    """The booking, if ``user`` is vendor staff who sees it (``vendor_sees``) and holds a role ``action`` allows.

    :raises ServiceOrderNotFound: another vendor's booking, or a technician's booking assigned to someone else.
    :raises Forbidden: the caller sees it but their role does not allow ``action``.
    """
    order = get_order(public_id, lock=lock)
    if order is None or not vendor_sees(user, order):
        raise ServiceOrderNotFound()
    roles = roles_over(user, order)
    if not roles & ACTIONS[action]:
        raise Forbidden(details={"action": action, "roles": sorted(roles)})
    return order


def _technician(order: ServiceOrder, technician_public_id: str) -> User:
    """An active account holding a role at the booking's vendor.

    :raises TechnicianNotStaff: anyone else (422: the technician is named in the body).
    """
    technician = db.session.scalar(
        sa.select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(
            User.public_id == technician_public_id,
            User.is_active,
            RoleAssignment.scope_kind == "vendor",
            RoleAssignment.scope_id == order.vendor_id,
            RoleAssignment.role.in_(VENDOR_ROLES),
        )
        .limit(1)
    )
    if technician is None:
        raise TechnicianNotStaff(details={"fields": {"technician_id": ["不是本店员工"]}})
    return technician


def accept_booking(user, public_id: str, *, technician_id: str, note: str | None = None) -> ServiceOrder:
    """A dispatcher accepts a pending booking and names the technician who goes.

    Two dispatchers accepting at once (for two technicians) queue on the row lock; the second finds the booking
    accepted and gets 409, so a booking never has two technicians.
    """
    with atomic():
        order = order_for_vendor(user, public_id, "marketplace.booking.dispatch", lock=True)
        technician = _technician(order, technician_id)
        before = move(order, (S.pending,), S.accepted, "accept")
        order.technician_user_id = technician.id
        db.session.flush()
        record_step(order, before, actor=user, note=note or f"师傅：{technician.display_name}")
        return order


def decline_booking(user, public_id: str, *, reason: str) -> ServiceOrder:
    """A dispatcher declines a pending booking, saying why."""
    with atomic():
        order = order_for_vendor(user, public_id, "marketplace.booking.dispatch", lock=True)
        if not reason.strip():
            raise ValidationFailed(details={"fields": {"reason": ["拒单须说明原因"]}})
        before = move(order, (S.pending,), S.declined, "decline")
        order.decline_reason = reason
        db.session.flush()
        record_step(order, before, actor=user, note=reason)
        return order


def assign_technician(user, public_id: str, *, technician_id: str, note: str | None = None) -> ServiceOrder:
    """A dispatcher sends another technician, before the visit (or the rework visit) starts."""
    with atomic():
        order = order_for_vendor(user, public_id, "marketplace.booking.dispatch", lock=True)
        if order.status not in ASSIGNABLE:
            raise ServiceOrderStateConflict(details={"status": order.status.value, "step": "assign"})
        technician = _technician(order, technician_id)
        order.technician_user_id = technician.id
        db.session.flush()
        record_step(order, order.status, actor=user, note=note or f"改派师傅：{technician.display_name}")
        return order


#: The technician's plain steps: name → (statuses it may start from, status it leads to).
VISIT_STEPS = {
    "depart": ((S.accepted, S.rework), S.on_the_way),
    "arrive": ((S.on_the_way,), S.arrived),
}


def visit_step(user, public_id: str, step: str, *, note: str | None = None) -> ServiceOrder:
    """The technician sets out or arrives."""
    sources, target = VISIT_STEPS[step]
    with atomic():
        order = order_for_vendor(user, public_id, "marketplace.booking.work", lock=True)
        before = move(order, sources, target, step)
        db.session.flush()
        record_step(order, before, actor=user, note=note)
        return order


def submit_quote(user, public_id: str, *, lines: list[dict[str, Any]], note: str | None = None) -> ServiceOrder:
    """On site, the technician quotes the work line by line; the resident then accepts or declines it.

    :raises ServiceOrderStateConflict: not on site, or on a rework visit (rework is free).
    """
    with atomic():
        order = order_for_vendor(user, public_id, "marketplace.booking.work", lock=True)
        if order.reworking:
            raise ServiceOrderStateConflict(
                "保修期内返修不收费，无需报价", details={"status": order.status.value, "step": "quote"}
            )
        before = move(order, (S.arrived,), S.quoted, "quote")
        total = 0
        for line in lines:
            amount = line["unit_price_fen"] * line["quantity"]
            total += amount
            db.session.add(
                ServiceQuoteLine(
                    order_id=order.id,
                    name=line["name"],
                    quantity=line["quantity"],
                    unit_price_fen=line["unit_price_fen"],
                    amount_fen=amount,
                )
            )
        order.quote_fen = total
        db.session.flush()
        record_step(order, before, actor=user, note=note or f"报价 ¥{total // 100}.{total % 100:02d}")
        return order


def complete_work(user, public_id: str, *, photo_ids: list[str], note: str | None = None) -> ServiceOrder:
    """The technician finishes the work, with photos: the quoted work goes to payment; a rework visit goes back to
    where the booking rested (paid or rated), free of charge."""
    with atomic():
        order = order_for_vendor(user, public_id, "marketplace.booking.work", lock=True)
        if order.reworking:
            target = S.rated if order.rated_at is not None else S.paid
            before = move(order, (S.arrived,), target, "complete")
            order.reworking = False
        else:
            before = move(order, (S.in_progress,), S.awaiting_payment, "complete")
            order.completed_at = utcnow()
        shown = list(dict.fromkeys([*order.completion_photo_ids, *attach_photos(user, order, photo_ids, "photo_ids")]))
        if len(shown) > 9:
            raise ValidationFailed(details={"fields": {"photo_ids": ["完工照片最多 9 张"]}})
        order.completion_photo_ids = shown
        db.session.flush()
        record_step(order, before, actor=user, note=note or ("返修完工" if before is S.arrived else "完工"))
        return order


def vendor_bookings(
    user, vendor_public_id: str, *, status: ServiceOrderStatus | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A vendor's bookings, newest first (its dispatchers' worklist); a technician sees its own assignments."""
    vendor = vendor_for(user, vendor_public_id, "marketplace.booking.read")
    query = sa.select(ServiceOrder).where(ServiceOrder.vendor_id == vendor.id)
    if not roles_over(user, vendor) & DISPATCHERS:
        query = query.where(ServiceOrder.technician_user_id == user.id)
    if status is not None:
        query = query.where(ServiceOrder.status == status)
    return _page(query.options(*LIST_OPTIONS), cursor=cursor, limit=limit)


def reply_to_rating(user, public_id: str, *, text: str) -> ServiceOrder:
    """The vendor answers a booking's rating, once (owner or clerk); the reply shows under the rating.

    :raises ServiceOrderStateConflict: not rated yet, or already answered.
    """
    with atomic():
        order = order_for_vendor(user, public_id, "marketplace.booking.dispatch", lock=True)
        if order.rating is None or order.vendor_reply is not None:
            step = "reply" if order.rating is not None else "reply_before_rating"
            raise ServiceOrderStateConflict(details={"status": order.status.value, "step": step})
        order.vendor_reply, order.vendor_replied_at = text, utcnow()
        db.session.flush()
        return order
