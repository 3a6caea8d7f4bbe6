"""The payable kind ``fees.fee_order``: what payments asks of a fee order, and what happens when it is paid.

``on_paid`` runs inside payments' SAVEPOINT, in the transaction that records the money. It marks the order's bills
paid with a guarded ``UPDATE … WHERE status = 'unpaid'`` and takes the next receipt number of the estate and year.
The number comes from a counter row locked until the transaction ends, so two payments never share a number, and a
rollback (of the savepoint or the whole transaction) gives the number back: receipt numbers have no gaps.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

import payments
from app import audit
from app.accounts.households import mask_name
from app.accounts.resident_models import Resident
from app.api import SHANGHAI
from app.community.models import Estate, Household
from app.community.services import household_address
from app.extensions import db
from fees.models import (
    Bill,
    BillStatus,
    FeeOrder,
    FeeOrderLine,
    LineState,
    OrderStatus,
    Receipt,
    ReceiptCounter,
)
from fees.orders import KIND, get_order, order_lines, order_title
from fees.payees import payee_brief
from payments import PaidInfo, PayableRefused, RefundInfo, Subject

log = logging.getLogger(__name__)


class OrderNotOpen(Exception):
    """``on_paid`` for an order that is no longer open (payments keeps the money unapplied, then refunds it)."""


def next_receipt_seq(estate_id: int, year: int) -> int:
    """The next receipt number of an estate and year, inside the caller's transaction.

    One statement: the counter row is inserted (first receipt of the year) or incremented, and either way stays
    locked until the transaction ends. A concurrent payment for the same estate waits here; if this transaction (or
    just the savepoint around ``on_paid``) rolls back, the increment is undone and the waiter gets the same number.
    """
    statement = pg_insert(ReceiptCounter).values(estate_id=estate_id, year=year, last_seq=1)
    statement = statement.on_conflict_do_update(
        index_elements=[ReceiptCounter.estate_id, ReceiptCounter.year],
        set_={"last_seq": ReceiptCounter.last_seq + 1},
    ).returning(ReceiptCounter.last_seq)
    return db.session.execute(statement).scalar_one()


def receipt_number(year: int, seq: int) -> str:
    return f"{year}-{seq:06d}"


def _document(order: FeeOrder, lines: list[tuple[FeeOrderLine, Bill]]) -> dict:
    """What the receipt shows, frozen at payment: later edits to names or bills do not change a receipt."""
    household = db.session.get(Household, order.household_id)
    paid_for = db.session.get(Resident, order.for_resident_id)
    return {
        "payee": payee_brief(order.payee_id),
        "estate": db.session.get(Estate, order.estate_id).name,
        "household": {"id": household.public_id, "address": household_address(household)["label"]},
        "paid_for": mask_name(paid_for.real_name) if paid_for and paid_for.real_name else None,
        "lines": [
            {
                "bill_id": bill.public_id,
                "title": bill.title,
                "period": bill.period.isoformat(),
                "due_on": bill.due_on.isoformat(),
                "principal_fen": line.principal_fen,
                "late_fee_fen": line.late_fee_fen,
                "amount_fen": line.principal_fen + line.late_fee_fen,
            }
            for line, bill in lines
        ],
    }


def issue_receipt(order: FeeOrder, lines: list[tuple[FeeOrderLine, Bill]], info: PaidInfo) -> Receipt:
    year = info.paid_at.astimezone(SHANGHAI).year
    document = _document(order, lines)
    seq = next_receipt_seq(order.estate_id, year)
    receipt = Receipt(
        number=receipt_number(year, seq),
        estate_id=order.estate_id,
        year=year,
        seq=seq,
        fee_order_id=order.id,
        household_id=order.household_id,
        community_id=order.community_id,
        payee_id=order.payee_id,
        payer_user_id=info.payer_user_id,
        document=document,
        principal_fen=order.principal_fen,
        late_fee_fen=order.late_fee_fen,
        total_fen=order.amount_fen,
        payment_public_id=info.payment_public_id,
        out_trade_no=info.out_trade_no,
        channel=info.channel,
        paid_at=info.paid_at,
    )
    db.session.add(receipt)
    db.session.flush()
    return receipt


def on_paid(order_public_id: str, info: PaidInfo) -> None:
    """Mark the order and exactly its bills paid and issue one receipt (flush only; payments' savepoint).

    :raises PayableRefused: the money is not the order's amount, or a bill changed since the order was made
        (payments refunds it at once).
    :raises OrderNotOpen: the order is no longer open (payments keeps the money unapplied and retries, then refunds).
    """
    order = get_order(order_public_id, lock=True)
    if order is None or order.status is not OrderStatus.open:
        raise OrderNotOpen(order_public_id)
    if info.amount_fen != order.amount_fen:
        raise PayableRefused(f"fee order {order.public_id} costs {order.amount_fen} fen, {info.amount_fen} arrived")
    lines = order_lines(order.id)
    line = FeeOrderLine.__table__
    updated = db.session.execute(
        sa.update(Bill)
        .where(
            Bill.id == line.c.bill_id,
            line.c.order_id == order.id,
            line.c.state == LineState.open.value,
            Bill.status == BillStatus.unpaid,
            Bill.discount_fen == line.c.discount_fen,
            Bill.late_fee_waived == line.c.late_fee_waived,
        )
        .values(
            status=BillStatus.paid,
            paid_at=info.paid_at,
            paid_principal_fen=line.c.principal_fen,
            paid_late_fee_fen=line.c.late_fee_fen,
            fee_order_id=order.id,
        )
        .returning(Bill.id)
        .execution_options(synchronize_session=False)
    ).all()
    if len(updated) != len(lines):
        raise PayableRefused(f"fee order {order.public_id}: {len(lines) - len(updated)} bill(s) changed since")
    db.session.execute(
        sa.update(FeeOrderLine)
        .where(FeeOrderLine.order_id == order.id, FeeOrderLine.state == LineState.open)
        .values(state=LineState.paid)
    )
    order.status, order.paid_at, order.payment_public_id = OrderStatus.paid, info.paid_at, info.payment_public_id
    db.session.flush()
    for bill_line, bill in lines:
        db.session.refresh(bill)
        db.session.refresh(bill_line)
    receipt = issue_receipt(order, lines, info)
    audit.record(
        "fees.order.paid",
        actor=None,
        target=("fee_order", order.public_id),
        after={"receipt": receipt.number, "amount_fen": order.amount_fen, "payment": info.payment_public_id},
    )
    log.info("fee order %s paid by payment %s: receipt %s", order.id, info.payment_public_id, receipt.number)


def on_refunded(order_public_id: str, info: RefundInfo) -> None:
    """Record a refund on the order and its receipt; refunded in full, the bills are owed again (the receipt keeps
    its number and shows the refund)."""
    order = get_order(order_public_id, lock=True)
    if order is None:
        return
    # payments hands refunded_fen over as PostgreSQL's sum() of bigints, a Decimal: counted here as the int it is.
    refunded = int(info.refunded_fen)
    order.refunded_fen = min(refunded, order.amount_fen)
    db.session.execute(
        sa.update(Receipt).where(Receipt.fee_order_id == order.id).values(refunded_fen=order.refunded_fen)
    )
    if info.fully_refunded and order.status is OrderStatus.paid:
        order.status = OrderStatus.refunded
        bill_ids = sa.select(FeeOrderLine.bill_id).where(
            FeeOrderLine.order_id == order.id, FeeOrderLine.state == LineState.paid
        )
        db.session.execute(
            sa.update(Bill)
            .where(Bill.id.in_(bill_ids), Bill.status == BillStatus.paid)
            .values(
                status=BillStatus.unpaid,
                paid_at=None,
                paid_principal_fen=None,
                paid_late_fee_fen=None,
                fee_order_id=None,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(FeeOrderLine)
            .where(FeeOrderLine.order_id == order.id, FeeOrderLine.state == LineState.paid)
            .values(state=LineState.released)
        )
    db.session.flush()
    audit.record(
        "fees.order.refunded",
        target=("fee_order", order.public_id),
        after={"refunded_fen": refunded, "fully": info.fully_refunded},
        reason=info.reason,
    )


def _subject_of(order_public_id: str) -> Subject | None:
    row = db.session.execute(
        sa.select(Resident.public_id)
        .join(FeeOrder, FeeOrder.for_resident_id == Resident.id)
        .where(FeeOrder.public_id == order_public_id)
    ).scalar()
    return Subject(resident_public_id=row) if row else None


def _column(order_public_id: str, column):
    return db.session.scalar(sa.select(column).where(FeeOrder.public_id == order_public_id))


def _is_payable(order_public_id: str) -> bool:
    # FOR SHARE: a payment being opened or applied keeps the order from being released under it (the release takes
    # the row FOR UPDATE, then asks payments whether a live payment holds the order).
    status = db.session.scalar(
        sa.select(FeeOrder.status).where(FeeOrder.public_id == order_public_id).with_for_update(read=True)
    )
    return status is OrderStatus.open


def _expires_at_of(order_public_id: str) -> datetime | None:
    return _column(order_public_id, FeeOrder.expires_at)


payments.register(
    KIND,
    payee_of=lambda order_public_id: _column(order_public_id, FeeOrder.payee_id),
    subject_of=_subject_of,
    scope="bills",
    amount_of=lambda order_public_id: _column(order_public_id, FeeOrder.amount_fen),
    expires_at_of=_expires_at_of,
    is_payable=_is_payable,
    on_paid=on_paid,
    on_refunded=on_refunded,
    title_of=lambda order_public_id: order_title(get_order(order_public_id)),
)
