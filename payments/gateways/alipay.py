"""Alipay as an ISV (第三方应用): each payee authorises the platform's app, and every call carries the payee's
``app_auth_token``. Through python-alipay-sdk (fzlee): the APP order string, query, close, refund, the
authorisation query, statement download URLs, and notification verification (RSA2).

python-alipay-sdk has no setting for the gateway address: it is the private ``_gateway``, set after construction
(the package is pinned for that). Keys are handed to it as PEM: it refuses the bare base64 the console shows.
"""

from __future__ import annotations

import json
import logging
import urllib.error
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.api import SHANGHAI
from app.db import utcnow
from payments.gateways.common import GatewayError, NotificationRejected, fen_to_yuan, notify_url, pem, read_text

log = logging.getLogger(__name__)

DEFAULT_GATEWAY = "https://openapi.alipay.com/gateway.do"
SUCCESS = "10000"
#: Answers after which the same call may succeed: "service unavailable" and Alipay's system errors.
RETRYABLE_CODES = {"20000"}
RETRYABLE_SUB_CODES = {"ACQ.SYSTEM_ERROR", "isp.unknow-error", "aop.ACQ.SYSTEM_ERROR"}


def _error_code(raw: str) -> str | None:
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    for value in answer.values() if isinstance(answer, dict) else ():
        if isinstance(value, dict) and (value.get("sub_code") or value.get("code")):
            return str(value.get("sub_code") or value.get("code"))
    return None


@dataclass(frozen=True)
class AlipaySettings:
    app_id: str
    private_key: str
    alipay_public_key: str
    gateway: str = DEFAULT_GATEWAY
    notify_url: str | None = None
    timeout: float = 10.0
    #: The platform's Alipay user id receiving commissions; None: payees with a commission cannot take Alipay.
    royalty_account: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AlipaySettings | None:
        required = ("ALIPAY_APP_ID", "ALIPAY_PRIVATE_KEY_PATH", "ALIPAY_PUBLIC_KEY_PATH")
        if not all(config.get(name) for name in required):
            return None
        return cls(
            app_id=str(config["ALIPAY_APP_ID"]),
            private_key=pem(read_text(config["ALIPAY_PRIVATE_KEY_PATH"]), "private"),
            alipay_public_key=pem(read_text(config["ALIPAY_PUBLIC_KEY_PATH"]), "public"),
            gateway=config.get("ALIPAY_GATEWAY") or DEFAULT_GATEWAY,
            notify_url=notify_url(config.get("PAYMENTS_NOTIFY_BASE_URL"), "alipay"),
            timeout=float(config.get("PAYMENTS_GATEWAY_TIMEOUT") or 10.0),
            royalty_account=config.get("ALIPAY_ROYALTY_ACCOUNT") or None,
        )


def timeout_express(expires_at: datetime, now: datetime | None = None) -> str:
    """Whole minutes left until ``expires_at`` (rounded down, so Alipay closes the trade no later than we do).

    :raises GatewayError: ``expired`` when less than a minute is left.
    """
    minutes = int((expires_at - (now or utcnow())).total_seconds() // 60)
    if minutes < 1:
        raise GatewayError("expired", "less than a minute left to pay")
    return f"{min(minutes, 15 * 24 * 60)}m"


class AlipayGateway:
    """The platform's Alipay app acting for payees."""

    def __init__(self, settings: AlipaySettings) -> None:
        # python-alipay-sdk (and pycryptodomex, pyOpenSSL), like requests below, are imported on first use (#12).
        from alipay import AliPay
        from alipay.utils import AliPayConfig

        self.settings = settings
        self.client = AliPay(
            appid=settings.app_id,
            app_notify_url=settings.notify_url,
            app_private_key_string=settings.private_key,
            alipay_public_key_string=settings.alipay_public_key,
            sign_type="RSA2",
            config=AliPayConfig(timeout=settings.timeout),
        )
        self.client._gateway = settings.gateway  # private in python-alipay-sdk 3.4.0; no public setting exists

    @staticmethod
    def _timestamp() -> str:
        # The SDK stamps requests with the server's local time; Alipay reads it as Beijing time.
        return utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")

    def _call(self, method: str, biz_content: dict[str, Any], app_auth_token: str | None) -> dict[str, Any]:
        from alipay.exceptions import AliPayException, AliPayValidationError

        extra = {"timestamp": self._timestamp()}
        if app_auth_token:
            extra["app_auth_token"] = app_auth_token
        try:
            answer = self.client.server_api(method, biz_content, **extra)
        except AliPayValidationError as error:
            raise GatewayError("bad_response_signature", method, retryable=True) from error
        except AliPayException as error:
            # An unsigned answer or an error_response (bad app id, bad request signature). The SDK keeps the code
            # and the raw answer in name-mangled attributes.
            raw = str(getattr(error, "_AliPayException__message", ""))
            code = _error_code(raw) or str(getattr(error, "_AliPayException__code", "") or "error_response")
            raise GatewayError(code, f"{method}: {raw}"[:500]) from error
        except urllib.error.HTTPError as error:  # an error page from the gateway or a proxy: only a 5xx may pass
            error.close()  # the error holds the open response: let go of its socket
            retryable = error.code >= 500
            raise GatewayError(f"HTTP_{error.code}", method, retryable=retryable, status=error.code) from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            timed_out = isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError)
            code = "timeout" if timed_out else "network_error"
            raise GatewayError(code, f"{method}: {error}", retryable=True) from error
        except ValueError as error:  # not JSON
            raise GatewayError("bad_response", f"{method}: {error}", retryable=True) from error
        code = str(answer.get("code", ""))
        if code != SUCCESS:
            sub_code = str(answer.get("sub_code") or code)
            retryable = code in RETRYABLE_CODES or sub_code in RETRYABLE_SUB_CODES
            raise GatewayError(
                sub_code, f"{method}: {answer.get('sub_msg') or answer.get('msg', '')}", retryable=retryable, raw=answer
            )
        return answer

    # --- pay -------------------------------------------------------------------------------------------------

    def app_order_string(
        self,
        *,
        out_trade_no: str,
        subject: str,
        amount_fen: int,
        expires_at: datetime,
        app_auth_token: str,
        royalty_freeze: bool = False,
        now: datetime | None = None,
    ) -> str:
        """The signed order string the phone app hands to the Alipay SDK (``alipay.trade.app.pay``); no HTTP.

        ``timeout_express`` comes from the payment's expiry, so Alipay refuses money after it. With
        ``royalty_freeze`` (payees who owe a commission) Alipay keeps the money frozen in the seller's balance until
        the settlement (``order_settle``) shares it and unfreezes the rest.
        """
        biz_content: dict[str, Any] = {
            "subject": subject[:256],
            "out_trade_no": out_trade_no,
            "total_amount": fen_to_yuan(amount_fen),
            "product_code": "QUICK_MSECURITY_PAY",
            "timeout_express": timeout_express(expires_at, now),
        }
        if royalty_freeze:
            biz_content["extend_params"] = {"royalty_freeze": "true"}
        return self.client.client_api(
            "alipay.trade.app.pay",
            biz_content,
            notify_url=self.settings.notify_url,
            app_auth_token=app_auth_token,
            timestamp=self._timestamp(),
        )

    def query(self, *, out_trade_no: str, app_auth_token: str) -> dict[str, Any] | None:
        """The trade (``trade_status`` WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_FINISHED, TRADE_CLOSED); None if unknown
        (an APP trade exists at Alipay only once the payer opened the cashier)."""
        try:
            return self._call("alipay.trade.query", {"out_trade_no": out_trade_no}, app_auth_token)
        except GatewayError as error:
            if error.code == "ACQ.TRADE_NOT_EXIST":
                return None
            raise

    def close(self, *, out_trade_no: str, app_auth_token: str) -> None:
        """Close an unpaid trade; a trade Alipay never saw counts as closed.

        :raises GatewayError: ``ACQ.TRADE_STATUS_ERROR`` when it was paid first (query and settle instead).
        """
        try:
            self._call("alipay.trade.close", {"out_trade_no": out_trade_no}, app_auth_token)
        except GatewayError as error:
            if error.code != "ACQ.TRADE_NOT_EXIST":
                raise

    def refund(
        self,
        *,
        out_trade_no: str,
        out_request_no: str,
        refund_fen: int,
        app_auth_token: str,
        reason: str = "",
        royalty_return: tuple[str, int] | None = None,
    ) -> dict[str, Any]:
        """Refund synchronously; idempotent per ``out_request_no`` (a repeat answers ``fund_change: N``).

        :param royalty_return: ``(account, fen)``: take that much of the refund back from the royalty receiver
            (退分账). APP payments must say so explicitly; without it Alipay takes the whole refund from the seller.
        """
        biz_content: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "out_request_no": out_request_no,
            "refund_amount": fen_to_yuan(refund_fen),
        }
        if reason:
            biz_content["refund_reason"] = reason[:256]
        if royalty_return and royalty_return[1] > 0:
            account, fen = royalty_return
            biz_content["refund_royalty_parameters"] = [
                {
                    "royalty_type": "transfer",
                    "trans_out_type": "userId",
                    "trans_out": account,
                    "amount": fen_to_yuan(fen),
                    "desc": "退款退回平台服务费",
                }
            ]
        return self._call("alipay.trade.refund", biz_content, app_auth_token)

    # --- royalty settlement (分账) ------------------------------------------------------------------------------

    def royalty_bind(self, *, account: str, out_request_no: str, app_auth_token: str) -> dict[str, Any]:
        """Bind the platform's account as the seller's royalty receiver (alipay.trade.royalty.relation.bind)."""
        biz_content = {
            "receiver_list": [{"type": "userId", "account": account, "memo": "平台服务费"}],
            "out_request_no": out_request_no,
        }
        return self._call("alipay.trade.royalty.relation.bind", biz_content, app_auth_token)

    def order_settle(
        self, *, trade_no: str, out_request_no: str, account: str, amount_fen: int, app_auth_token: str
    ) -> dict[str, Any]:
        """Settle a frozen trade: ``amount_fen`` to ``account`` and, with ``royalty_finish``, unfreeze the rest for
        the seller (0 fen: only unfreeze). Idempotent per ``out_request_no``."""
        royalty = []
        if amount_fen > 0:
            royalty.append(
                {
                    "royalty_type": "transfer",
                    "trans_in_type": "userId",
                    "trans_in": account,
                    "amount": fen_to_yuan(amount_fen),
                    "desc": "平台服务费",
                }
            )
        biz_content = {
            "out_request_no": out_request_no,
            "trade_no": trade_no,
            "royalty_parameters": royalty,
            "extend_params": {"royalty_finish": "true"},
        }
        return self._call("alipay.trade.order.settle", biz_content, app_auth_token)

    def order_settle_query(self, *, trade_no: str, out_request_no: str, app_auth_token: str) -> dict[str, Any] | None:
        """The settlement as Alipay recorded it (``royalty_detail_list`` with each detail's ``state``); None when
        Alipay has none under this ``out_request_no``."""
        try:
            return self._call(
                "alipay.trade.order.settle.query",
                {"out_request_no": out_request_no, "trade_no": trade_no},
                app_auth_token,
            )
        except GatewayError as error:
            if error.code in ("ACQ.SETTLE_NOT_EXIST", "ACQ.TRADE_SETTLE_NOT_EXIST", "ACQ.TRADE_NOT_EXIST"):
                return None
            raise

    def query_refund(self, *, out_trade_no: str, out_request_no: str, app_auth_token: str) -> dict[str, Any]:
        """``refund_status`` is REFUND_SUCCESS once the money went back; absent while unknown."""
        return self._call(
            "alipay.trade.fastpay.refund.query",
            {"out_trade_no": out_trade_no, "out_request_no": out_request_no},
            app_auth_token,
        )

    def auth_token_info(self, app_auth_token: str) -> dict[str, Any]:
        """Whom an app_auth_token acts for: ``user_id`` (the seller's 2088… id), ``auth_app_id``, ``status``."""
        return self._call("alipay.open.auth.token.app.query", {"app_auth_token": app_auth_token}, None)

    # --- statements ------------------------------------------------------------------------------------------

    def trade_bill(self, bill_date: date, *, app_auth_token: str) -> bytes | None:
        """The payee's trade statement for the day (a zip of GBK CSV files); None when Alipay has none."""
        try:
            answer = self._call(
                "alipay.data.dataservice.bill.downloadurl.query",
                {"bill_type": "trade", "bill_date": bill_date.isoformat()},
                app_auth_token,
            )
        except GatewayError as error:
            if error.code == "isp.bill_not_exist":
                return None
            raise
        import requests

        url = answer.get("bill_download_url")
        if not url:
            raise GatewayError("no_download_url", "bill query answered without a URL", raw=answer)
        try:
            response = requests.get(url, timeout=self.settings.timeout)
        except requests.RequestException as error:
            raise GatewayError("network_error", f"bill download: {error}", retryable=True) from error
        if response.status_code != 200:
            raise GatewayError(f"HTTP_{response.status_code}", "bill download", retryable=True)
        return response.content

    # --- notifications ---------------------------------------------------------------------------------------

    def verify_notification(self, form: Mapping[str, str]) -> dict[str, str]:
        """Check an asynchronous notification's RSA2 signature and app id; return its fields (without ``sign``).

        :raises NotificationRejected: ``bad_signature``, ``malformed`` or ``wrong_app``.
        """
        from alipay.exceptions import AliPayException

        data = {key: str(value) for key, value in form.items()}
        signature = data.pop("sign", None)
        if not signature:
            raise NotificationRejected("bad_signature", "no sign", retry=False)
        if data.get("sign_type", "RSA2") != "RSA2":
            raise NotificationRejected("bad_signature", "sign_type is not RSA2", retry=False)
        try:
            # verify() pops sign_type: the notification signature covers every field but sign and sign_type.
            valid = self.client.verify(dict(data), signature)
        except (AliPayException, ValueError, TypeError) as error:
            raise NotificationRejected("malformed", str(error)[:200], retry=False) from error
        if not valid:
            raise NotificationRejected("bad_signature", retry=False)
        if data.get("app_id") != self.settings.app_id:
            raise NotificationRejected("wrong_app", str(data.get("app_id"))[:64], retry=False)
        return data
