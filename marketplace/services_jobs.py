"""Service-booking jobs: ID arguments, safe to run twice (their database effects happen once)."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from app import outbox
from app.db import atomic, utcnow
from app.extensions import db
from marketplace.service_models import ServiceOrder

log = logging.getLogger(__name__)


@outbox.job(queue="payments", timeout=60)
def share_service_order_profit(order_id: int) -> None:
    """A paid booking's work (or visit) is done: ask payments to share the platform's commission, once per booking.

    Runs after the payment committed (``on_paid`` runs before payments marks its payment paid). The claim is one
    conditional UPDATE, so a second delivery of this job, or two at once, asks nothing more.
    """
    from payments.gateways.profit_sharing import request_profit_sharing

    with atomic():
        payment_public_id = db.session.execute(
            sa.update(ServiceOrder)
            .where(
                ServiceOrder.id == order_id,
                ServiceOrder.profit_sharing_requested_at.is_(None),
                ServiceOrder.payment_public_id.is_not(None),
            )
            .values(profit_sharing_requested_at=utcnow())
            .returning(ServiceOrder.payment_public_id)
            .execution_options(synchronize_session=False)
        ).scalar()
        if payment_public_id is None:
            return
        share = request_profit_sharing(payment_public_id)
        log.info("service order %s: profit sharing %s", order_id, share.id if share else "not applicable")
