"""Profit sharing (分账): the platform's commission, taken once per payment after the payee confirms fulfilment.

A payment to a payee with ``commission_bps > 0`` is opened with its money frozen at the gateway: WeChat Pay orders
with ``settle_info.profit_sharing``, Alipay APP orders with ``extend_params.royalty_freeze``.
``request_profit_sharing`` (called by the domain when the payee confirms fulfilment) records one share per payment,
guarded by a unique constraint, and a job sends the commission (rounded down to the fen) to the platform and
unfreezes the rest for the payee; a commission of 0 fen only unfreezes.

- WeChat Pay: ``POST /v3/profitsharing/orders`` with the service provider as receiver and ``unfreeze_unsplit``.
- Alipay: the platform's account (``ALIPAY_ROYALTY_ACCOUNT``) is bound once per seller as royalty receiver
  (``alipay.trade.royalty.relation.bind``, recorded on the seller), then ``alipay.trade.order.settle`` with
  ``royalty_finish``.

Both are idempotent by the share's ``out_order_no`` (Alipay's ``out_request_no``). The amount is fixed (stored) on
the first attempt; every later attempt and every recheck of a processing share asks the gateway first
(``GET /v3/profitsharing/orders/{out_order_no}``, ``alipay.trade.order.settle.query``) and records the amount the
gateway reports, so a refund requested between attempts never changes what was taken or what is returned.

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
from payments.errors import ChannelError
from payments.gateways import jobs
from payments.gateways.channels import (
    ALIPAY_CHANNELS,
    WECHAT_CHANNELS,
    alipay_gateway,
    alipay_token,
    ensure_alipay_seller,
    wechatpay_gateway,
)
from payments.gateways.common import GatewayError, yuan_to_fen
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
    """The job: send the share to its gateway (idempotent per ``out_order_no``, so a repeat after a timeout is safe).

    The amount is fixed on the first attempt (stored before the call) and never recomputed: a refund requested
    meanwhile must not change what a repeat sends or records. Any later attempt, and a recheck of a share the gateway
    is processing, asks the gateway first and records what it reports; only when the gateway has nothing is the
    share skipped (everything refunded meanwhile) or sent again. Every error ends in ``_attempt_failed`` (retry after
    a back-off, else ``failed`` for admins): the job itself never fails, so a share never stays in flight for ever.
    """
    with atomic():
        share = db.session.get(ProfitShare, share_id, with_for_update=True, populate_existing=True)
        if share is None or share.status not in (ShareStatus.pending, ShareStatus.processing):
            return "nothing_to_do"
        payment = db.session.get(Payment, share.payment_id, populate_existing=True)
        alipay = payment.channel in ALIPAY_CHANNELS
        share.attempts += 1
        # An earlier attempt may have reached the gateway (its answer lost) or left the share processing there.
        ask_first = share.attempts > 1 or share.status is ShareStatus.processing
        if not ask_first:
            if payment.refunded_fen >= payment.paid_fen:
                return _skipped(share)
            share.amount_fen = commission_fen(payment.paid_fen, payment.refunded_fen, payment.payee.commission_bps)
            db.session.flush()
        elif share.amount_fen == 0:
            # A share left in flight before amounts were fixed; a fixed 0 stays 0 (refunds only lower the commission).
            share.amount_fen = commission_fen(payment.paid_fen, payment.refunded_fen, payment.payee.commission_bps)
        try:
            gateway = alipay_gateway() if alipay else wechatpay_gateway()
            if gateway is None:
                raise GatewayError("not_configured", f"{'Alipay' if alipay else 'WeChat Pay'} is not configured")
            if alipay:
                return _share_alipay(gateway, share, payment, ask_first=ask_first)
            return _share_wechat(gateway, share, payment, ask_first=ask_first)
        except GatewayError as error:
            return _attempt_failed(share, error)
        except sa.exc.SQLAlchemyError:
            raise  # the unit of work is broken: the outbox runs the job again
        except Exception as error:
            # The payee withdrew the Alipay authorisation (ChannelError no_app_auth_token), unreadable keys or bad
            # settings: no repeat of the same call helps, an admin must look.
            details = error.details if isinstance(error, ChannelError) else {}
            code = details.get("gateway_code") or type(error).__name__
            log.exception("profit sharing %s attempt %s raised", share.id, share.attempts)
            return _attempt_failed(share, GatewayError(code, str(error)))


def _skipped(share: ProfitShare) -> str:
    """Everything was refunded before the gateway took anything: nothing is ever shared (the refund unfreezes)."""
    share.status, share.finished_at = ShareStatus.skipped, utcnow()
    log.info("profit sharing %s skipped: its payment was refunded in full first", share.id)
    return "skipped"


def _share_wechat(gateway, share: ProfitShare, payment: Payment, *, ask_first: bool) -> str:
    sub_mchid = payment.payee.wechat_sub_mchid
    answer = None
    if ask_first:
        answer = gateway.query_profit_share(
            transaction_id=payment.channel_txn_id, out_order_no=share.out_order_no, sub_mchid=sub_mchid
        )
        if answer is None and payment.refunded_fen >= payment.paid_fen:
            return _skipped(share)
    if answer is None and share.amount_fen > 0:
        answer = gateway.profit_share(
            transaction_id=payment.channel_txn_id,
            out_order_no=share.out_order_no,
            sub_mchid=sub_mchid,
            amount_fen=share.amount_fen,
            description="平台服务费",
        )
    elif answer is None:
        answer = gateway.unfreeze(
            transaction_id=payment.channel_txn_id,
            out_order_no=share.out_order_no,
            sub_mchid=sub_mchid,
            description="无平台服务费，解冻给收款方",
        )
    share.amount_fen = _wechat_shared_fen(answer, gateway.settings.sp_mchid, share.amount_fen)
    share.raw, share.channel_order_id = answer, answer.get("order_id") or share.channel_order_id
    share.last_error = None
    if answer.get("state") == "FINISHED":
        share.status, share.finished_at = ShareStatus.finished, utcnow()
        log.info("profit sharing %s finished: %s fen of payment %s", share.id, share.amount_fen, payment.id)
        return "finished"
    share.status = ShareStatus.processing
    outbox.enqueue(jobs.share_profit, share.id, delay=PROCESSING_RECHECK)
    return "processing"


def _wechat_shared_fen(answer: dict, sp_mchid: str, fixed: int) -> int:
    """What WeChat Pay's order says went to the service provider (a receiver CLOSED took nothing); ``fixed`` when
    the answer lists no receivers at all."""
    if "receivers" not in answer:
        return fixed
    return sum(
        int(receiver.get("amount") or 0)
        for receiver in answer.get("receivers") or []
        if receiver.get("account") == sp_mchid and receiver.get("result") != "CLOSED"
    )


def _share_alipay(gateway, share: ProfitShare, payment: Payment, *, ask_first: bool) -> str:
    account = gateway.settings.royalty_account
    if not account:
        raise GatewayError("not_configured", "ALIPAY_ROYALTY_ACCOUNT is not set")
    token = alipay_token(payment.payee)
    if ask_first:
        # An earlier attempt may have settled and lost the answer: ask before settling again.
        answer = gateway.order_settle_query(
            trade_no=payment.channel_txn_id, out_request_no=share.out_order_no, app_auth_token=token
        )
        if answer is not None:
            return _alipay_settled(share, payment, answer, account)
        if payment.refunded_fen >= payment.paid_fen:
            return _skipped(share)
    if share.amount_fen > 0:
        ensure_royalty_receiver(gateway, payment.payee, token, account)
    answer = gateway.order_settle(
        trade_no=payment.channel_txn_id,
        out_request_no=share.out_order_no,
        account=account,
        amount_fen=share.amount_fen,
        app_auth_token=token,
    )
    share.raw = answer
    share.channel_order_id = answer.get("settle_no") or share.channel_order_id
    share.status, share.finished_at, share.last_error = ShareStatus.finished, utcnow(), None
    log.info("profit sharing %s settled at Alipay: %s fen of payment %s", share.id, share.amount_fen, payment.id)
    return "finished"


def _alipay_settled(share: ProfitShare, payment: Payment, answer: dict, account: str) -> str:
    """Alipay has the settlement: finished with the amount its details report, processing, or failed."""
    details = answer.get("royalty_detail_list") or []
    states = {detail.get("state") for detail in details}
    if "FAIL" in states:
        raise GatewayError("settle_failed", f"settlement details {sorted(states)}", raw=answer)
    if states - {"SUCCESS"}:
        share.status = ShareStatus.processing
        outbox.enqueue(jobs.share_profit, share.id, delay=PROCESSING_RECHECK)
        return "processing"
    share.amount_fen = sum(
        yuan_to_fen(detail.get("amount") or "0")
        for detail in details
        if detail.get("trans_in") == account and detail.get("operation_type", "transfer") == "transfer"
    )
    share.raw, share.last_error = answer, None
    share.status, share.finished_at = ShareStatus.finished, utcnow()
    log.info("profit sharing %s found settled at Alipay: %s fen of payment %s", share.id, share.amount_fen, payment.id)
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
