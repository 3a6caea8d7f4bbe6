"""The engine's ``Channel`` interface for WeChat Pay (JSAPI for the mini-program, APP for the phone app) and Alipay
(APP), on top of the gateway clients; and where the configured clients come from.

Channel names follow ``payments.models.PaymentChannel``: today ``wechatpay`` (the mini-program's JSAPI) and
``alipay`` (APP). The names ``wechat_jsapi``, ``wechat_app`` and ``alipay_app`` are registered too as soon as the
engine's enum has them (the phone app's WeChat Pay needs ``wechat_app``: it uses another app id).
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.api import SHANGHAI
from app.db import utcnow
from app.extensions import db
from payments.channels import Channel, RefundResult, TradeState, register_channel
from payments.errors import ChannelError, ChannelTimeout
from payments.gateways.alipay import AlipayGateway, AlipaySettings
from payments.gateways.common import GatewayError, yuan_to_fen
from payments.gateways.errors import WeChatOpenidMissing
from payments.gateways.models import AlipaySeller
from payments.gateways.wechatpay import WeChatPayGateway, WeChatPaySettings
from payments.models import Payee, Payment, PaymentChannel, Refund

log = logging.getLogger(__name__)

#: Engine channel names by gateway and trade type; only those present in ``PaymentChannel`` are registered.
WECHAT_JSAPI_NAMES = ("wechatpay", "wechat_jsapi")
WECHAT_APP_NAMES = ("wechat_app",)
ALIPAY_APP_NAMES = ("alipay", "alipay_app")


def _present(names: tuple[str, ...]) -> tuple[PaymentChannel, ...]:
    known = {channel.value: channel for channel in PaymentChannel}
    return tuple(known[name] for name in names if name in known)


WECHAT_CHANNELS = _present(WECHAT_JSAPI_NAMES + WECHAT_APP_NAMES)
ALIPAY_CHANNELS = _present(ALIPAY_APP_NAMES)


# --- configured clients ------------------------------------------------------------------------------------------

_WECHAT_KEYS = (
    "WECHATPAY_SP_MCHID",
    "WECHATPAY_PRIVATE_KEY_PATH",
    "WECHATPAY_CERT_SERIAL",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_PUBLIC_KEY_PATH",
    "WECHATPAY_PUBLIC_KEY_ID",
    "WECHATPAY_GATEWAY",
    "WECHATPAY_CERT_DIR",
    "WECHAT_MINI_APPID",
    "WECHAT_OPEN_APPID",
    "PAYMENTS_NOTIFY_BASE_URL",
    "PAYMENTS_GATEWAY_TIMEOUT",
)
_ALIPAY_KEYS = (
    "ALIPAY_APP_ID",
    "ALIPAY_PRIVATE_KEY_PATH",
    "ALIPAY_PUBLIC_KEY_PATH",
    "ALIPAY_GATEWAY",
    "ALIPAY_ROYALTY_ACCOUNT",
    "PAYMENTS_NOTIFY_BASE_URL",
    "PAYMENTS_GATEWAY_TIMEOUT",
)


def _cached(name: str, keys: tuple[str, ...], build):
    """One client per app and settings (keys are read from disk once); a settings change builds a new one."""
    config = current_app.config
    signature = (name, *(str(config.get(key)) for key in keys))
    cache = current_app.extensions.setdefault("linli_payment_gateways", {})
    if signature not in cache:
        cache[signature] = build(config)
    return cache[signature]


def wechatpay_gateway() -> WeChatPayGateway | None:
    """The service provider's WeChat Pay client, or None when it is not configured here."""

    def build(config):
        settings = WeChatPaySettings.from_config(
            config, default_cert_dir=os.path.join(current_app.instance_path, "wechatpay_certs")
        )
        return WeChatPayGateway(settings) if settings else None

    return _cached("wechatpay", _WECHAT_KEYS, build)


def alipay_gateway() -> AlipayGateway | None:
    """The ISV app's Alipay client, or None when it is not configured here."""

    def build(config):
        settings = AlipaySettings.from_config(config)
        return AlipayGateway(settings) if settings else None

    return _cached("alipay", _ALIPAY_KEYS, build)


def channel_error(error: GatewayError) -> ChannelError:
    """The engine's error for a gateway's: ``ChannelTimeout`` for a timeout (the gateway may have acted), else
    ``ChannelError``; ``details`` carry the gateway's code and whether a retry may succeed."""
    kind = ChannelTimeout if error.code == "timeout" else ChannelError
    return kind(details={"gateway_code": error.code, "retryable": error.retryable})


def _title(payment: Payment) -> str:
    titles = [item.title for item in payment.items]
    title = titles[0] if titles else payment.kind
    return f"{title[:30]}等{len(titles)}项" if len(titles) > 1 else title[:40]


def _shanghai(text: str, fmt: str | None = None) -> datetime:
    if fmt is None:
        return datetime.fromisoformat(text)
    return datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)


# --- WeChat Pay ----------------------------------------------------------------------------------------------------


class WeChatPayChannel(Channel):
    """Partner-mode WeChat Pay: the payee's sub-merchant receives the money; ``trade_type`` is JSAPI or APP."""

    def __init__(self, name: str, trade_type: str) -> None:
        self.name, self.trade_type = name, trade_type

    def _gateway(self) -> WeChatPayGateway:
        gateway = wechatpay_gateway()
        if gateway is None:
            raise ChannelError("微信支付未配置", details={"gateway_code": "not_configured"})
        return gateway

    def available(self) -> bool:
        gateway = wechatpay_gateway()
        if gateway is None:
            return False
        return bool(gateway.settings.mini_appid if self.trade_type == "JSAPI" else gateway.settings.open_appid)

    def accepts(self, payee: Payee) -> bool:
        return bool(payee.wechat_sub_mchid)

    def prepay(self, payment: Payment) -> dict[str, Any]:
        gateway = self._gateway()
        profit_sharing = payment.payee.commission_bps > 0
        try:
            if self.trade_type == "JSAPI":
                from app.accounts.models import User

                openid = db.session.scalar(sa.select(User.wechat_openid).where(User.id == payment.payer_user_id))
                if not openid:
                    raise WeChatOpenidMissing()
                return gateway.prepay_jsapi(
                    out_trade_no=payment.out_trade_no,
                    sub_mchid=payment.payee.wechat_sub_mchid,
                    description=_title(payment),
                    amount_fen=payment.amount_fen,
                    expires_at=payment.expires_at,
                    openid=openid,
                    profit_sharing=profit_sharing,
                )
            return gateway.prepay_app(
                out_trade_no=payment.out_trade_no,
                sub_mchid=payment.payee.wechat_sub_mchid,
                description=_title(payment),
                amount_fen=payment.amount_fen,
                expires_at=payment.expires_at,
                profit_sharing=profit_sharing,
            )
        except GatewayError as error:
            log.warning("wechatpay prepay of payment %s failed: %s", payment.id, error)
            raise channel_error(error) from error

    def query(self, payment: Payment) -> TradeState:
        gateway = self._gateway()
        try:
            answer = gateway.query(out_trade_no=payment.out_trade_no, sub_mchid=payment.payee.wechat_sub_mchid)
        except GatewayError as error:
            raise channel_error(error) from error
        return trade_state_of_wechat(gateway, payment, answer)

    def close(self, payment: Payment) -> None:
        gateway = self._gateway()
        try:
            gateway.close(out_trade_no=payment.out_trade_no, sub_mchid=payment.payee.wechat_sub_mchid)
        except GatewayError as error:
            if error.code == "ORDERPAID":
                settle_if_paid(self, payment, source="paid_before_close")
                return
            raise channel_error(error) from error

    def before_refund(self, payment: Payment, refund: Refund) -> str | None:
        from payments.gateways.share_returns import prepare_refund

        return prepare_refund(payment, refund)

    def refund(self, payment: Payment, refund: Refund) -> RefundResult:
        gateway = self._gateway()
        try:
            answer = None
            if refund.attempts > 1 or refund.channel_refund_id:
                # An earlier attempt may have reached WeChat Pay and lost its answer: ask before sending again.
                answer = gateway.query_refund(
                    out_refund_no=refund.out_refund_no, sub_mchid=payment.payee.wechat_sub_mchid
                )
            if answer is None:
                answer = gateway.refund(
                    out_trade_no=payment.out_trade_no,
                    out_refund_no=refund.out_refund_no,
                    refund_fen=refund.amount_fen,
                    total_fen=payment.paid_fen,
                    sub_mchid=payment.payee.wechat_sub_mchid,
                    reason=refund.reason,
                )
        except GatewayError as error:
            raise channel_error(error) from error
        status = answer.get("status")
        if status == "SUCCESS":
            return RefundResult("succeeded", answer.get("refund_id"), answer)
        if status == "PROCESSING":
            return RefundResult("processing", answer.get("refund_id"), answer)
        # CLOSED or ABNORMAL (the payer's card or account cannot take it back): a person must look.
        raise ChannelError(f"微信支付退款状态 {status}", details={"gateway_code": f"REFUND_{status}"})


def trade_state_of_wechat(gateway: WeChatPayGateway, payment: Payment, answer: dict[str, Any] | None) -> TradeState:
    """Our view of WeChat Pay's answer to a query (None: the order never reached WeChat Pay)."""
    if answer is None:
        return TradeState("open")
    if (answer.get("out_trade_no"), answer.get("sub_mchid"), answer.get("sp_mchid")) != (
        payment.out_trade_no,
        payment.payee.wechat_sub_mchid,
        gateway.settings.sp_mchid,
    ):
        raise ChannelError("微信支付查询结果与订单不符", details={"gateway_code": "query_mismatch"})
    state = answer.get("trade_state")
    if state in ("SUCCESS", "REFUND"):  # REFUND: paid, then (partly) refunded
        return TradeState(
            "paid",
            answer["transaction_id"],
            int(answer["amount"]["total"]),
            _shanghai(answer["success_time"]) if answer.get("success_time") else utcnow(),
            answer,
        )
    if state in ("CLOSED", "REVOKED", "PAYERROR"):
        return TradeState("closed", raw=answer)
    return TradeState("open", raw=answer)  # NOTPAY, USERPAYING


# --- Alipay --------------------------------------------------------------------------------------------------------


class AlipayChannel(Channel):
    """Alipay APP payment for a payee who authorised the platform's app (app_auth_token)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _gateway(self) -> AlipayGateway:
        gateway = alipay_gateway()
        if gateway is None:
            raise ChannelError("支付宝未配置", details={"gateway_code": "not_configured"})
        return gateway

    def available(self) -> bool:
        return alipay_gateway() is not None

    def accepts(self, payee: Payee) -> bool:
        if payee.alipay_app_auth_token_ciphertext is None:
            return False
        # A commission is taken by royalty settlement to the platform's account: without one, no Alipay for them.
        gateway = alipay_gateway()
        return payee.commission_bps <= 0 or bool(gateway and gateway.settings.royalty_account)

    def prepay(self, payment: Payment) -> dict[str, Any]:
        gateway = self._gateway()
        token = alipay_token(payment.payee)
        try:
            ensure_alipay_seller(gateway, payment.payee, token)
            order_string = gateway.app_order_string(
                out_trade_no=payment.out_trade_no,
                subject=_title(payment),
                amount_fen=payment.amount_fen,
                expires_at=payment.expires_at,
                app_auth_token=token,
                royalty_freeze=payment.payee.commission_bps > 0,
            )
        except GatewayError as error:
            log.warning("alipay prepay of payment %s failed: %s", payment.id, error)
            raise channel_error(error) from error
        return {"order_string": order_string}

    def query(self, payment: Payment) -> TradeState:
        try:
            answer = self._gateway().query(
                out_trade_no=payment.out_trade_no, app_auth_token=alipay_token(payment.payee)
            )
        except GatewayError as error:
            raise channel_error(error) from error
        return trade_state_of_alipay(payment, answer)

    def close(self, payment: Payment) -> None:
        try:
            self._gateway().close(out_trade_no=payment.out_trade_no, app_auth_token=alipay_token(payment.payee))
        except GatewayError as error:
            if error.code == "ACQ.TRADE_STATUS_ERROR":
                settle_if_paid(self, payment, source="paid_before_close")
                return
            raise channel_error(error) from error

    def before_refund(self, payment: Payment, refund: Refund) -> str | None:
        from payments.gateways.share_returns import prepare_refund

        return prepare_refund(payment, refund)

    def refund(self, payment: Payment, refund: Refund) -> RefundResult:
        from payments.gateways.share_returns import alipay_royalty_return, finish_alipay_return

        gateway, token = self._gateway(), alipay_token(payment.payee)
        try:
            if refund.attempts > 1:
                # An earlier attempt may have refunded and lost its answer: ask before sending again.
                known = gateway.query_refund(
                    out_trade_no=payment.out_trade_no, out_request_no=refund.out_refund_no, app_auth_token=token
                )
                if known.get("refund_status") == "REFUND_SUCCESS":
                    finish_alipay_return(refund, known)
                    return RefundResult("succeeded", known.get("trade_no"), known)
            answer = gateway.refund(
                out_trade_no=payment.out_trade_no,
                out_request_no=refund.out_refund_no,
                refund_fen=refund.amount_fen,
                app_auth_token=token,
                reason=refund.reason,
                royalty_return=alipay_royalty_return(gateway, refund),
            )
        except GatewayError as error:
            raise channel_error(error) from error
        # Alipay refunds synchronously; a repeat of the same out_request_no answers fund_change "N".
        finish_alipay_return(refund, answer)
        return RefundResult("succeeded", answer.get("trade_no"), answer)


def alipay_token(payee: Payee) -> str:
    """The payee's app_auth_token, decrypted. :raises ChannelError: the payee has not authorised the app."""
    from payments.payees import alipay_app_auth_token

    token = alipay_app_auth_token(payee)
    if not token:
        raise ChannelError("收款方未授权支付宝", details={"gateway_code": "no_app_auth_token"})
    return token


def ensure_alipay_seller(gateway: AlipayGateway, payee: Payee, token: str) -> AlipaySeller:
    """The seller the payee's token acts for, asked of Alipay when unknown or when the token changed (flush only)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    seller = db.session.get(AlipaySeller, payee.id)
    if seller is not None and seller.token_sha256 == digest:
        return seller
    info = gateway.auth_token_info(token)
    if info.get("status", "valid") != "valid" or not info.get("user_id"):
        raise GatewayError("token_invalid", f"app_auth_token status {info.get('status')}")
    values = {
        "token_sha256": digest,
        "seller_id": info["user_id"],
        "auth_app_id": info.get("auth_app_id"),
        "checked_at": utcnow(),
    }
    insert = pg_insert(AlipaySeller).values(payee_id=payee.id, **values)
    # The royalty relation belongs to the seller: kept while the new token acts for the same one, else bound again.
    same_seller = AlipaySeller.seller_id == insert.excluded.seller_id
    db.session.execute(
        insert.on_conflict_do_update(
            index_elements=[AlipaySeller.payee_id],
            set_={
                **values,
                "royalty_account": sa.case((same_seller, AlipaySeller.royalty_account), else_=None),
                "royalty_bound_at": sa.case((same_seller, AlipaySeller.royalty_bound_at), else_=None),
            },
        )
    )
    log.info("payee %s: Alipay token acts for seller %s", payee.id, info["user_id"])
    return db.session.get(AlipaySeller, payee.id, populate_existing=True)


def trade_state_of_alipay(payment: Payment, answer: dict[str, Any] | None) -> TradeState:
    if answer is None:
        return TradeState("open")  # the payer never opened Alipay's cashier
    if answer.get("out_trade_no") != payment.out_trade_no:
        raise ChannelError("支付宝查询结果与订单不符", details={"gateway_code": "query_mismatch"})
    state = answer.get("trade_status")
    if state in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        paid_at = _shanghai(answer["send_pay_date"], "%Y-%m-%d %H:%M:%S") if answer.get("send_pay_date") else utcnow()
        return TradeState("paid", answer["trade_no"], yuan_to_fen(answer["total_amount"]), paid_at, answer)
    if state == "TRADE_CLOSED":
        return TradeState("closed", raw=answer)
    return TradeState("open", raw=answer)


# --- shared --------------------------------------------------------------------------------------------------------


def settle_if_paid(channel: Channel, payment: Payment, *, source: str) -> TradeState:
    """Ask the gateway and, if it took the money, record it through the single paid path (joins the caller's unit
    of work). Used when a close finds the order paid, and by the job for payments whose notification is lost."""
    from payments.paid import mark_paid

    state = channel.query(payment)
    if state.state == "paid":
        mark_paid(
            payment.out_trade_no,
            state.amount_fen,
            state.channel_txn_id,
            state.paid_at,
            {**state.raw, "source": source},
            channel=payment.channel.value,
        )
    return state


def register() -> None:
    """Register a channel under every engine channel name that exists (idempotent)."""
    for channel in WECHAT_CHANNELS:
        trade_type = "APP" if channel.value in WECHAT_APP_NAMES else "JSAPI"
        register_channel(WeChatPayChannel(channel.value, trade_type))
    for channel in ALIPAY_CHANNELS:
        register_channel(AlipayChannel(channel.value))
