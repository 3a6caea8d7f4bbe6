"""The payable kind ``marketplace.market_order``: what payments asks of an order, and what happens when it is paid.

``on_paid`` runs in payments' SAVEPOINT. An order that is no longer waiting for money (expired, cancelled) refuses
it with ``PayableRefused``, so payments refunds at once: a payment landing after the expiry released the stock never
re-opens the order (the late-payment oversell the anchors show in litemall and lilishop).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

import payments
from app.accounts.resident_models import Resident
from app.db import utcnow
from app.extensions import db
from marketplace.models import Order, OrderStatus, Vendor
from marketplace.orders import KIND, get_order, record_step
from payments import PaidInfo, PayableRefused, RefundInfo, Subject

log = logging.getLogger(__name__)


def _order(order_id: str) -> Order | None:
    return get_order(order_id)


def payee_of(order_id: str) -> int:
    order = _order(order_id)
    return db.session.scalar(sa.select(Vendor.payee_id).where(Vendor.id == order.vendor_id))


def subject_of(order_id: str) -> Subject | None:
    order = _order(order_id)
    if order is None:
        return None
    return Subject(
        resident_public_id=db.session.scalar(sa.select(Resident.public_id).where(Resident.id == order.resident_id))
    )


def amount_of(order_id: str) -> int:
    return _order(order_id).total_fen


def expires_at_of(order_id: str):
    return _order(order_id).expires_at


def is_payable(order_id: str) -> bool:
    order = _order(order_id)
    return order is not None and order.status is OrderStatus.pending_payment and order.expires_at > utcnow()


def title_of(order_id: str) -> str:
    order = _order(order_id)
    name = db.session.scalar(sa.select(Vendor.name).where(Vendor.id == order.vendor_id))
    return f"{name} 订单"


def on_paid(order_id: str, info: PaidInfo) -> None:
    """Mark the order paid (flush only).

    :raises PayableRefused: the order no longer waits for money, or the amount differs (payments refunds it).
    """
    order = get_order(order_id, lock=True)
    if order is None or order.status is not OrderStatus.pending_payment:
        raise PayableRefused(f"market order {order_id} is {order.status.value if order else 'gone'}")
    if info.amount_fen != order.total_fen:
        raise PayableRefused(f"market order {order_id} costs {order.total_fen} fen, {info.amount_fen} arrived")
    order.status, order.paid_at, order.payment_public_id = OrderStatus.paid, info.paid_at, info.payment_public_id
    db.session.flush()
    record_step(order, OrderStatus.pending_payment, note=f"支付单 {info.payment_public_id}")


def on_refunded(order_id: str, info: RefundInfo) -> None:
    """Keep the order's refunded total in step with payments (PostgreSQL's sum() arrives as a Decimal)."""
    order = get_order(order_id, lock=True)
    if order is not None:
        order.refunded_fen = min(int(info.refunded_fen), order.total_fen)
        db.session.flush()
        log.info("market order %s refunded %s fen in all", order.id, order.refunded_fen)


payments.register(
    KIND,
    payee_of=payee_of,
    subject_of=subject_of,
    scope="marketplace",
    amount_of=amount_of,
    expires_at_of=expires_at_of,
    is_payable=is_payable,
    on_paid=on_paid,
    on_refunded=on_refunded,
    title_of=title_of,
)
