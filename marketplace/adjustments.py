"""Money per order line: the line accounts every marketplace refund reserves from, the ledger of those refunds, and
the vendor's adjustments while preparing (actual weights of weighed goods, missing quantities), settled by one
refund per order when the order leaves ``preparing``.

The guard against refunding a line twice is one statement::

    UPDATE marketplace_line_accounts SET refunded_fen = refunded_fen + :a
    WHERE line_id = :l AND refunded_fen + :a <= paid_fen

(backed by the CHECK ``refunded_fen <= paid_fen``): two approvals racing for the same line's last fen both take the
row lock, and the second re-checks the condition against the first one's committed total, so it matches no row.

Missing items are refunded but **not returned to stock**: the vendor could not find them, so the stock count was
wrong; giving the units back would sell them again to the next buyer.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

import payments
from app.db import atomic, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from marketplace.aftersales_errors import LineNotFound, LineRefundExceeded, OrderNotPaid
from marketplace.aftersales_models import LineAccount, MarketRefund, RefundCause
from marketplace.catalogue import line_amount_fen
from marketplace.models import GRAMS_PER_UNIT, Order, OrderLine, OrderStatus

log = logging.getLogger(__name__)


# --- line accounts and the refund ledger ---------------------------------------------------------------------------


def ensure_accounts(order_id: int) -> None:
    """Open the line accounts of an order (what each line was paid), once; later calls change nothing."""
    select = sa.select(
        OrderLine.id, OrderLine.order_id, OrderLine.amount_fen, OrderLine.quantity, sa.literal(0), sa.literal(0)
    ).where(OrderLine.order_id == order_id)
    db.session.execute(
        pg_insert(LineAccount)
        .from_select(
            ["line_id", "order_id", "paid_fen", "quantity", "refunded_fen", "missing_quantity"],
            select,
        )
        .on_conflict_do_nothing(index_elements=[LineAccount.line_id])
    )


def reserve_line(line_id: int, amount_fen: int) -> bool:
    """Reserve ``amount_fen`` of a line's paid amount for a refund, in one conditional UPDATE.

    :return: whether it was reserved (False: less than that is left to refund on the line).
    """
    reserved = db.session.execute(
        sa.update(LineAccount)
        .where(LineAccount.line_id == line_id, LineAccount.refunded_fen + amount_fen <= LineAccount.paid_fen)
        .values(refunded_fen=LineAccount.refunded_fen + amount_fen)
        .returning(LineAccount.line_id)
        .execution_options(synchronize_session=False)
    ).scalar()
    return reserved is not None


def refundable_fen(line_id: int) -> int:
    """What is left to refund on a line (its account must exist)."""
    return db.session.scalar(
        sa.select(LineAccount.paid_fen - LineAccount.refunded_fen).where(LineAccount.line_id == line_id)
    )


def send_refund(order: Order, amount_fen: int, cause: RefundCause, key: str, reason: str, *, actor=None):
    """Ask payments for a refund of the order's payment (idempotent by ``key``) and record it in the ledger.

    The caller has reserved the amount on the line accounts first.
    """
    if not order.payment_public_id:
        raise OrderNotPaid()
    full_key = f"marketplace.order:{order.public_id}:{key}"
    refund = payments.refund(order.payment_public_id, amount_fen, reason, key=full_key, actor=actor)
    db.session.execute(
        pg_insert(MarketRefund)
        .values(
            order_id=order.id,
            vendor_id=order.vendor_id,
            cause=cause,
            amount_fen=amount_fen,
            key=full_key,
            refund_public_id=refund.public_id,
            actor_user_id=getattr(actor, "id", None),
        )
        .on_conflict_do_nothing(index_elements=[MarketRefund.key])
    )
    log.info("market order %s: %s fen refund requested (%s)", order.id, amount_fen, key)
    return refund


CAUSE_BY_KEY = {"cancel": RefundCause.cancel, "reject": RefundCause.reject}


def refund_rest(order: Order, reason: str, key: str, *, actor=None) -> int:
    """Refund whatever of a paid order is not refunded yet, closing every line's account.

    :return: the fen asked for (0 when nothing was left, or the order was never paid).
    """
    if not order.payment_public_id:
        return 0
    ensure_accounts(order.id)
    accounts = db.session.execute(
        sa.select(LineAccount.line_id, LineAccount.paid_fen - LineAccount.refunded_fen)
        .where(LineAccount.order_id == order.id)
        .order_by(LineAccount.line_id)
        .with_for_update()
    ).all()
    rest = sum(left for _line_id, left in accounts)
    # Refunds made outside the marketplace (an admin through payments) show in the order's refunded total.
    rest = min(rest, order.total_fen - order.refunded_fen)
    db.session.execute(
        sa.update(LineAccount)
        .where(LineAccount.order_id == order.id)
        .values(refunded_fen=LineAccount.paid_fen)
        .execution_options(synchronize_session=False)
    )
    if rest <= 0:
        return 0
    send_refund(order, rest, CAUSE_BY_KEY.get(key, RefundCause.other), key, reason, actor=actor)
    return rest


def refund_amount(
    order: Order, amount_fen: int, reason: str, key: str, *, cause: RefundCause = RefundCause.other, actor=None
) -> int:
    """Refund part of a paid order not tied to one line (e.g. a vendor's policy for goods left in a locker): the
    amount is reserved on the lines in order, each up to what is left on it, then sent as one refund.

    :raises LineRefundExceeded: less than ``amount_fen`` is left to refund on the whole order.
    """
    if not order.payment_public_id:
        raise OrderNotPaid()
    ensure_accounts(order.id)
    accounts = db.session.execute(
        sa.select(LineAccount.line_id, LineAccount.paid_fen - LineAccount.refunded_fen)
        .where(LineAccount.order_id == order.id)
        .order_by(LineAccount.line_id)
        .with_for_update()
    ).all()
    if sum(left for _line_id, left in accounts) < amount_fen:
        raise LineRefundExceeded(details={"refundable_fen": sum(left for _line_id, left in accounts)})
    wanted = amount_fen
    for line_id, left in accounts:
        take = min(left, wanted)
        if take > 0 and not reserve_line(line_id, take):
            raise LineRefundExceeded()
        wanted -= take
    send_refund(order, amount_fen, cause, key, reason, actor=actor)
    return amount_fen


# --- adjustments while preparing -----------------------------------------------------------------------------------


def line_by_number(order: Order, line_no: int) -> OrderLine:
    """The ``line_no``-th line of the order (1-based, in the order shown)."""
    line = None
    if 1 <= line_no <= 50:
        line = db.session.scalar(
            sa.select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id).offset(line_no - 1)
        )
    if line is None:
        raise LineNotFound(details={"line_no": line_no})
    return line


def _half_up(numerator: int, denominator: int) -> int:
    return (numerator * 2 + denominator) // (2 * denominator)


def due_fen(line: OrderLine, account: LineAccount) -> int:
    """What the resident owes for what is delivered of a line: never more than they paid for it."""
    delivered = line.quantity - account.missing_quantity
    if not line.weighed:
        return line.price_fen * delivered
    estimate = line_amount_fen(
        line.price_fen, delivered, unit=line.unit, weighed=True, estimated_weight_g=line.estimated_weight_g
    )
    if account.actual_weight_g is None or delivered == 0:
        return estimate
    actual = _half_up(line.price_fen * account.actual_weight_g, GRAMS_PER_UNIT[line.unit])
    return min(actual, estimate)  # over the estimate: the resident never pays more


def adjust_line(user, order_public_id: str, line_no: int, data: dict[str, Any]) -> Order:
    """The vendor enters a line's actual weight and/or missing quantity while preparing (may be entered again).

    :raises OrderStateConflict: the order is not being prepared.
    """
    from marketplace.errors import OrderStateConflict
    from marketplace.fulfilment import order_for_vendor

    with atomic():
        order = order_for_vendor(user, order_public_id, "marketplace.order.decide", lock=True)
        if order.status is not OrderStatus.preparing:
            raise OrderStateConflict(details={"status": order.status.value})
        line = line_by_number(order, line_no)
        ensure_accounts(order.id)
        account = db.session.get(LineAccount, line.id, with_for_update=True, populate_existing=True)
        missing = data.get("missing_quantity", account.missing_quantity)
        weight = data.get("actual_weight_g", account.actual_weight_g)
        errors: dict[str, list[str]] = {}
        if missing > line.quantity:
            errors["missing_quantity"] = [f"缺货数量不能超过下单数量 {line.quantity}"]
        if weight is not None and not line.weighed:
            errors["actual_weight_g"] = ["仅称重商品可填写实际重量"]
        elif weight is not None and missing >= line.quantity:
            errors["actual_weight_g"] = ["整行缺货时无需称重"]
        if errors:
            raise ValidationFailed(details={"fields": errors})
        account.missing_quantity, account.actual_weight_g = missing, weight
        account.adjusted_by_user_id, account.adjusted_at = user.id, utcnow()
        db.session.flush()
        log.info("market order %s line %s adjusted by user %s: %s", order.id, line.id, user.id, data)
        return order


def settle_adjustments(order: Order, *, actor=None) -> int:
    """When the order leaves ``preparing``: refund the weight differences and missing items, in one refund.

    Each adjusted line is claimed by ``settled_at IS NULL`` in the same UPDATE that reserves its amount, so a step
    recorded twice refunds nothing more.

    :return: the fen refunded (0 when nothing was adjusted).
    """
    rows = db.session.execute(
        sa.select(OrderLine, LineAccount)
        .join(LineAccount, LineAccount.line_id == OrderLine.id)
        .where(
            LineAccount.order_id == order.id,
            LineAccount.settled_at.is_(None),
            sa.or_(LineAccount.actual_weight_g.is_not(None), LineAccount.missing_quantity > 0),
        )
        .order_by(OrderLine.id)
        .with_for_update(of=LineAccount)
    ).all()
    total, now = 0, utcnow()
    for line, account in rows:
        amount = max(line.amount_fen - due_fen(line, account), 0)
        claimed = db.session.execute(
            sa.update(LineAccount)
            .where(
                LineAccount.line_id == line.id,
                LineAccount.settled_at.is_(None),
                LineAccount.refunded_fen + amount <= LineAccount.paid_fen,
            )
            .values(settled_at=now, refunded_fen=LineAccount.refunded_fen + amount)
            .returning(LineAccount.line_id)
            .execution_options(synchronize_session=False)
        ).scalar()
        if claimed is None:
            raise LineRefundExceeded(details={"line": line.name})
        total += amount
    if total > 0:
        send_refund(order, total, RefundCause.adjustment, "adjustments", "称重差价及缺货退款", actor=actor)
    return total


def adjustments_of(order: Order) -> list[dict[str, Any]]:
    """Each adjusted line of an order with what it refunds (for the order detail; one query)."""
    rows = db.session.execute(
        sa.select(OrderLine, LineAccount)
        .join(LineAccount, LineAccount.line_id == OrderLine.id)
        .where(LineAccount.order_id == order.id, LineAccount.adjusted_at.is_not(None))
        .order_by(OrderLine.id)
    ).all()
    numbers = {line.id: n for n, line in enumerate(sorted(order.lines, key=lambda item: item.id), start=1)}
    return [
        {
            "line_no": numbers.get(line.id),
            "name": line.name,
            "actual_weight_g": account.actual_weight_g,
            "missing_quantity": account.missing_quantity,
            "difference_fen": line.amount_fen - due_fen(line, account),
            "refunded_fen": account.refunded_fen,
        }
        for line, account in rows
    ]
