"""The vendor's side of an order: its worklist and its steps (accept, reject with refund, prepare, dispatch, delivered,
ready, complete), each recorded by ``orders.record_step``; a ready or delivered order completes on its own after
``MARKETPLACE_AUTO_CONFIRM_DAYS`` (a locker order instead has its pickup deadline, see ``lockers_flow``)."""

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
from marketplace.models import Fulfilment, Order, OrderStatus
from marketplace.orders import get_order, record_step, refund_rest, release_stock

log = logging.getLogger(__name__)

#: A ready (delivered / collectable) order completes on its own this many days later unless the resident objects.
DEFAULT_AUTO_CONFIRM_DAYS = 3

#: Vendor steps: name → (statuses it may start from, status it leads to, action).
VENDOR_STEPS = {
    "accept": ((OrderStatus.paid,), OrderStatus.accepted, "marketplace.order.decide"),
    "prepare": ((OrderStatus.accepted,), OrderStatus.preparing, "marketplace.order.decide"),
    # Out for delivery: a locker order reserves its cells here (or falls back to the shop and stays preparing).
    "dispatch": ((OrderStatus.preparing,), OrderStatus.out_for_delivery, "marketplace.order.fulfil"),
    "delivered": ((OrderStatus.out_for_delivery,), OrderStatus.delivered, "marketplace.order.fulfil"),
    # Ready to collect at the shop (also an order that came back to the shop after its locker reservation lapsed);
    # a locker order becomes ready when the courier deposits it.
    "ready": ((OrderStatus.preparing, OrderStatus.out_for_delivery), OrderStatus.ready, "marketplace.order.fulfil"),
    "complete": ((OrderStatus.ready, OrderStatus.delivered), OrderStatus.completed, "marketplace.order.fulfil"),
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
        _check_fulfilment(order, step)
        before = order.status
        if step == "dispatch" and order.fulfilment is Fulfilment.locker:
            from marketplace.lockers_flow import dispatch_to_locker

            order.dispatch = dispatch_to_locker(order, user)
            if order.dispatch["fell_back"]:
                return order  # still preparing, now for collection at the shop (recorded and pushed)
        order.status = target
        if target is OrderStatus.rejected:
            release_stock(order.id)
            refund_rest(order, f"商户拒单：{note}", "reject", actor=user)
        if target in (OrderStatus.ready, OrderStatus.delivered):
            _schedule_auto_complete(order)
        db.session.flush()
        record_step(order, before, actor=user, note=note)
        return order


def _check_fulfilment(order: Order, step: str) -> None:
    """Steps that depend on how the order reaches the resident.

    :raises OrderStateConflict: e.g. ``delivered`` for a locker order, ``complete`` while it sits in a locker cell.
    """
    fulfilment = order.fulfilment
    refused = (
        (step == "dispatch" and fulfilment is Fulfilment.shop)
        or (step == "delivered" and fulfilment is not Fulfilment.delivery)
        or (step == "ready" and order.status is OrderStatus.out_for_delivery and fulfilment is not Fulfilment.shop)
    )
    if step == "complete" and not refused:
        from marketplace.lockers import order_cells

        refused = bool(order_cells(order.id))
    if refused:
        raise OrderStateConflict(details={"status": order.status.value, "step": step, "fulfilment": fulfilment.value})


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
    """Complete an order still ``ready`` or ``delivered`` at its auto-confirm time (a no-op in any other state)."""
    with atomic():
        order = db.session.get(Order, order_id, with_for_update=True, populate_existing=True)
        if order is None or order.status not in (OrderStatus.ready, OrderStatus.delivered):
            return False
        from marketplace.lockers import order_cells

        if order_cells(order.id):
            return False  # in a locker cell: its pickup deadline decides, not auto-confirmation
        before = order.status
        order.status = OrderStatus.completed
        db.session.flush()
        record_step(order, before, note="超时自动确认收货")
        return True
