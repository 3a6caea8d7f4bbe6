"""The payable kind ``marketplace.service_order``: a booking waiting for money (the accepted quote once the work is
done, or the call-out fee after a declined quote), paid to the vendor's payee.

``on_paid`` runs in payments' SAVEPOINT. A booking no longer waiting for money, or money of another amount, is refused
with ``PayableRefused`` and payments refunds it at once. Once applied, a job asks for the platform's profit share (the
vendor has fulfilled: payment only opens after the visit).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

import payments
from app import outbox
from app.accounts.resident_models import Resident
from app.extensions import db
from marketplace.models import Vendor
from marketplace.service_models import ServiceListing, ServiceOrderStatus
from marketplace.services_bookings import KIND, get_order, record_step
from payments import PaidInfo, PayableRefused, Subject

log = logging.getLogger(__name__)


def payee_of(order_id: str) -> int:
    order = get_order(order_id)
    return db.session.scalar(sa.select(Vendor.payee_id).where(Vendor.id == order.vendor_id))


def subject_of(order_id: str) -> Subject | None:
    order = get_order(order_id)
    if order is None:
        return None
    return Subject(
        resident_public_id=db.session.scalar(sa.select(Resident.public_id).where(Resident.id == order.resident_id))
    )


def amount_of(order_id: str) -> int:
    return get_order(order_id).amount_fen


def expires_at_of(_order_id: str):
    return None  # a finished visit waits for its money; payments gives the payment its default lifetime


def is_payable(order_id: str) -> bool:
    order = get_order(order_id)
    return order is not None and order.status is ServiceOrderStatus.awaiting_payment and bool(order.amount_fen)


def title_of(order_id: str) -> str:
    order = get_order(order_id)
    vendor, service = db.session.execute(
        sa.select(Vendor.name, ServiceListing.name)
        .join(ServiceListing, ServiceListing.vendor_id == Vendor.id)
        .where(ServiceListing.id == order.service_id)
    ).one()
    what = service if order.quote_accepted else f"{service}（上门费）"
    return f"{vendor} {what}"


def on_paid(order_id: str, info: PaidInfo) -> None:
    """Mark the booking paid (flush only) and schedule the profit-sharing request.

    :raises PayableRefused: the booking no longer waits for money, or the amount differs (payments refunds it).
    """
    order = get_order(order_id, lock=True)
    if order is None or order.status is not ServiceOrderStatus.awaiting_payment:
        raise PayableRefused(f"service order {order_id} is {order.status.value if order else 'gone'}")
    if info.amount_fen != order.amount_fen:
        raise PayableRefused(f"service order {order_id} costs {order.amount_fen} fen, {info.amount_fen} arrived")
    order.status, order.paid_at, order.payment_public_id = ServiceOrderStatus.paid, info.paid_at, info.payment_public_id
    db.session.flush()
    record_step(order, ServiceOrderStatus.awaiting_payment, note=f"支付单 {info.payment_public_id}")
    from marketplace import services_jobs

    outbox.enqueue(services_jobs.share_service_order_profit, order.id, key=f"marketplace.service_profit:{order.id}")


payments.register(
    KIND,
    payee_of=payee_of,
    subject_of=subject_of,
    scope="marketplace",
    amount_of=amount_of,
    expires_at_of=expires_at_of,
    is_payable=is_payable,
    on_paid=on_paid,
    title_of=title_of,
)
