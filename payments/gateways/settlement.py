"""Payments whose notification never came: asked at the gateway 10 minutes after creation, settled or closed."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db
from payments.channels import channel_of
from payments.gateways.channels import ALIPAY_CHANNELS, WECHAT_CHANNELS, settle_if_paid
from payments.models import Payment, PaymentStatus

log = logging.getLogger(__name__)

#: A payment still open this long after creation is asked about.
QUERY_AFTER = timedelta(minutes=10)
#: Payments asked about per run (oldest first); the rest wait for the next run.
BATCH = 200


def settle_open_payments(*, now=None) -> dict[str, int]:
    """For each open gateway payment older than ``QUERY_AFTER``: paid at the gateway → ``mark_paid``; closed there
    → closed here (through the engine's expiry, which asks once more); still open → left for its expiry.

    Each payment in a SAVEPOINT of its own, locked with SKIP LOCKED (a callback or the expiry job busy with it
    goes first); a gateway error for one payment does not stop the others.
    """
    from payments.services import expire_payment

    now = now or utcnow()
    counts = {"paid": 0, "closed": 0, "open": 0, "errors": 0}
    with atomic():
        ids = db.session.scalars(
            sa.select(Payment.id)
            .where(
                Payment.status == PaymentStatus.created,
                Payment.channel.in_(WECHAT_CHANNELS + ALIPAY_CHANNELS),
                Payment.created_at <= now - QUERY_AFTER,
            )
            .order_by(Payment.created_at, Payment.id)
            .limit(BATCH)
        ).all()
        for payment_id in ids:
            try:
                with atomic(savepoint=True):
                    payment = db.session.scalar(
                        sa.select(Payment)
                        .where(Payment.id == payment_id, Payment.status == PaymentStatus.created)
                        .with_for_update(skip_locked=True)
                        .execution_options(populate_existing=True)
                    )
                    if payment is None:
                        continue
                    state = settle_if_paid(channel_of(payment.channel.value), payment, source="query_job")
                    if state.state == "closed":
                        expire_payment(payment.id)
                    counts[state.state] += 1
                    if state.state == "paid":
                        log.warning("payment %s settled by query: its notification was lost", payment.id)
            except Exception:
                counts["errors"] += 1
                log.exception("querying payment %s at its gateway failed", payment_id)
        return counts
