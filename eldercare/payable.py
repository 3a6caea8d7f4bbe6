"""The payable kind ``eldercare.care_order``: the family pays the copay to the provider's payee.

``on_paid`` runs in payments' SAVEPOINT; an order no longer waiting for its copay (declined, cancelled) refuses the
money with ``PayableRefused`` and payments refunds it at once.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

import payments
from app.accounts.resident_models import Resident
from app.db import utcnow
from app.extensions import db
from eldercare.models import CareOrderStatus, Provider
from eldercare.orders import KIND, get_order, notify
from payments import PaidInfo, PayableRefused, RefundInfo, Subject

log = logging.getLogger(__name__)


def payee_of(order_id: str) -> int:
    order = get_order(order_id)
    return db.session.scalar(sa.select(Provider.payee_id).where(Provider.id == order.provider_id))


def subject_of(order_id: str) -> Subject | None:
    order = get_order(order_id)
    if order is None:
        return None
    return Subject(
        resident_public_id=db.session.scalar(sa.select(Resident.public_id).where(Resident.id == order.resident_id))
    )


def amount_of(order_id: str) -> int:
    return get_order(order_id).copay_fen


def is_payable(order_id: str) -> bool:
    order = get_order(order_id)
    return (
        order is not None
        and order.status is CareOrderStatus.pending_payment
        and order.copay_fen > 0
        and (order.expires_at is None or order.expires_at > utcnow())
    )


def title_of(order_id: str) -> str:
    order = get_order(order_id)
    return f"居家养老 {order.item_name} 自付部分"


def on_paid(order_id: str, info: PaidInfo) -> None:
    """Submit the order to the provider (flush only).

    :raises PayableRefused: the order no longer waits for its copay, or the amount differs.
    """
    order = get_order(order_id, lock=True)
    if order is None or order.status is not CareOrderStatus.pending_payment:
        raise PayableRefused(f"care order {order_id} is {order.status.value if order else 'gone'}")
    if info.amount_fen != order.copay_fen:
        raise PayableRefused(f"care order {order_id} copay is {order.copay_fen} fen, {info.amount_fen} arrived")
    order.status, order.paid_at, order.payment_public_id = (
        CareOrderStatus.submitted,
        info.paid_at,
        info.payment_public_id,
    )
    db.session.flush()
    notify(order)
    log.info("care order %s copay paid by payment %s", order.id, info.payment_public_id)


def on_refunded(order_id: str, info: RefundInfo) -> None:
    order = get_order(order_id, lock=True)
    if order is not None:
        order.refunded_fen = min(int(info.refunded_fen), order.copay_fen)
        db.session.flush()


payments.register(
    KIND,
    payee_of=payee_of,
    subject_of=subject_of,
    scope="eldercare",
    amount_of=amount_of,
    expires_at_of=lambda order_id: get_order(order_id).expires_at,
    is_payable=is_payable,
    on_paid=on_paid,
    on_refunded=on_refunded,
    title_of=title_of,
)
