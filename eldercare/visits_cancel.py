"""Cancellation terms and the provider's cancellation.

The rule (the family side's cancellation is ``orders.cancel_order``):

- Until ``ELDERCARE_FREE_CANCEL_HOURS`` before the scheduled start the elder or family cancel free: the subsidy hold
  is released and a paid copay refunded in full.
- Later (and before the start) the provider keeps its cancellation fee: the offer's ``cancellation_fee_fen`` when
  set, else the provider's. The fee comes out of the copay actually paid, never out of the subsidy: the hold is
  released in full, the family gets ``copay − fee`` back, and the fee is capped at the copay (an order with nothing
  paid, e.g. fully subsidised, costs nothing to cancel).
- The provider may cancel a submitted or accepted order before check-in, with a reason: always free for the family
  (full refund, hold released), and the family is told the reason.

Each release and refund is keyed by the order, and the order row is locked first, so cancelling twice (or racing a
decline, an expiry or a no-show) releases and refunds once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.db import atomic
from app.extensions import db
from eldercare import subsidies
from eldercare.errors import CareOrderStateConflict
from eldercare.models import CancelledBy, CareOffer, CareOrder, CareOrderStatus, Provider
from eldercare.orders import _provider_order, _refund, notify
from eldercare.providers import offer_by_id, provider_for

log = logging.getLogger(__name__)

#: The provider may cancel these (before check-in); pending_payment is a decline.
PROVIDER_CANCELLABLE = (CareOrderStatus.pending_payment, CareOrderStatus.submitted, CareOrderStatus.accepted)


def free_cancel_hours() -> int:
    return int(current_app.config.get("ELDERCARE_FREE_CANCEL_HOURS", 24))


def free_until(order: CareOrder) -> datetime:
    return order.scheduled_at - timedelta(hours=free_cancel_hours())


def fee_setting(order: CareOrder) -> int:
    """The fee that applies to the order: its offer's when set, else its provider's (fen)."""
    offer_fee, provider_fee = db.session.execute(
        sa.select(CareOffer.cancellation_fee_fen, Provider.cancellation_fee_fen)
        .join(Provider, Provider.id == CareOffer.provider_id)
        .where(CareOffer.id == order.offer_id)
    ).one()
    return offer_fee if offer_fee is not None else provider_fee


def late_fee(order: CareOrder, now: datetime) -> int:
    """What the provider keeps if the family cancels at ``now``: 0 before the cut-off or when nothing was paid."""
    # Paid through a payment, or drawn from a care balance (助餐卡): either way ``paid_at`` is set.
    paid = order.copay_fen - order.refunded_fen if order.paid_at is not None else 0
    if now < free_until(order) or paid <= 0:
        return 0
    return min(fee_setting(order), paid)


def cancel_by_provider(user, public_id: str, *, reason: str) -> CareOrder:
    """The provider admin cancels with a reason: the hold is released, a paid copay refunded in full, family told.

    :raises CareOrderStateConflict: the caregiver checked in already, or the order is over.
    """
    with atomic():
        order = _provider_order(user, public_id)
        if order.status not in PROVIDER_CANCELLABLE:
            raise CareOrderStateConflict(details={"status": order.status.value})
        order.status, order.status_note, order.decided_by_user_id = CareOrderStatus.cancelled, reason, user.id
        order.cancelled_by, order.cancellation_fee_fen = CancelledBy.provider, 0
        subsidies.release(order)
        _refund(order, reason, "provider_cancel", user)
        db.session.flush()
        notify(order, f"服务机构取消，原因：{reason}")
        log.info("care order %s cancelled by the provider (user %s)", order.id, user.id)
        return order


def set_provider_fee(user, provider_public_id: str, fee_fen: int) -> Provider:
    """The provider admin sets the provider's late-cancellation fee (fen)."""
    with atomic():
        provider = provider_for(user, provider_public_id, "eldercare.provider.manage", lock=True)
        provider.cancellation_fee_fen = fee_fen
        db.session.flush()
        log.info("provider %s cancellation fee set to %s by user %s", provider.id, fee_fen, user.id)
        return provider


def set_offer_fee(user, offer_public_id: str, fee_fen: int | None) -> dict:
    """The provider admin sets one offer's late-cancellation fee (None: the provider's applies)."""
    from app.auth.scopes import authorize
    from eldercare.errors import OfferNotFound

    with atomic():
        offer = offer_by_id(offer_public_id)
        authorize(user, "eldercare.provider.manage", offer, not_found=OfferNotFound)
        offer.cancellation_fee_fen = fee_fen
        db.session.flush()
        log.info("care offer %s cancellation fee set to %s by user %s", offer.id, fee_fen, user.id)
        return {"offer_id": offer.public_id, "cancellation_fee_fen": fee_fen}
