"""Notifications from WeChat Pay and Alipay: verify, check against our record, act once, keep the payload.

The one rule: a notification that is forged, tampered, stale, for someone else or does not match our record
changes nothing; it is kept (cut short) with the reason, logged, and listed for admins. A genuine one is stored
once per (gateway, notify id) by a unique index, in the same transaction as its effect, so twenty deliveries at
once credit the payment once; the engine's ``mark_paid`` guards the same again by transaction id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import outbox
from app.db import atomic, utcnow
from app.extensions import db
from payments import jobs as engine_jobs
from payments.errors import UnknownTrade
from payments.gateways.channels import (
    ALIPAY_CHANNELS,
    WECHAT_CHANNELS,
    _shanghai,
    alipay_gateway,
    wechatpay_gateway,
)
from payments.gateways.common import NotificationRejected, yuan_to_fen
from payments.gateways.models import AlipaySeller, GatewayNotification, Verdict
from payments.models import Payment, Refund, RefundStatus

log = logging.getLogger(__name__)

#: How much of a rejected notification is kept for admins.
KEEP_BYTES = 4000
WECHAT_HEADERS = ("Wechatpay-Serial", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature-Type")


def record_rejection(
    gateway: str,
    rejected: NotificationRejected,
    payload: dict[str, Any],
    *,
    out_trade_no: str | None = None,
    notify_id: str | None = None,
    event_type: str | None = None,
) -> None:
    """Keep a rejected notification for admins, in a unit of work of its own (the caller's was rolled back)."""
    with atomic():
        db.session.add(
            GatewayNotification(
                gateway=gateway,
                verdict=Verdict.rejected,
                reason=rejected.reason,
                detail=rejected.detail[:1000] or None,
                payload=payload,
                out_trade_no=(out_trade_no or "")[:64] or None,
                notify_id=(notify_id or "")[:128] or None,
                event_type=(event_type or "")[:64] or None,
            )
        )
    log.warning(
        "%s notification rejected (%s %s) for out_trade_no %r", gateway, rejected.reason, rejected.detail, out_trade_no
    )


def _store_accepted(
    gateway: str,
    notify_id: str,
    event_type: str | None,
    payload: dict[str, Any],
    *,
    out_trade_no: str | None = None,
    out_refund_no: str | None = None,
) -> bool:
    """Insert the verified notification; False when it was already accepted (a duplicate waits here for the first
    one's transaction, then finds its row)."""
    inserted = db.session.execute(
        pg_insert(GatewayNotification)
        .values(
            gateway=gateway,
            notify_id=notify_id[:128],
            event_type=(event_type or "")[:64] or None,
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            verdict=Verdict.accepted,
            payload=payload,
        )
        .on_conflict_do_nothing(
            index_elements=[GatewayNotification.gateway, GatewayNotification.notify_id],
            index_where=sa.text("verdict = 'accepted'"),
        )
        .returning(GatewayNotification.id)
    ).scalar()
    return inserted is not None


def _payment(out_trade_no: str | None, channels) -> Payment:
    payment = (
        db.session.scalar(
            sa.select(Payment).where(Payment.out_trade_no == (out_trade_no or ""), Payment.channel.in_(channels))
        )
        if out_trade_no
        else None
    )
    if payment is None:
        raise NotificationRejected("unknown_trade", str(out_trade_no)[:64])
    return payment


def _refund_of(out_refund_no: str | None, payment: Payment) -> Refund:
    refund = db.session.scalar(
        sa.select(Refund).where(Refund.out_refund_no == (out_refund_no or ""), Refund.payment_id == payment.id)
    )
    if refund is None:
        raise NotificationRejected("unknown_refund", str(out_refund_no)[:64])
    return refund


def _recheck_refund(refund: Refund) -> None:
    """The gateway says a refund moved: let the engine's refund job ask it and settle the refund its own way."""
    if refund.status is RefundStatus.pending:
        outbox.enqueue(engine_jobs.run_refund, refund.id)


# --- WeChat Pay --------------------------------------------------------------------------------------------------


def handle_wechat(headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str] | None]:
    """Process a WeChat Pay notification; return the HTTP status and body WeChat Pay expects (204 and nothing when
    received, else 4xx with ``{"code": "FAIL", "message": …}`` and WeChat Pay sends it again later)."""
    kept = {
        "headers": {name: headers.get(name) for name in WECHAT_HEADERS},
        "body": body[:KEEP_BYTES].decode("utf-8", "replace"),
    }
    gateway = wechatpay_gateway()
    if gateway is None:
        record_rejection("wechatpay", NotificationRejected("not_configured"), kept)
        return 404, {"code": "FAIL", "message": "not_configured"}
    try:
        verified = gateway.verify_notification(headers, body)
    except NotificationRejected as rejected:
        record_rejection("wechatpay", rejected, kept)
        return 401, {"code": "FAIL", "message": rejected.reason}
    resource: dict[str, Any] = verified["resource"]
    event_type = str(verified.get("event_type", ""))
    if not verified.get("id"):
        record_rejection("wechatpay", NotificationRejected("malformed", "no notification id"), kept)
        return 400, {"code": "FAIL", "message": "malformed"}
    try:
        with atomic():
            if event_type.startswith("TRANSACTION."):
                _wechat_transaction(gateway, verified, resource, event_type)
            elif event_type.startswith("REFUND."):
                _wechat_refund(gateway, verified, resource, event_type)
            else:
                _store_accepted("wechatpay", str(verified.get("id")), event_type, verified)
    except NotificationRejected as rejected:
        record_rejection(
            "wechatpay",
            rejected,
            {**kept, "resource": resource},
            out_trade_no=resource.get("out_trade_no"),
            notify_id=str(verified.get("id")),
            event_type=event_type,
        )
        return (404 if rejected.reason.startswith("unknown") else 400), {"code": "FAIL", "message": rejected.reason}
    return 204, None


def _check_wechat_identity(gateway, payment: Payment, resource: dict[str, Any]) -> None:
    if resource.get("sp_mchid") != gateway.settings.sp_mchid:
        raise NotificationRejected("wrong_mchid", str(resource.get("sp_mchid"))[:32])
    if resource.get("sub_mchid") != payment.payee.wechat_sub_mchid:
        raise NotificationRejected("wrong_sub_mchid", str(resource.get("sub_mchid"))[:32])


def _wechat_transaction(gateway, verified: dict[str, Any], resource: dict[str, Any], event_type: str) -> None:
    payment = _payment(resource.get("out_trade_no"), WECHAT_CHANNELS)
    _check_wechat_identity(gateway, payment, resource)
    if resource.get("sp_appid") not in {gateway.settings.mini_appid, gateway.settings.open_appid}:
        raise NotificationRejected("wrong_appid", str(resource.get("sp_appid"))[:32])
    amount = resource.get("amount") or {}
    if amount.get("currency") != "CNY":
        raise NotificationRejected("wrong_currency", str(amount.get("currency"))[:8])
    if amount.get("total") != payment.amount_fen:
        raise NotificationRejected("amount_mismatch", f"{amount.get('total')} != {payment.amount_fen}")
    if not _store_accepted("wechatpay", str(verified["id"]), event_type, verified, out_trade_no=payment.out_trade_no):
        log.info("wechatpay notification %s for payment %s already processed", verified["id"], payment.id)
        return
    if resource.get("trade_state") != "SUCCESS" or not resource.get("transaction_id"):
        return  # nothing paid: kept, no effect
    _mark_paid(payment, amount["total"], resource["transaction_id"], _shanghai(resource["success_time"]), resource)


def _wechat_refund(gateway, verified: dict[str, Any], resource: dict[str, Any], event_type: str) -> None:
    payment = _payment(resource.get("out_trade_no"), WECHAT_CHANNELS)
    _check_wechat_identity(gateway, payment, resource)
    refund = _refund_of(resource.get("out_refund_no"), payment)
    if (resource.get("amount") or {}).get("refund") != refund.amount_fen:
        raise NotificationRejected("amount_mismatch", f"refund {(resource.get('amount') or {}).get('refund')}")
    if not _store_accepted(
        "wechatpay",
        str(verified["id"]),
        event_type,
        verified,
        out_trade_no=payment.out_trade_no,
        out_refund_no=refund.out_refund_no,
    ):
        return
    if resource.get("refund_status") != "SUCCESS":
        log.error("wechatpay refund %s is %s: the refund job will report it", refund.id, resource.get("refund_status"))
    _recheck_refund(refund)


def _mark_paid(payment: Payment, amount_fen: int, txn_id: str, paid_at, raw: dict[str, Any]) -> None:
    from payments.paid import mark_paid

    try:
        mark_paid(payment.out_trade_no, amount_fen, txn_id, paid_at, raw, channel=payment.channel.value)
    except UnknownTrade as error:  # the payment vanished between our lookup and the engine's: let it retry
        raise NotificationRejected("unknown_trade", str(error)) from error


# --- Alipay ------------------------------------------------------------------------------------------------------

PAID_STATES = ("TRADE_SUCCESS", "TRADE_FINISHED")


def handle_alipay(form: Mapping[str, str]) -> tuple[int, str]:
    """Process an Alipay notification; Alipay stops sending it only when the answer is the text ``success``."""
    fields = {key: str(value) for key, value in form.items()}
    kept = {key: value[:500] for key, value in list(fields.items())[:60]}
    gateway = alipay_gateway()
    if gateway is None:
        record_rejection("alipay", NotificationRejected("not_configured"), kept)
        return 404, "failure"
    try:
        verified = gateway.verify_notification(fields)
    except NotificationRejected as rejected:
        record_rejection("alipay", rejected, kept, out_trade_no=fields.get("out_trade_no"))
        return 400, "failure"
    try:
        with atomic():
            _alipay_notification(verified)
    except NotificationRejected as rejected:
        record_rejection(
            "alipay",
            rejected,
            verified,
            out_trade_no=verified.get("out_trade_no"),
            notify_id=verified.get("notify_id"),
            event_type=verified.get("trade_status"),
        )
        return 400, "failure"
    return 200, "success"


def _alipay_notification(fields: dict[str, str]) -> None:
    payment = _payment(fields.get("out_trade_no"), ALIPAY_CHANNELS)
    seller = db.session.get(AlipaySeller, payment.payee_id)
    if seller is None or fields.get("seller_id") != seller.seller_id:
        raise NotificationRejected("wrong_seller", str(fields.get("seller_id"))[:32])
    try:
        total_fen = yuan_to_fen(fields.get("total_amount", ""))
    except ValueError:
        raise NotificationRejected("malformed", "total_amount") from None
    if total_fen != payment.amount_fen:
        raise NotificationRejected("amount_mismatch", f"{fields.get('total_amount')} != {payment.amount_fen} fen")
    if not fields.get("notify_id") or not fields.get("trade_no"):
        raise NotificationRejected("malformed", "notify_id or trade_no missing")
    refund_no = fields.get("out_biz_no") if fields.get("refund_fee") else None
    if refund_no:
        # A refund moved the trade (partial: TRADE_SUCCESS with refund_fee; full: TRADE_CLOSED).
        refund = _refund_of(refund_no, payment)
        if _store_accepted(
            "alipay",
            fields["notify_id"],
            fields.get("trade_status"),
            fields,
            out_trade_no=payment.out_trade_no,
            out_refund_no=refund.out_refund_no,
        ):
            _recheck_refund(refund)
        return
    if not _store_accepted(
        "alipay", fields["notify_id"], fields.get("trade_status"), fields, out_trade_no=payment.out_trade_no
    ):
        log.info("alipay notification %s for payment %s already processed", fields["notify_id"], payment.id)
        return
    if fields.get("trade_status") not in PAID_STATES:
        return  # WAIT_BUYER_PAY or TRADE_CLOSED without a refund: kept, no effect
    paid_at = _shanghai(fields["gmt_payment"], "%Y-%m-%d %H:%M:%S") if fields.get("gmt_payment") else None
    _mark_paid(payment, total_fen, fields["trade_no"], paid_at or utcnow(), fields)
