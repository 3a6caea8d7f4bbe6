"""Profit-sharing returns (分账回退): before a refund of a payment whose commission was shared, the commission part
goes back to the payee, so the refund never comes out of the payee's pocket for the platform's fee.

Called from the channels' ``before_refund`` inside the refund job's transaction:

- No share yet: a partial refund goes ahead (the share, when it comes, takes the commission on what stays paid);
  a refund of everything records the share as ``skipped``, so nothing is ever shared and the frozen money simply
  goes back. A share in flight (``pending``/``processing``): the refund waits for it.
- Share finished with a commission: one return per refund (unique ``refund_id``), of
  ``share − returned so far − commission_fen(paid, refunded_fen)`` (``refunded_fen``: every refund requested,
  this one and any still in flight, the basis the share was taken on). The platform keeps the commission on
  what stays paid, rounded down to the fen, so partial returns are integer fen and add up to the whole share once
  everything is refunded (3250 fen at 6 %: share 195; refund 1000 returns 60, the remaining 2250 returns 135).
- WeChat Pay: ``POST /v3/profitsharing/return-orders`` (partner mode, ``sub_mchid``), idempotent by
  ``out_return_no``; after a lost answer the next attempt asks first
  (``GET /v3/profitsharing/return-orders/{out_return_no}``). The refund goes only once the return is SUCCESS.
- Alipay: the return travels in the refund itself (``refund_royalty_parameters``), so it succeeds or fails with it.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db import utcnow
from app.extensions import db
from payments.errors import ChannelError
from payments.gateways.channels import ALIPAY_CHANNELS, channel_error, wechatpay_gateway
from payments.gateways.common import GatewayError
from payments.gateways.models import ProfitShare, ReturnStatus, ShareReturn, ShareStatus
from payments.gateways.profit_sharing import commission_fen
from payments.models import Payment, Refund, new_trade_no

log = logging.getLogger(__name__)


def prepare_refund(payment: Payment, refund: Refund) -> str | None:
    """What must happen before ``refund`` goes to the gateway (flush only). None: go ahead; else why to wait.

    :raises ChannelError: the return failed at the gateway (the refund job counts an attempt and retries).
    """
    share = db.session.scalar(
        sa.select(ProfitShare)
        .where(ProfitShare.payment_id == payment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if share is None:
        if payment.payee.commission_bps > 0 and payment.refunded_fen >= payment.paid_fen:
            # Everything goes back before anything was shared: nothing will ever be (the payee owes no commission
            # on a refunded order, and the frozen money simply returns to the payer).
            db.session.execute(
                pg_insert(ProfitShare)
                .values(payment_id=payment.id, status=ShareStatus.skipped, finished_at=utcnow(), raw={})
                .on_conflict_do_nothing(index_elements=[ProfitShare.payment_id])
            )
            log.info("payment %s refunded in full before sharing: its profit sharing is skipped", payment.id)
        return None
    if share.status in (ShareStatus.pending, ShareStatus.processing):
        return "profit_sharing_in_progress"
    if share.status is not ShareStatus.finished or share.amount_fen <= 0:
        # skipped (nothing taken), a plain unfreeze, or failed: the gateway never confirmed taking the commission
        # (when its last attempts could not reach the gateway it may have: the admins' audit entry
        # payment.profit_sharing_failed says to check), so there is nothing known to give back.
        return None
    item = _return_for(share, payment, refund)
    if item.status is ReturnStatus.finished or payment.channel in ALIPAY_CHANNELS:
        return None  # Alipay: the return goes with the refund itself
    return _send_wechat_return(share, payment, item)


def _return_for(share: ProfitShare, payment: Payment, refund: Refund) -> ShareReturn:
    """This refund's return, created once with its amount (under the share's row lock)."""
    item = db.session.scalar(
        sa.select(ShareReturn).where(ShareReturn.refund_id == refund.id).execution_options(populate_existing=True)
    )
    if item is not None:
        return item
    returned = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ShareReturn.amount_fen), 0)).where(ShareReturn.share_id == share.id)
    )
    # The platform keeps the commission on what stays paid after every refund requested so far (this one and any
    # still in flight): the same basis as the share itself, which was taken on paid − refunded_fen at the time.
    keep = commission_fen(payment.paid_fen, payment.refunded_fen, payment.payee.commission_bps)
    amount = max(share.amount_fen - int(returned) - keep, 0)
    item = ShareReturn(share_id=share.id, refund_id=refund.id, amount_fen=amount, raw={})
    if amount == 0:
        item.status, item.finished_at = ReturnStatus.finished, utcnow()
    db.session.add(item)
    db.session.flush()
    log.info("refund %s returns %s fen of profit share %s first", refund.id, amount, share.id)
    return item


def _send_wechat_return(share: ProfitShare, payment: Payment, item: ShareReturn) -> str | None:
    gateway = wechatpay_gateway()
    if gateway is None:
        raise ChannelError("微信支付未配置", details={"gateway_code": "not_configured"})
    sub_mchid = payment.payee.wechat_sub_mchid
    item.attempts += 1
    try:
        answer = None
        if item.attempts > 1:
            answer = gateway.query_profit_share_return(
                out_order_no=share.out_order_no, out_return_no=item.out_return_no, sub_mchid=sub_mchid
            )
        if answer is None:
            answer = gateway.profit_share_return(
                out_order_no=share.out_order_no,
                out_return_no=item.out_return_no,
                sub_mchid=sub_mchid,
                amount_fen=item.amount_fen,
                description="用户退款，退回平台服务费",
            )
    except GatewayError as error:
        item.last_error = str(error)[:2000]
        db.session.flush()
        raise channel_error(error) from error
    item.raw, item.channel_return_id = answer, answer.get("return_id") or item.channel_return_id
    result = answer.get("result")
    if result == "SUCCESS":
        item.status, item.finished_at, item.last_error = ReturnStatus.finished, utcnow(), None
        log.info("profit share return %s: %s fen back to the payee", item.id, item.amount_fen)
        return None
    if result == "PROCESSING":
        item.status = ReturnStatus.processing
        return "profit_sharing_return_processing"
    # FAILED (e.g. the platform's balance could not cover it): a new return number for the next attempt.
    item.last_error = f"return {result}: {answer.get('fail_reason')}"
    item.status, item.out_return_no = ReturnStatus.pending, new_trade_no("RT")
    item.attempts = 0
    db.session.flush()
    raise ChannelError(f"分账回退失败：{answer.get('fail_reason')}", details={"gateway_code": "RETURN_FAILED"})


def alipay_royalty_return(gateway, refund: Refund) -> tuple[str, int] | None:
    """``(the platform's account, fen)`` to take back in an Alipay refund, when its return is still due."""
    item = db.session.scalar(sa.select(ShareReturn).where(ShareReturn.refund_id == refund.id))
    if item is None or item.status is ReturnStatus.finished or item.amount_fen <= 0:
        return None
    account = gateway.settings.royalty_account
    if not account:
        raise ChannelError("支付宝分账账户未配置", details={"gateway_code": "not_configured"})
    return account, item.amount_fen


def finish_alipay_return(refund: Refund, answer: dict) -> None:
    """The Alipay refund went through, and with it the royalty it carried back (flush only)."""
    db.session.execute(
        sa.update(ShareReturn)
        .where(ShareReturn.refund_id == refund.id, ShareReturn.status != ReturnStatus.finished)
        .values(status=ReturnStatus.finished, finished_at=utcnow(), raw=answer, attempts=ShareReturn.attempts + 1)
        .execution_options(synchronize_session=False)
    )
