"""The paid path: ``mark_paid`` records money once, applies it to the payables, or refunds late money.

Every success (a gateway callback, the sandbox confirm, a query at expiry) goes through ``mark_paid``:

1. ``INSERT`` a capture keyed by (channel, channel transaction id) ``ON CONFLICT DO NOTHING``: a notification that
   arrives 20 times, even at once, is recorded once; the duplicates wait on the unique index and then do nothing.
2. Lock the payment. Money for a payment we closed, or of another amount than asked, is recorded as paid and
   refunded in full (``late_reason``).
3. Otherwise the kinds' ``on_paid`` run in a SAVEPOINT. A payable that is no longer payable (cancelled, expired,
   paid by another payment) means late money: refunded. A handler that raises leaves the payment ``paid_unapplied``
   (real money is never rolled back), recorded in the audit log and on the admins' worklist, and a retry job
   applies it later, or refunds it once the payable is gone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit, outbox
from app.db import atomic, utcnow
from app.extensions import db
from payments import jobs
from payments.errors import PaymentNotUnapplied, UnknownTrade
from payments.models import Capture, ItemState, LateReason, Payment, PaymentChannel, PaymentItem, PaymentStatus
from payments.registry import PaidInfo, PayableRefused, get_kind

log = logging.getLogger(__name__)

#: Seconds before automatic re-application attempts 2, 3, …; after the last one the payment waits for an admin.
APPLY_BACKOFF = (60, 300, 900, 3600, 6 * 3600)


class _PayableGone(Exception):
    def __init__(self, payable_id: str) -> None:
        super().__init__(payable_id)
        self.payable_id = payable_id


def mark_paid(
    out_trade_no: str,
    amount_fen: int,
    channel_txn_id: str,
    paid_at: datetime,
    raw: dict[str, Any],
    *,
    channel: str,
) -> Payment:
    """Record that ``amount_fen`` arrived for ``out_trade_no`` through ``channel`` (the single paid path).

    Idempotent per (channel, ``channel_txn_id``). Joins the caller's unit of work (a callback view answers the
    gateway after it commits).

    :raises UnknownTrade: no payment of ours has this ``out_trade_no`` on this channel (the gateway should retry
        and an operator look).
    """
    with atomic():
        payment_id = db.session.scalar(
            sa.select(Payment.id).where(
                Payment.out_trade_no == out_trade_no, Payment.channel == PaymentChannel(channel)
            )
        )
        if payment_id is None:
            log.error("channel %s reported %s fen for unknown out_trade_no %r", channel, amount_fen, out_trade_no)
            raise UnknownTrade(out_trade_no)
        # The guard: this INSERT is the only thing that lets one notification through. Replaced by "SELECT, then
        # INSERT if absent", concurrent duplicates all pass the SELECT and all but one fail on the unique index.
        capture_id = db.session.execute(
            pg_insert(Capture)
            .values(
                payment_id=payment_id,
                channel=PaymentChannel(channel),
                channel_txn_id=channel_txn_id,
                amount_fen=amount_fen,
                paid_at=paid_at,
                raw=raw,
            )
            .on_conflict_do_nothing(index_elements=[Capture.channel, Capture.channel_txn_id])
            .returning(Capture.id)
        ).scalar()
        # OF payments: the joined payee must not be locked too, or every payment to one payee would queue.
        payment = db.session.get(Payment, payment_id, with_for_update={"of": Payment}, populate_existing=True)
        if capture_id is None:
            log.info("payment %s: duplicate notification for %s ignored", payment.id, channel_txn_id)
            return payment
        if payment.paid_at is not None:
            _second_capture(payment, capture_id, channel_txn_id, amount_fen)
            return payment

        late = None
        if amount_fen != payment.amount_fen:
            late = LateReason.amount_mismatch
        elif payment.status is PaymentStatus.closed:
            late = LateReason.payment_closed
        payment.status = PaymentStatus.paid_unapplied
        payment.paid_fen, payment.paid_at, payment.channel_txn_id = amount_fen, paid_at, channel_txn_id
        db.session.flush()
        audit.record(
            "payment.paid",
            target=("payment", payment.public_id),
            after={"amount_fen": amount_fen, "channel_txn_id": channel_txn_id, "channel": channel},
        )
        log.info("payment %s: %s fen received (%s %s)", payment.id, amount_fen, channel, channel_txn_id)
        if late is not None:
            _reject(payment, late)
        else:
            _apply(payment)
        return payment


def _second_capture(payment: Payment, capture_id: int, channel_txn_id: str, amount_fen: int) -> None:
    """A second transaction for one order (gateways prevent it; if one happens, a person must reconcile)."""
    db.session.execute(sa.update(Capture).where(Capture.id == capture_id).values(counted=False))
    audit.record(
        "payment.second_capture",
        target=("payment", payment.public_id),
        after={"channel_txn_id": channel_txn_id, "amount_fen": amount_fen, "first": payment.channel_txn_id},
        reason="同一订单收到第二笔支付，需人工对账退款",
    )
    log.error(
        "payment %s already paid by %s received another transaction %s of %s fen: reconcile by hand",
        payment.id,
        payment.channel_txn_id,
        channel_txn_id,
        amount_fen,
    )


def _apply(payment: Payment) -> str:
    """Run the kinds' ``on_paid`` in a SAVEPOINT (flush only). Returns ``applied``, ``refunded`` or ``unapplied``."""
    spec = get_kind(payment.kind)
    items = db.session.scalars(
        sa.select(PaymentItem).where(PaymentItem.payment_id == payment.id).order_by(PaymentItem.id)
    ).all()
    try:
        with atomic(savepoint=True):
            if spec is None:
                raise LookupError(f"payable kind {payment.kind!r} is not registered")
            for item in items:
                if not spec.is_payable(item.payable_id):
                    raise _PayableGone(item.payable_id)
            db.session.execute(
                sa.update(PaymentItem)
                .where(PaymentItem.payment_id == payment.id, PaymentItem.state.in_([ItemState.open, ItemState.pending]))
                .values(state=ItemState.applied)
            )
            for item in items:
                spec.on_paid(
                    item.payable_id,
                    PaidInfo(
                        payment_public_id=payment.public_id,
                        out_trade_no=payment.out_trade_no,
                        channel=payment.channel.value,
                        amount_fen=item.amount_fen,
                        paid_at=payment.paid_at,
                        payer_user_id=payment.payer_user_id,
                    ),
                )
            db.session.flush()
    except (_PayableGone, PayableRefused) as gone:
        log.warning("payment %s: a payable no longer takes it (%r); refunding", payment.id, gone)
        _reject(payment, LateReason.payable_unavailable)
        return "refunded"
    except Exception as error:
        _unapplied(payment, error)
        return "unapplied"
    db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id)
        .values(status=PaymentStatus.paid, applied_at=utcnow(), apply_error=None)
    )
    db.session.refresh(payment)
    log.info("payment %s applied to %s payable(s) of %s", payment.id, len(items), payment.kind)
    return "applied"


def _unapplied(payment: Payment, error: Exception) -> None:
    """Keep the money as ``paid_unapplied``, tell admins (audit + worklist) and schedule the next attempt."""
    attempts = db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id)
        .values(
            status=PaymentStatus.paid_unapplied,
            apply_attempts=Payment.apply_attempts + 1,
            apply_error=f"{type(error).__name__}: {error}"[:2000],
        )
        .returning(Payment.apply_attempts)
    ).scalar_one()
    db.session.execute(
        sa.update(PaymentItem)
        .where(PaymentItem.payment_id == payment.id, PaymentItem.state == ItemState.open)
        .values(state=ItemState.pending)
    )
    db.session.refresh(payment)
    audit.record(
        "payment.apply_failed",
        target=("payment", payment.public_id),
        after={"attempts": attempts, "error": payment.apply_error},
        reason="支付已到账，业务处理失败，等待重试",
    )
    log.error("payment %s: on_paid of %s failed (attempt %s): %s", payment.id, payment.kind, attempts, error)
    if attempts <= len(APPLY_BACKOFF):
        outbox.enqueue(
            jobs.reapply_payment,
            payment.id,
            delay=timedelta(seconds=APPLY_BACKOFF[attempts - 1]),
            key=f"payments.reapply:{payment.id}:{attempts}",
        )


def _reject(payment: Payment, reason: LateReason) -> None:
    """Late money: the payables are not touched; the whole amount received goes back, exactly once (by key)."""
    from payments.refunds import refund

    db.session.execute(
        sa.update(PaymentItem)
        .where(
            PaymentItem.payment_id == payment.id,
            PaymentItem.state.in_([ItemState.open, ItemState.pending, ItemState.closed]),
        )
        .values(state=ItemState.rejected)
    )
    db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id)
        .values(status=PaymentStatus.paid, late_reason=reason, apply_error=None)
    )
    db.session.refresh(payment)
    refundable = payment.paid_fen - payment.refunded_fen
    if refundable > 0:
        refund(payment, refundable, LATE_REASONS[reason], key=f"late:{payment.id}")
    audit.record("payment.late", target=("payment", payment.public_id), after={"reason": reason.value})
    log.warning("payment %s: late money (%s), %s fen refunded", payment.id, reason.value, refundable)


LATE_REASONS = {
    LateReason.payment_closed: "支付单已关闭后到账，自动退款",
    LateReason.payable_unavailable: "款项已取消、过期或已由其他支付付清，自动退款",
    LateReason.amount_mismatch: "到账金额与应付金额不符，自动退款",
}


def reapply_now(actor, public_id: str) -> Payment:
    """An admin applies a ``paid_unapplied`` payment at once (404 unknown, 409 not waiting)."""
    from payments.services import payment_by_public_id

    with atomic():
        return reapply(payment_by_public_id(public_id).id, actor=actor)


def reapply(payment_id: int, *, actor=None) -> Payment:
    """Try again to apply a ``paid_unapplied`` payment (the retry job, or an admin); refunds it if the payable is
    gone. Another failure leaves it ``paid_unapplied`` and schedules the next attempt.

    :raises PaymentNotUnapplied: (409, for admins) the payment is no longer waiting.
    """
    with atomic():
        # OF payments: the joined payee must not be locked too, or every payment to one payee would queue.
        payment = db.session.get(Payment, payment_id, with_for_update={"of": Payment}, populate_existing=True)
        if payment is None or payment.status is not PaymentStatus.paid_unapplied:
            if actor is not None:
                raise PaymentNotUnapplied(details={"status": payment.status.value if payment else None})
            return payment
        outcome = _apply(payment)
        if actor is not None:
            audit.record(
                "payment.reapply", actor=actor, target=("payment", payment.public_id), after={"outcome": outcome}
            )
        log.info("payment %s re-application: %s", payment.id, outcome)
        return payment


def confirm_sandbox(user, public_id: str, *, amount_fen: int | None = None, channel_txn_id: str | None = None):
    """Demo mode: the payer pretends the sandbox gateway took the money; the same ``mark_paid`` as a callback."""
    from payments.channels import SandboxChannel
    from payments.errors import PaymentNotSandbox
    from payments.services import get_payment

    with atomic():
        payment = get_payment(user, public_id)
        if payment.channel is not PaymentChannel.sandbox:
            raise PaymentNotSandbox(details={"channel": payment.channel.value})
        return mark_paid(
            payment.out_trade_no,
            payment.amount_fen if amount_fen is None else amount_fen,
            # Confirming again without a transaction id repeats the first notification (recorded once).
            channel_txn_id or payment.channel_txn_id or SandboxChannel.new_txn_id(),
            utcnow(),
            {"sandbox": True, "confirmed_by": user.public_id},
            channel=PaymentChannel.sandbox.value,
        )
