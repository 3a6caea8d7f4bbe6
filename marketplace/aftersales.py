"""After-sales: a refund request per line of a completed order (reason, private photos) within
``MARKETPLACE_AFTERSALES_DAYS`` of completion; the vendor approves (refund through payments) or refuses with a reason;
the resident may escalate a refusal to the community's staff, who refund or uphold it (audited).

Never more than was paid for a line goes back: every refund reserves its amount on the line's account first
(``adjustments.reserve_line``, one conditional UPDATE under a CHECK). A line has at most one open request
(``requested`` or ``escalated``), by a partial unique index; a decision moves the request out of its state under a
row lock, so two approvals at once refund once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app import audit, files, push
from app.api import keyset_page
from app.auth.scopes import authorize, can, community_ids_for, register_action
from app.db import atomic, utcnow
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from marketplace.adjustments import ensure_accounts, line_by_number, refundable_fen, reserve_line, send_refund
from marketplace.aftersales_errors import (
    AftersaleNotFound,
    AftersaleOpen,
    AftersaleStateConflict,
    AftersaleWindowClosed,
    LineRefundExceeded,
    OrderNotCompleted,
)
from marketplace.aftersales_models import Aftersale, AftersaleStatus, RefundCause
from marketplace.models import Order, OrderEvent, OrderLine, OrderStatus, Vendor

log = logging.getLogger(__name__)

DEFAULT_AFTERSALES_DAYS = 7
OWNER_KIND = "market_aftersale"
EVENT = "marketplace.aftersale"
VENDOR_EVENT = "marketplace.aftersale_request"

for _action, _roles in {
    "marketplace.aftersales.read": ("owner", "clerk", "admin", "staff"),
    "marketplace.aftersales.decide": ("owner", "clerk"),  # approve (refund) or refuse
    "marketplace.aftersales.arbitrate": ("admin", "staff"),  # community staff settle an escalated refusal
}.items():
    register_action(_action, _roles)

STATUS_LABELS = {
    "requested": "已提交，等待商户处理",
    "approved": "商户已同意，款项原路退回",
    "refused": "商户已拒绝",
    "escalated": "已提交社区仲裁",
    "arbitrated_refund": "社区仲裁：退款，款项原路退回",
    "arbitrated_upheld": "社区仲裁：维持商户决定",
}

push.register_event(
    EVENT,
    "售后进度",
    channels=("inbox",),
    scope="marketplace",
    title="{vendor}售后：{status}",
    body="您对“{item}”的售后申请{status}。{note}",
)


push.register_event(
    VENDOR_EVENT,
    "新的售后申请",
    channels=("inbox",),
    scope="marketplace",
    title="售后申请：{item}",
    body="{vendor}收到“{item}”的售后申请（{amount}）：{reason}",
)


def aftersales_days() -> int:
    return int(current_app.config.get("MARKETPLACE_AFTERSALES_DAYS", DEFAULT_AFTERSALES_DAYS))


def _can_read_photos(user, owner_id: int) -> bool:
    item = db.session.get(Aftersale, owner_id)
    return item is not None and (_is_residents(user, item) or can(user, "marketplace.aftersales.read", item))


# Photos are private: the resident's side, the vendor's staff and the community's staff read them by signed URL.
files.register_owner_kind(OWNER_KIND, _can_read_photos)


def _is_residents(user, item: Aftersale) -> bool:
    from marketplace.orders import order_for_resident

    order = db.session.get(Order, item.order_id)
    try:
        order_for_resident(user, order.public_id)
    except NotFound:  # not the resident, whoever placed it, or a marketplace delegate
        return False
    return True


def _completed_at(order_id: int):
    return db.session.scalar(
        sa.select(sa.func.min(OrderEvent.at)).where(
            OrderEvent.order_id == order_id, OrderEvent.to_status == OrderStatus.completed.value
        )
    )


def _notify(item: Aftersale, note: str | None = None) -> None:
    vendor_name = db.session.scalar(sa.select(Vendor.name).where(Vendor.id == item.vendor_id))
    line_name = db.session.scalar(sa.select(OrderLine.name).where(OrderLine.id == item.line_id))
    push.send(
        EVENT,
        [item.resident_id],
        {"vendor": vendor_name, "status": STATUS_LABELS[item.status.value], "item": line_name, "note": note or ""},
        source=(OWNER_KIND, item.public_id),
        key=f"marketplace.aftersale:{item.public_id}:{item.status.value}",
    )


def _notify_vendor(item: Aftersale, line_name: str) -> None:
    """Tell the vendor's owner and clerks (those with a resident profile, as push reaches residents) of a request."""
    from app.accounts.resident_models import Resident
    from app.auth.models import RoleAssignment

    staff = (
        sa.select(Resident.id)
        .join(RoleAssignment, RoleAssignment.user_id == Resident.user_id)
        .where(
            RoleAssignment.scope_kind == "vendor",
            RoleAssignment.scope_id == item.vendor_id,
            RoleAssignment.role.in_(("owner", "clerk")),
        )
    )
    vendor_name = db.session.scalar(sa.select(Vendor.name).where(Vendor.id == item.vendor_id))
    push.send(
        VENDOR_EVENT,
        staff,
        {
            "vendor": vendor_name,
            "item": line_name,
            "amount": f"¥{item.amount_fen // 100}.{item.amount_fen % 100:02d}",
            "reason": item.reason[:100],
        },
        source=(OWNER_KIND, item.public_id),
        key=f"marketplace.aftersale_request:{item.public_id}",
    )


# --- the resident's side ----------------------------------------------------------------------------------------


def request_refund(user, order_public_id: str, data: dict[str, Any]) -> Aftersale:
    """The resident (or a ``marketplace`` delegate) asks for a refund of one line of a completed order.

    :raises OrderNotCompleted: the order is not completed.
    :raises AftersaleWindowClosed: more than ``MARKETPLACE_AFTERSALES_DAYS`` since completion.
    :raises LineRefundExceeded: more than what is left to refund on the line.
    :raises AftersaleOpen: the line already has a request waiting for a decision or an arbitration.
    """
    from marketplace.orders import order_for_resident

    with atomic():
        order = order_for_resident(user, order_public_id, lock=True)
        if order.status is not OrderStatus.completed:
            raise OrderNotCompleted(details={"status": order.status.value})
        completed = _completed_at(order.id)
        if completed is not None and utcnow() > completed + timedelta(days=aftersales_days()):
            raise AftersaleWindowClosed(details={"days": aftersales_days()})
        line = line_by_number(order, data["line_no"])
        ensure_accounts(order.id)
        left = refundable_fen(line.id)
        amount = data.get("amount_fen") or left
        if left <= 0 or amount > left:
            raise LineRefundExceeded(details={"refundable_fen": left})
        item = Aftersale(
            order_id=order.id,
            line_id=line.id,
            vendor_id=order.vendor_id,
            community_id=order.community_id,
            resident_id=order.resident_id,
            requested_by_user_id=user.id,
            reason=data["reason"],
            amount_fen=amount,
            photo_ids=list(dict.fromkeys(data.get("photo_ids") or [])),
        )
        try:
            with atomic(savepoint=True):
                db.session.add(item)
                db.session.flush()
        except IntegrityError:
            raise AftersaleOpen() from None
        for photo_id in item.photo_ids:
            files.attach(photo_id, OWNER_KIND, item.id, by_user=user)
        _notify_vendor(item, line.name)
        log.info("aftersale %s for order %s line %s by user %s", item.id, order.id, line.id, user.id)
        return item


def escalate(user, public_id: str, reason: str) -> Aftersale:
    """The resident takes the vendor's refusal to the community's staff (within the after-sales window of it).

    :raises AftersaleStateConflict: the request was not refused.
    """
    from marketplace.orders import order_for_resident

    with atomic():
        item = _get(public_id, lock=True)
        order = db.session.get(Order, item.order_id)
        order_for_resident(user, order.public_id)  # 404 for anyone else
        if item.status is not AftersaleStatus.refused:
            raise AftersaleStateConflict(details={"status": item.status.value})
        if utcnow() > item.decided_at + timedelta(days=aftersales_days()):
            raise AftersaleWindowClosed(details={"days": aftersales_days()})
        try:
            with atomic(savepoint=True):
                item.status, item.escalation_reason, item.escalated_at = AftersaleStatus.escalated, reason, utcnow()
                db.session.flush()
        except IntegrityError:
            raise AftersaleOpen() from None
        audit.record(
            "marketplace.aftersale.escalate", actor=user, target=("market_aftersale", item.public_id), reason=reason
        )
        _notify(item)
        return item


# --- the vendor's and the staff's side --------------------------------------------------------------------------


def _get(public_id: str, *, lock: bool = False) -> Aftersale:
    query = sa.select(Aftersale).where(Aftersale.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    item = db.session.scalar(query)
    if item is None:
        raise AftersaleNotFound()
    return item


def aftersale_for(user, public_id: str, action: str, *, lock: bool = False) -> Aftersale:
    item = _get(public_id, lock=lock)
    authorize(user, action, item, not_found=AftersaleNotFound)
    return item


def _refund(item: Aftersale, amount: int, cause: RefundCause, key: str, reason: str, actor) -> None:
    if not reserve_line(item.line_id, amount):
        raise LineRefundExceeded(details={"refundable_fen": refundable_fen(item.line_id)})
    order = db.session.get(Order, item.order_id)
    send_refund(order, amount, cause, key, reason, actor=actor)
    item.refunded_fen = amount


def decide(user, public_id: str, *, approve: bool, note: str | None) -> Aftersale:
    """The vendor approves (the requested amount is refunded) or refuses (a reason is required).

    :raises AftersaleStateConflict: already decided.
    :raises LineRefundExceeded: the line has less than the amount left to refund.
    """
    with atomic():
        item = aftersale_for(user, public_id, "marketplace.aftersales.decide", lock=True)
        if item.status is not AftersaleStatus.requested:
            raise AftersaleStateConflict(details={"status": item.status.value})
        if not approve and not (note or "").strip():
            raise ValidationFailed(details={"fields": {"note": ["拒绝售后须说明原因"]}})
        before = item.status.value
        if approve:
            _refund(item, item.amount_fen, RefundCause.aftersales, f"aftersale:{item.public_id}", "售后退款", user)
            item.status = AftersaleStatus.approved
        else:
            item.status = AftersaleStatus.refused
        item.vendor_note, item.decided_by_user_id, item.decided_at = note, user.id, utcnow()
        db.session.flush()
        audit.record(
            "marketplace.aftersale.decide",
            actor=user,
            target=("market_aftersale", item.public_id),
            before={"status": before},
            after={"status": item.status.value, "refunded_fen": item.refunded_fen},
            reason=note,
        )
        _notify(item, note)
        return item


def arbitrate(user, public_id: str, *, refund: bool, note: str, amount_fen: int | None = None) -> Aftersale:
    """Community staff settle an escalated refusal: refund (up to the amount asked) or uphold the vendor (audited).

    :raises AftersaleStateConflict: not escalated.
    """
    with atomic():
        item = aftersale_for(user, public_id, "marketplace.aftersales.arbitrate", lock=True)
        if item.status is not AftersaleStatus.escalated:
            raise AftersaleStateConflict(details={"status": item.status.value})
        amount = amount_fen or item.amount_fen
        if amount > item.amount_fen:
            raise ValidationFailed(details={"fields": {"amount_fen": [f"不能超过申请金额 {item.amount_fen} 分"]}})
        if refund:
            key = f"aftersale:{item.public_id}:arbitration"
            _refund(item, amount, RefundCause.arbitration, key, "售后仲裁退款", user)
            item.status = AftersaleStatus.arbitrated_refund
        else:
            item.status = AftersaleStatus.arbitrated_upheld
        item.arbitration_note, item.arbiter_user_id, item.arbitrated_at = note, user.id, utcnow()
        db.session.flush()
        audit.record(
            "marketplace.aftersale.arbitrate",
            actor=user,
            target=("market_aftersale", item.public_id),
            before={"status": AftersaleStatus.escalated.value},
            after={"status": item.status.value, "refunded_fen": item.refunded_fen},
            reason=note,
        )
        _notify(item, note)
        return item


# --- reads ------------------------------------------------------------------------------------------------------


def _loaded(query):
    return query.options(selectinload(Aftersale.order), selectinload(Aftersale.line))


def loaded(item: Aftersale) -> Aftersale:
    """The request again with its order and line, for the response."""
    return db.session.scalar(
        _loaded(sa.select(Aftersale).where(Aftersale.id == item.id)).execution_options(populate_existing=True)
    )


def aftersale_visible_to(user, public_id: str) -> Aftersale:
    """One request, for the resident's side, the vendor's staff or the community's staff (others: 404)."""
    item = db.session.scalar(_loaded(sa.select(Aftersale).where(Aftersale.public_id == public_id)))
    if item is None or not (can(user, "marketplace.aftersales.read", item) or _is_residents(user, item)):
        raise AftersaleNotFound()
    return item


def order_aftersales(user, order_public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """An order's requests, newest first (whoever may see the order)."""
    from marketplace.orders import order_visible_to

    order = order_visible_to(user, order_public_id)
    query = _loaded(sa.select(Aftersale).where(Aftersale.order_id == order.id))
    return keyset_page(db.session, query, [Aftersale.id], cursor=cursor, limit=limit)


def vendor_aftersales(user, vendor_public_id: str, *, status, cursor: str | None, limit: int) -> dict[str, Any]:
    """A vendor's requests, newest first, optionally in one status (its staff's worklist)."""
    from marketplace.vendors import vendor_for

    vendor = vendor_for(user, vendor_public_id, "marketplace.aftersales.decide")
    query = sa.select(Aftersale).where(Aftersale.vendor_id == vendor.id)
    if status is not None:
        query = query.where(Aftersale.status == status)
    return keyset_page(db.session, _loaded(query), [Aftersale.id], cursor=cursor, limit=limit)


def staff_aftersales(user, *, status, cursor: str | None, limit: int) -> dict[str, Any]:
    """Requests in the communities where the caller arbitrates (escalated ones by default), newest first."""
    communities = community_ids_for(user, "marketplace.aftersales.arbitrate")
    query = sa.select(Aftersale)
    if communities is not None:
        query = query.where(Aftersale.community_id.in_(communities or [-1]))
    if status is not None:
        query = query.where(Aftersale.status == status)
    return keyset_page(db.session, _loaded(query), [Aftersale.id], cursor=cursor, limit=limit)
