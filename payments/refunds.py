"""Refunds: requested by domains, admins or late money; never more than paid; sent to the channel by a job.

``refund(payment, amount_fen, reason, key)`` inserts the refund (idempotent by (payment, key)) and reserves its
amount on the payment with one conditional UPDATE; the job ``run_refund`` calls the channel, retries failures with
a back-off, and after the last attempt marks the refund ``failed`` for admins to retry. When a refund succeeds the
kinds' ``on_refunded`` hear of it (in a job of its own, retried until it succeeds).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit, outbox
from app.db import atomic, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from payments import jobs
from payments.channels import channel_of
from payments.errors import (
    ChannelError,
    PaymentNotPaid,
    PaymentUnapplied,
    RefundExceedsPaid,
    RefundKeyReused,
    RefundNotFailed,
    RefundNotFound,
)
from payments.models import ItemState, Payment, PaymentItem, PaymentStatus, Refund, RefundStatus
from payments.registry import RefundInfo, get_kind

log = logging.getLogger(__name__)

#: Seconds before channel attempts 2, 3, …; a refund still failing after the last is ``failed`` (admins retry it).
REFUND_BACKOFF = (30, 120, 600, 1800, 7200)
#: How long to wait before asking again about a refund the channel is still processing.
PROCESSING_RECHECK = timedelta(minutes=2)
#: How long a refund waits for what its channel must finish first (a profit share in flight, its return).
WAIT_RECHECK = timedelta(minutes=1)
#: After this long since the refund was requested, waiting counts as a failed attempt (ChannelError with the reason as
#: ``gateway_code``, e.g. ``profit_sharing_in_progress``): the back-off follows, then ``failed`` for admins.
WAIT_LIMIT = timedelta(hours=1)


def refund(payment: Payment | str, amount_fen: int, reason: str, key: str, *, actor=None) -> Refund:
    """Give back ``amount_fen`` of a paid payment (full or partial), once per ``key``.

    Joins the caller's unit of work (the refund is sent after it commits) but keeps its own SAVEPOINT, so a refused
    refund leaves nothing behind in a caller that catches the error.

    :param payment: a Payment or its public id.
    :param key: the caller's idempotency key (e.g. ``"order-cancel:<order id>"``); the same key again returns the
        first refund.
    :raises PaymentNotPaid: no money has arrived for the payment.
    :raises PaymentUnapplied: the money is waiting to be applied; the paid path applies or refunds it.
    :raises RefundExceedsPaid: paid minus already refunded is less than ``amount_fen``.
    :raises RefundKeyReused: the key was used for a refund of another amount.
    """
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ValidationFailed(details={"fields": {"amount_fen": ["退款金额须为正整数（分）"]}})
    if not key or len(key) > 128:
        raise ValueError("a refund key of 1–128 characters is required")
    with atomic(), atomic(savepoint=True):
        if isinstance(payment, str):
            from payments.services import payment_by_public_id

            payment = payment_by_public_id(payment)
        refund_id = db.session.execute(
            pg_insert(Refund)
            .values(
                payment_id=payment.id,
                key=key,
                amount_fen=amount_fen,
                reason=reason[:200],
                requested_by_user_id=getattr(actor, "id", None),
            )
            .on_conflict_do_nothing(index_elements=[Refund.payment_id, Refund.key])
            .returning(Refund.id)
        ).scalar()
        if refund_id is None:
            existing = db.session.scalar(sa.select(Refund).where(Refund.payment_id == payment.id, Refund.key == key))
            if existing.amount_fen != amount_fen:
                raise RefundKeyReused(details={"amount_fen": existing.amount_fen})
            return existing
        # The guard: the amount is reserved by one conditional UPDATE. A read of refunded_fen followed by a write
        # lets concurrent partial refunds each see the old total and together exceed what was paid.
        reserved = db.session.execute(
            sa.update(Payment)
            .where(
                Payment.id == payment.id,
                Payment.paid_fen.is_not(None),
                # Money not yet applied is settled by the paid path alone (applied, or refunded in full).
                Payment.status != PaymentStatus.paid_unapplied,
                Payment.refunded_fen + amount_fen <= Payment.paid_fen,
            )
            .values(refunded_fen=Payment.refunded_fen + amount_fen)
            .returning(Payment.refunded_fen)
        ).scalar()
        if reserved is None:
            current = db.session.get(Payment, payment.id, populate_existing=True)
            if current.paid_fen is None:
                raise PaymentNotPaid()
            if current.status is PaymentStatus.paid_unapplied:
                raise PaymentUnapplied()
            raise RefundExceedsPaid(details={"refundable_fen": current.paid_fen - current.refunded_fen})
        db.session.refresh(payment)
        outbox.enqueue(jobs.run_refund, refund_id)
        created = db.session.get(Refund, refund_id)
        audit.record(
            "refund.request",
            actor=actor,
            target=("refund", created.public_id),
            after={"payment": payment.public_id, "amount_fen": amount_fen, "key": key},
            reason=reason,
        )
        log.info("refund %s of %s fen requested for payment %s (%s)", refund_id, amount_fen, payment.id, key)
        return created


def run_refund(refund_id: int) -> str:
    """The job: send a pending refund to its channel; on error count the attempt and schedule the next one."""
    with atomic():
        item = db.session.get(Refund, refund_id, with_for_update=True, populate_existing=True)
        if item is None or item.status is not RefundStatus.pending:
            return "nothing_to_do"
        payment = item.payment
        channel = channel_of(payment.channel.value)
        item.attempts += 1
        try:
            waiting = channel.before_refund(payment, item)
            if waiting is not None and utcnow() - item.created_at >= WAIT_LIMIT:
                raise ChannelError(
                    f"退款等待渠道处理已超过{WAIT_LIMIT.total_seconds() / 3600:g}小时（{waiting}）",
                    details={"gateway_code": waiting, "retryable": True},
                )
            if waiting is not None:
                item.attempts -= 1  # not an attempt: the channel is finishing what must come first
                outbox.enqueue(jobs.run_refund, item.id, delay=WAIT_RECHECK)
                log.info("refund %s waits: %s", item.id, waiting)
                return "waiting"
            # Safe to repeat: channels treat out_refund_no as the idempotency key of the refund.
            result = channel.refund(payment, item)
        except Exception as error:
            _attempt_failed(item, error)
            return "failed_attempt"
        if result.state == "processing":
            item.channel_refund_id = result.channel_refund_id
            outbox.enqueue(jobs.run_refund, item.id, delay=PROCESSING_RECHECK)
            return "processing"
        _succeeded(item, result.channel_refund_id)
        return "succeeded"


def _attempt_failed(item: Refund, error: Exception) -> None:
    item.last_error = f"{type(error).__name__}: {error}"[:2000]
    if item.attempts > len(REFUND_BACKOFF):
        item.status, item.failed_at = RefundStatus.failed, utcnow()
        audit.record(
            "refund.failed",
            target=("refund", item.public_id),
            after={"attempts": item.attempts, "error": item.last_error},
            reason="退款多次失败，需管理员处理",
        )
        log.error("refund %s failed after %s attempts: %s", item.id, item.attempts, item.last_error)
        return
    delay = timedelta(seconds=REFUND_BACKOFF[item.attempts - 1])
    outbox.enqueue(jobs.run_refund, item.id, delay=delay)
    log.warning("refund %s attempt %s failed (%s); next in %s", item.id, item.attempts, item.last_error, delay)


def _succeeded(item: Refund, channel_refund_id: str | None) -> None:
    item.status, item.succeeded_at, item.last_error = RefundStatus.succeeded, utcnow(), None
    item.channel_refund_id = channel_refund_id or item.channel_refund_id
    db.session.flush()
    succeeded = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen), 0)).where(
            Refund.payment_id == item.payment_id, Refund.status == RefundStatus.succeeded
        )
    )
    if succeeded >= item.payment.paid_fen:
        # Fully refunded: the payables are free again (the domain decides in on_refunded whether to reopen them).
        db.session.execute(
            sa.update(PaymentItem)
            .where(PaymentItem.payment_id == item.payment_id, PaymentItem.state == ItemState.applied)
            .values(state=ItemState.refunded)
        )
    outbox.enqueue(jobs.notify_refunded, item.id, key=f"payments.refunded:{item.id}")
    audit.record("refund.succeeded", target=("refund", item.public_id), after={"amount_fen": item.amount_fen})
    log.info("refund %s of %s fen succeeded (%s)", item.id, item.amount_fen, channel_refund_id)


def notify_refunded(refund_id: int) -> None:
    """Tell the kinds about a succeeded refund of applied payables; raising lets the outbox retry it."""
    with atomic():
        item = db.session.get(Refund, refund_id)
        if item is None or item.status is not RefundStatus.succeeded:
            return
        payment = item.payment
        spec = get_kind(payment.kind)
        if spec is None or spec.on_refunded is None:
            return
        # sum() of a bigint is a numeric in PostgreSQL: cast back so domains get an int of fen, never a Decimal.
        succeeded = db.session.scalar(
            sa.select(sa.cast(sa.func.sum(Refund.amount_fen), sa.BigInteger)).where(
                Refund.payment_id == payment.id, Refund.status == RefundStatus.succeeded, Refund.id <= item.id
            )
        )
        info = RefundInfo(
            payment_public_id=payment.public_id,
            refund_public_id=item.public_id,
            amount_fen=item.amount_fen,
            refunded_fen=succeeded,
            paid_fen=payment.paid_fen,
            fully_refunded=succeeded >= payment.paid_fen,
            reason=item.reason,
        )
        # Late money never reached the domain (items rejected): nothing to tell it.
        for payable_id in db.session.scalars(
            sa.select(PaymentItem.payable_id)
            .where(
                PaymentItem.payment_id == payment.id,
                PaymentItem.state.in_([ItemState.applied, ItemState.refunded]),
            )
            .order_by(PaymentItem.id)
        ):
            spec.on_refunded(payable_id, info)


def retry_refund(public_id: str, *, actor) -> Refund:
    """An admin sends a failed refund again, with a fresh set of attempts."""
    with atomic():
        item = db.session.scalar(sa.select(Refund).where(Refund.public_id == public_id))
        if item is None:
            raise RefundNotFound()
        reset = db.session.execute(
            sa.update(Refund)
            .where(Refund.id == item.id, Refund.status == RefundStatus.failed)
            .values(status=RefundStatus.pending, attempts=0, failed_at=None)
            .returning(Refund.id)
        ).scalar()
        if reset is None:
            raise RefundNotFailed(details={"status": item.status.value})
        db.session.refresh(item)
        outbox.enqueue(jobs.run_refund, item.id)
        audit.record("refund.retry", actor=actor, target=("refund", item.public_id), before={"error": item.last_error})
        log.info("refund %s retried by user %s", item.id, actor.id)
        return item


def failed_refunds(pagination) -> list[Refund]:
    where = Refund.status == RefundStatus.failed
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(Refund).where(where))
    return db.session.scalars(
        sa.select(Refund)
        .where(where)
        .order_by(Refund.failed_at, Refund.id)
        .offset(pagination.first_item)
        .limit(pagination.page_size)
    ).all()
