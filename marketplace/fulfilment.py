"""The vendor's side of an order: its worklist and its steps (accept, reject with refund, prepare, ready, complete),
each recorded by ``orders.record_step``; a ready order completes on its own after ``MARKETPLACE_AUTO_CONFIRM_DAYS``."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from app import outbox
from app.api import keyset_page
from app.auth.scopes import authorize
from app.db import atomic
from app.errors import ValidationFailed
from app.extensions import db
from marketplace.errors import OrderNotFound, OrderStateConflict
from marketplace.models import Order, OrderStatus
from marketplace.orders import get_order, record_step, refund_rest, release_stock

log = logging.getLogger(__name__)

#: A ready (delivered / collectable) order completes on its own this many days later unless the resident objects.
DEFAULT_AUTO_CONFIRM_DAYS = 3

#: Vendor steps: name → (statuses it may start from, status it leads to, action).
VENDOR_STEPS = {
    "accept": ((OrderStatus.paid,), OrderStatus.accepted, "marketplace.order.decide"),
    "prepare": ((OrderStatus.accepted,), OrderStatus.preparing, "marketplace.order.decide"),
    "ready": ((OrderStatus.preparing,), OrderStatus.ready, "marketplace.order.fulfil"),
    "complete": ((OrderStatus.ready,), OrderStatus.completed, "marketplace.order.fulfil"),
    "reject": ((OrderStatus.paid, OrderStatus.accepted), OrderStatus.rejected, "marketplace.order.decide"),
}


def order_for_vendor(user, public_id: str, action: str, *, lock: bool = False) -> Order:
    order = get_order(public_id, lock=lock)
    if order is None:
        raise OrderNotFound()
    authorize(user, action, order, not_found=OrderNotFound)
    return order


def vendor_step(user, public_id: str, step: str, *, note: str | None = None) -> Order:
    """Move an order one step on the vendor's side; ``reject`` gives the stock back and refunds in full.

    :raises OrderStateConflict: the step does not apply to the order's status.
    """
    sources, target, action = VENDOR_STEPS[step]
    with atomic():
        order = order_for_vendor(user, public_id, action, lock=True)
        if order.status not in sources:
            raise OrderStateConflict(details={"status": order.status.value, "step": step})
        if step == "reject" and not (note or "").strip():
            raise ValidationFailed(details={"fields": {"note": ["拒单须说明原因"]}})
        before = order.status
        order.status = target
        if target is OrderStatus.rejected:
            release_stock(order.id)
            refund_rest(order, f"商户拒单：{note}", "reject", actor=user)
        if target is OrderStatus.ready:
            _schedule_auto_complete(order)
        db.session.flush()
        record_step(order, before, actor=user, note=note)
        return order


def vendor_orders(user, vendor_public_id: str, *, status: OrderStatus | None, cursor: str | None, limit: int):
    """A vendor's orders, newest first, optionally in one status (its staff's worklist)."""
    from marketplace.vendors import vendor_for

    vendor = vendor_for(user, vendor_public_id, "marketplace.order.read")
    query = sa.select(Order).where(Order.vendor_id == vendor.id)
    if status is not None:
        query = query.where(Order.status == status)
    query = query.options(selectinload(Order.lines), selectinload(Order.vendor))
    return keyset_page(db.session, query, [Order.id], cursor=cursor, limit=limit)


def _schedule_auto_complete(order: Order) -> None:
    from marketplace import jobs

    days = int(current_app.config.get("MARKETPLACE_AUTO_CONFIRM_DAYS", DEFAULT_AUTO_CONFIRM_DAYS))
    key = f"marketplace.autocomplete:{order.id}"
    outbox.enqueue(jobs.auto_complete_order, order.id, delay=timedelta(days=days), key=key)


def auto_complete(order_id: int) -> bool:
    """Complete an order still ``ready`` at its auto-confirm time (a no-op in any other state)."""
    with atomic():
        order = db.session.get(Order, order_id, with_for_update=True, populate_existing=True)
        if order is None or order.status is not OrderStatus.ready:
            return False
        order.status = OrderStatus.completed
        db.session.flush()
        record_step(order, OrderStatus.ready, note="超时自动确认收货")
        return True
