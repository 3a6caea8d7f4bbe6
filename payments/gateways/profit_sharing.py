"""Profit sharing (分账): the platform's commission, taken once per payment after the payee confirms fulfilment.

A payment to a payee with ``commission_bps > 0`` is opened with its money frozen at the gateway: WeChat Pay orders
with ``settle_info.profit_sharing``, Alipay APP orders with ``extend_params.royalty_freeze``.
``request_profit_sharing`` (called by the domain when the payee confirms fulfilment) records one share per payment,
guarded by a unique constraint, and a job sends the commission (rounded down to the fen) to the platform and
unfreezes the rest for the payee; a commission of 0 fen only unfreezes.

- WeChat Pay: ``POST /v3/profitsharing/orders`` with the service provider as receiver and ``unfreeze_unsplit``.
- Alipay: the platform's account (``ALIPAY_ROYALTY_ACCOUNT``) is bound once per seller as royalty receiver
  (``alipay.trade.royalty.relation.bind``, recorded on the seller), then ``alipay.trade.order.settle`` with
  ``royalty_finish``. Both are idempotent by the share's ``out_order_no`` (Alipay's ``out_request_no``); when an
  answer was lost, the next attempt asks first (``alipay.trade.order.settle.query``).

Refunds of a shared payment return the commission first: see ``share_returns``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit, outbox
from app.db import atomic, utcnow
from app.extensions import db
from payments.gateways import jobs
from payments.gateways.channels import (
    ALIPAY_CHANNELS,
    WECHAT_CHANNELS,
    alipay_gateway,
    alipay_token,
    ensure_alipay_seller,
    wechatpay_gateway,
)
from payments.gateways.common import GatewayError
from payments.gateways.models import AlipaySeller, ProfitShare, ShareStatus
from payments.models import Payment, PaymentStatus

log = logging.getLogger(__name__)

#: Seconds before attempts 2, 3, … after a retryable error; then the share is ``failed`` for admins.
SHARE_BACKOFF = (60, 300, 1800, 7200)
PROCESSING_RECHECK = timedelta(minutes=5)


def commission_fen(paid_fen: int, refunded_fen: int, commission_bps: int) -> int:
    """The commission on what the payer finally paid, rounded down to the fen (the payee keeps the remainder)."""
    return max(paid_fen - refunded_fen, 0) * commission_bps // 10000


def request_profit_sharing(payment_public_id: str, *, actor=None) -> ProfitShare | None:
    """The payee confirmed fulfilment: share the platform's commission of this payment, once.

    Joins the caller's unit of work. Returns the share (the first one when asked again), or None when there is
    nothing to share: not a WeChat Pay or Alipay payment, no commission for the payee, or money not applied (late
    money is refunded in full).
    """
    with atomic():
        payment = db.session.scalar(sa.select(Payment).where(Payment.public_id == payment_public_id))
        if payment is None:
            from payments.errors import PaymentNotFound

            raise PaymentNotFound()
        if (
            payment.channel not in WECHAT_CHANNELS + ALIPAY_CHANNELS
            or payment.payee.commission_bps <= 0
            or payment.status is not PaymentStatus.paid
            or payment.late_reason is not None
        ):
            return None
        # The guard: one share per payment by the unique index; asked twice at once, the second waits, then finds it.
        share_id = db.session.execute(
            pg_insert(ProfitShare)
            .values(payment_id=payment.id, requested_by_user_id=getattr(actor, "id", None))
            .on_conflict_do_nothing(index_elements=[ProfitShare.payment_id])
            .returning(ProfitShare.id)
        ).scalar()
        if share_id is None:
            return db.session.scalar(sa.select(ProfitShare).where(ProfitShare.payment_id == payment.id))
        outbox.enqueue(jobs.share_profit, share_id)
        audit.record(
            "payment.profit_sharing",
            actor=actor,
            target=("payment", payment.public_id),
            after={"commission_bps": payment.payee.commission_bps},
        )
        log.info("profit sharing %s requested for payment %s", share_id, payment.id)
        return db.session.get(ProfitShare, share_id)


def share_profit(share_id: int) -> str:
    """The job: send the share to its gateway (idempotent per ``out_order_no``, so a repeat after a timeout is safe)."""
    with atomic():
        share = db.session.get(ProfitShare, share_id, with_for_update=True, populate_existing=True)
        if share is None or share.status not in (ShareStatus.pending, ShareStatus.processing):
            return "nothing_to_do"
        payment = db.session.get(Payment, share.payment_id, populate_existing=True)
        alipay = payment.channel in ALIPAY_CHANNELS
        gateway = alipay_gateway() if alipay else wechatpay_gateway()
        if gateway is None:
            raise RuntimeError(f"{'Alipay' if alipay else 'WeChat Pay'} is not configured; the share waits")
        share.attempts += 1
        if payment.refunded_fen >= payment.paid_fen:
            share.status, share.finished_at = ShareStatus.skipped, utcnow()
            return "skipped"
        amount = commission_fen(payment.paid_fen, payment.refunded_fen, payment.payee.commission_bps)
        try:
            if alipay:
                return _share_alipay(gateway, share, payment, amount)
            return _share_wechat(gateway, share, payment, amount)
        except GatewayError as error:
            return _attempt_failed(share, error)


def _share_wechat(gateway, share: ProfitShare, payment: Payment, amount: int) -> str:
    if amount > 0:
        answer = gateway.profit_share(
            transaction_id=payment.channel_txn_id,
            out_order_no=share.out_order_no,
            sub_mchid=payment.payee.wechat_sub_mchid,
            amount_fen=amount,
            description="平台服务费",
        )
    else:
        answer = gateway.unfreeze(
            transaction_id=payment.channel_txn_id,
            out_order_no=share.out_order_no,
            sub_mchid=payment.payee.wechat_sub_mchid,
            description="无平台服务费，解冻给收款方",
        )
    share.amount_fen, share.raw, share.channel_order_id = amount, answer, answer.get("order_id")
    share.last_error = None
    if answer.get("state") == "FINISHED":
        share.status, share.finished_at = ShareStatus.finished, utcnow()
        log.info("profit sharing %s finished: %s fen of payment %s", share.id, amount, payment.id)
        return "finished"
    share.status = ShareStatus.processing
    outbox.enqueue(jobs.share_profit, share.id, delay=PROCESSING_RECHECK)
    return "processing"


def _share_alipay(gateway, share: ProfitShare, payment: Payment, amount: int) -> str:
    account = gateway.settings.royalty_account
    if not account:
        raise GatewayError("not_configured", "ALIPAY_ROYALTY_ACCOUNT is not set")
    token = alipay_token(payment.payee)
    if amount > 0:
        ensure_royalty_receiver(gateway, payment.payee, token, account)
    answer = None
    if share.attempts > 1:
        # An earlier attempt may have settled and lost the answer: ask before settling again.
        answer = gateway.order_settle_query(
            trade_no=payment.channel_txn_id, out_request_no=share.out_order_no, app_auth_token=token
        )
        states = {detail.get("state") for detail in (answer or {}).get("royalty_detail_list") or []}
        if answer is not None and states - {"SUCCESS"}:
            if "FAIL" in states:
                raise GatewayError("settle_failed", f"settlement details {sorted(states)}", raw=answer)
            share.status = ShareStatus.processing
            outbox.enqueue(jobs.share_profit, share.id, delay=PROCESSING_RECHECK)
            return "processing"
    if answer is None:
        answer = gateway.order_settle(
            trade_no=payment.channel_txn_id,
            out_request_no=share.out_order_no,
            account=account,
            amount_fen=amount,
            app_auth_token=token,
        )
    share.amount_fen, share.raw = amount, answer
    share.channel_order_id = answer.get("settle_no") or share.channel_order_id
    share.status, share.finished_at, share.last_error = ShareStatus.finished, utcnow(), None
    log.info("profit sharing %s settled at Alipay: %s fen of payment %s", share.id, amount, payment.id)
    return "finished"


def ensure_royalty_receiver(gateway, payee, token: str, account: str) -> AlipaySeller:
    """Bind the platform's account as the seller's royalty receiver once (recorded on the seller; flush only)."""
    seller = ensure_alipay_seller(gateway, payee, token)
    if seller.royalty_account == account and seller.royalty_bound_at is not None:
        return seller
    from payments.models import new_trade_no

    gateway.royalty_bind(account=account, out_request_no=new_trade_no("RB"), app_auth_token=token)
    seller.royalty_account, seller.royalty_bound_at = account, utcnow()
    db.session.flush()
    log.info("payee %s: Alipay royalty receiver %s bound for seller %s", payee.id, account, seller.seller_id)
    return seller


def _attempt_failed(share: ProfitShare, error: GatewayError) -> str:
    share.last_error = str(error)[:2000]
    if not error.retryable or share.attempts > len(SHARE_BACKOFF):
        share.status = ShareStatus.failed
        audit.record(
            "payment.profit_sharing_failed",
            target=("profit_share", str(share.id)),
            after={"error": share.last_error},
            reason="分账失败，需管理员处理",
        )
        log.error("profit sharing %s failed: %s", share.id, error)
        return "failed"
    outbox.enqueue(jobs.share_profit, share.id, delay=timedelta(seconds=SHARE_BACKOFF[share.attempts - 1]))
    log.warning("profit sharing %s attempt %s failed: %s", share.id, share.attempts, error)
    return "retrying"
