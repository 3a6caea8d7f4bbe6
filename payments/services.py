"""Opening payments (amount snapshot, one payee, reuse or replace), closing and expiring them, and reading them."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app import audit, outbox
from app.api import keyset_page
from app.db import atomic, utcnow
from app.extensions import db
from payments import jobs
from payments.channels import channel_of, get_channel
from payments.errors import (
    MixedPayees,
    PayableLocked,
    PayableNotFound,
    PayableNotPayable,
    PayeeUnavailable,
    PaymentNotFound,
    ReceiptNotFound,
    UnknownPayableKind,
)
from payments.models import ItemState, Payee, Payment, PaymentChannel, PaymentItem, PaymentStatus
from payments.permissions import require_view, subject_resident_id
from payments.registry import PayableKind, get_kind

log = logging.getLogger(__name__)

#: A payable without a deadline of its own is payable for this long per payment (then a new payment is opened).
DEFAULT_TTL_MINUTES = 120
#: An open payment closer than this to its expiry is not handed out again: the payer needs time to pay.
REUSE_MARGIN = timedelta(minutes=1)
UNIQUE_VIOLATION = "23505"


def _snapshot(spec: PayableKind, payable_id: str) -> tuple[int, datetime | None, str]:
    amount = spec.amount_of(payable_id)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise TypeError(f"{spec.kind}.amount_of({payable_id!r}) must be a positive int of fen, got {amount!r}")
    expires_at = spec.expires_at_of(payable_id)
    if expires_at is not None and expires_at.tzinfo is None:
        raise TypeError(f"{spec.kind}.expires_at_of({payable_id!r}) must be timezone-aware")
    return amount, expires_at, spec.title(payable_id)


def create_payment(user, *, kind: str, ids: list[str], channel: str) -> tuple[Payment, dict[str, Any]]:
    """Open a payment for payables of one kind and one payee, or hand out the open one for exactly the same.

    The amount is read from the payables now; the client never sends one. An open payment for the same payables is
    reused only for the same payer, channel and amounts and while it has more than a minute left; otherwise it is
    closed (money arriving for it later is refunded) and a new one is made.

    :return: the payment and the parameters the client passes to the channel's payment UI.
    :raises UnknownPayableKind, PayableNotFound, MixedPayees, ChannelUnavailable, PayeeUnavailable,
        PayableNotPayable, PayableLocked: see ``payments.errors``; acting_for's 403 for a delegation that does not
        allow paying.
    """
    spec = get_kind(kind)
    if spec is None:
        raise UnknownPayableKind(details={"kind": kind})
    ids = list(dict.fromkeys(ids))
    with atomic():
        gateway = get_channel(channel)
        subject_ids: dict[str, int | None] = {}
        checked: dict[Any, int | None] = {}
        for payable_id in ids:
            subject = spec.subject_of(payable_id)
            if subject is None:
                raise PayableNotFound(details={"id": payable_id})
            if subject not in checked:
                checked[subject] = subject_resident_id(user, subject, spec)
            subject_ids[payable_id] = checked[subject]
        payee_ids = {payable_id: spec.payee_of(payable_id) for payable_id in ids}
        if len(set(payee_ids.values())) > 1:
            raise MixedPayees(details={"ids": ids})
        payee = db.session.get(Payee, next(iter(payee_ids.values())))
        if payee is None or not payee.is_active or not gateway.accepts(payee):
            raise PayeeUnavailable(details={"channel": channel})
        now = utcnow()
        lines = {}
        for payable_id in ids:
            if not spec.is_payable(payable_id):
                raise PayableNotPayable(details={"id": payable_id})
            lines[payable_id] = _snapshot(spec, payable_id)
        ttl = timedelta(minutes=current_app.config.get("PAYMENTS_DEFAULT_TTL_MINUTES", DEFAULT_TTL_MINUTES))
        expires_at = min([e for _a, e, _t in lines.values() if e is not None] + [now + ttl])
        if expires_at <= now:
            raise PayableNotPayable("该款项已过支付期限", details={"ids": ids})

        for current in _lock_open_payments(spec.kind, ids):
            if _reusable(current, user=user, channel=channel, lines=lines, now=now):
                log.info("payment %s reused by user %s", current.id, user.id)
                return current, gateway.prepay(current)
            _close(current, reason="replaced", actor=user)

        payment = Payment(
            kind=spec.kind,
            payer_user_id=user.id,
            payee_id=payee.id,
            channel=PaymentChannel(channel),
            amount_fen=sum(amount for amount, _e, _t in lines.values()),
            expires_at=expires_at,
        )
        payment.items = [
            PaymentItem(
                kind=spec.kind,
                payable_id=payable_id,
                title=title,
                amount_fen=amount,
                subject_resident_id=subject_ids[payable_id],
            )
            for payable_id, (amount, _e, title) in lines.items()
        ]
        _insert_locking_payables(payment)
        outbox.enqueue(jobs.expire_payment, payment.id, run_at=expires_at, key=f"payments.expire:{payment.id}")
        audit.record(
            "payment.create",
            actor=user,
            target=("payment", payment.public_id),
            after={"kind": spec.kind, "ids": ",".join(ids), "amount_fen": payment.amount_fen, "channel": channel},
        )
        log.info("payment %s (%s fen, %s) opened by user %s", payment.id, payment.amount_fen, channel, user.id)
        return payment, gateway.prepay(payment)


def _lock_open_payments(kind: str, ids: list[str]) -> list[Payment]:
    """Open payments holding any of these payables, locked (in id order) so a success cannot slip past a close."""
    holding = sa.select(PaymentItem.payment_id).where(
        PaymentItem.kind == kind, PaymentItem.payable_id.in_(ids), PaymentItem.state == ItemState.open
    )
    payments = db.session.scalars(
        sa.select(Payment)
        .where(Payment.id.in_(holding))
        .order_by(Payment.id)
        .with_for_update(of=Payment)
        .execution_options(populate_existing=True)
    ).all()
    # A payment closed or paid while we waited for its lock holds nothing any more.
    return [payment for payment in payments if payment.status is PaymentStatus.created]


def _reusable(payment: Payment, *, user, channel: str, lines: dict, now: datetime) -> bool:
    return (
        payment.payer_user_id == user.id
        and payment.channel.value == channel
        and payment.expires_at > now + REUSE_MARGIN
        and {item.payable_id: item.amount_fen for item in payment.items}
        == {payable_id: amount for payable_id, (amount, _e, _t) in lines.items()}
    )


def _insert_locking_payables(payment: Payment) -> None:
    """Insert the payment; the partial unique index on live items refuses a payable held by another live payment
    (a concurrent request for the same payables, or money received and not yet applied)."""
    try:
        with atomic(savepoint=True):
            db.session.add(payment)
            db.session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == UNIQUE_VIOLATION:
            raise PayableLocked(details={"ids": [item.payable_id for item in payment.items]}) from None
        raise


def _close(payment: Payment, *, reason: str, actor=None, at_channel: bool = True) -> bool:
    """Close an open payment (flush only): its payables are free again; money still arriving is refunded."""
    closed = db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.status == PaymentStatus.created)
        .values(status=PaymentStatus.closed, closed_at=utcnow())
        .returning(Payment.id)
    ).scalar()
    if closed is None:
        return False
    db.session.execute(
        sa.update(PaymentItem)
        .where(PaymentItem.payment_id == payment.id, PaymentItem.state == ItemState.open)
        .values(state=ItemState.closed)
    )
    db.session.refresh(payment)
    if at_channel:
        outbox.enqueue(jobs.close_at_channel, payment.id, key=f"payments.close:{payment.id}")
    audit.record("payment.close", actor=actor, target=("payment", payment.public_id), reason=reason)
    log.info("payment %s closed (%s)", payment.id, reason)
    return True


def expire_payment(payment_id: int) -> str:
    """At expiry: ask the channel first (a success whose notification is late is taken as paid), else close."""
    from payments.paid import mark_paid

    with atomic():
        # OF payments: the joined payee must not be locked too, or every payment to one payee would queue.
        payment = db.session.get(Payment, payment_id, with_for_update={"of": Payment}, populate_existing=True)
        if payment is None or payment.status is not PaymentStatus.created:
            return "nothing_to_do"
        gateway = channel_of(payment.channel.value)
        state = gateway.query(payment)
        if state.state == "paid":
            mark_paid(
                payment.out_trade_no,
                state.amount_fen,
                state.channel_txn_id,
                state.paid_at or utcnow(),
                {**state.raw, "source": "query_at_expiry"},
                channel=payment.channel.value,
            )
            return "paid"
        gateway.close(payment)
        _close(payment, reason="expired", at_channel=False)
        return "closed"


def close_at_channel(payment_id: int) -> None:
    """Close a payment we closed at its gateway too, so the gateway refuses money for it where it can."""
    with atomic():
        payment = db.session.get(Payment, payment_id)
        if payment is not None and payment.status is PaymentStatus.closed:
            channel_of(payment.channel.value).close(payment)


# --- reading -------------------------------------------------------------------------------------------------------


def get_payment(user, public_id: str) -> Payment:
    """A payment its payer (or the resident it paid for, or an admin) may see; 404 for anyone else."""
    payment = db.session.scalar(sa.select(Payment).where(Payment.public_id == public_id))
    return require_view(user, payment)


def receipt(user, public_id: str) -> dict[str, Any]:
    """The receipt of a paid payment: items, amounts, payee, paid time and refunds."""
    from payments.models import Refund

    payment = get_payment(user, public_id)
    if payment.paid_at is None:
        raise ReceiptNotFound()
    refunds = db.session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id)).all()
    return {
        "receipt_no": payment.out_trade_no,
        "payment_id": payment.public_id,
        "payee": payment.payee,
        "items": payment.items,
        "amount_fen": payment.amount_fen,
        "paid_fen": payment.paid_fen,
        "refunded_fen": sum(r.amount_fen for r in refunds if r.status.value == "succeeded"),
        "paid_at": payment.paid_at,
        "channel": payment.channel.value,
        "channel_txn_id": payment.channel_txn_id,
        "status": payment.status.value,
        "late_reason": payment.late_reason.value if payment.late_reason else None,
        "refunds": refunds,
    }


def my_payments(user, *, status: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """The caller's payments, newest first, by keyset."""
    query = sa.select(Payment).where(Payment.payer_user_id == user.id)
    if status:
        query = query.where(Payment.status == PaymentStatus(status))
    return keyset_page(db.session, query, [Payment.created_at, Payment.id], cursor=cursor, limit=limit)


def payment_by_public_id(public_id: str) -> Payment:
    payment = db.session.scalar(sa.select(Payment).where(Payment.public_id == public_id))
    if payment is None:
        raise PaymentNotFound()
    return payment


def payment_for(kind: str, payable_id: str) -> str | None:
    """The public id of the payment holding a payable now (applied, awaiting application, or open), for domains."""
    return db.session.scalar(
        sa.select(Payment.public_id)
        .join(PaymentItem, PaymentItem.payment_id == Payment.id)
        .where(PaymentItem.kind == kind, PaymentItem.payable_id == payable_id, PaymentItem.state.in_(ItemState.live()))
    )


def worklist(status: PaymentStatus, pagination) -> list[Payment]:
    """Payments in ``status`` for admins, oldest money first, with a total (page pagination)."""
    where = Payment.status == status
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(Payment).where(where))
    return db.session.scalars(
        sa.select(Payment)
        .where(where)
        .order_by(Payment.paid_at.asc().nulls_last(), Payment.id)
        .offset(pagination.first_item)
        .limit(pagination.page_size)
    ).all()
