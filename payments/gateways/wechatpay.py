"""WeChat Pay API v3 as a service provider (partner mode), through wechatpayv3.

Prepay for JSAPI (the mini-program) and APP, close, query, refund, profit sharing (分账), trade statements, and
notifications verified the way WeChat Pay asks: platform key serial known, timestamp within five minutes,
signature, then AES-256-GCM decryption. Knows no database; the channel adapters compare what comes back with our
records.

wechatpayv3 has no setting for the gateway address: it is the private ``Core._gate_way``, set after construction
(wechatpayv3 is pinned for that). Two ways to verify WeChat Pay's signatures:

- the "WeChat Pay public key" (微信支付公钥, ``WECHATPAY_PUBLIC_KEY_PATH`` + ``_ID``), what new merchants get;
- without it, platform certificates (平台证书): downloaded from ``GET /v3/certificates`` (each decrypted with the
  APIv3 key, which only WeChat Pay and we know, and kept in ``cert_dir`` as ``<serial>.pem``, the layout wechatpayv3
  reads), and a signature is checked with the certificate its ``Wechatpay-Serial`` names. wechatpayv3 would
  download them inside its constructor, from the real gateway (the address can only be set afterwards), so they are
  downloaded here first and the client is built on the filled ``cert_dir``. A notification naming an unknown serial
  (WeChat Pay rotated its certificate) downloads them again, at most once per ``CERTIFICATE_REFRESH_SECONDS``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from app.api import SHANGHAI
from payments.gateways.common import GatewayError, NotificationRejected, notify_url, pem, read_text

# wechatpayv3 and requests are imported where used: a web worker taking no WeChat Pay payment never loads them (#12).
if TYPE_CHECKING:
    from wechatpayv3 import WeChatPay

log = logging.getLogger(__name__)

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
#: A notification older (or newer) than this is refused as a replay.
NOTIFICATION_MAX_SKEW = 300
#: Error codes after which the same call may succeed (WeChat Pay's own list of "retry later" codes).
RETRYABLE_CODES = {"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "BANKERROR", "RATELIMIT_EXCEEDED"}
DEFAULT_GATEWAY = "https://api.mch.weixin.qq.com"
#: Certificate mode: an unknown serial downloads the certificates again at most this often.
CERTIFICATE_REFRESH_SECONDS = 60


@dataclass(frozen=True)
class WeChatPaySettings:
    """The service provider's identity. ``from_config`` returns None until every required setting is present."""

    sp_mchid: str
    private_key: str
    cert_serial: str
    apiv3_key: str
    #: The public-key mode; both None: the platform-certificate mode, with certificates kept in ``cert_dir``.
    public_key: str | None
    public_key_id: str | None
    cert_dir: str | None = None
    gateway: str = DEFAULT_GATEWAY
    mini_appid: str | None = None
    open_appid: str | None = None
    notify_url: str | None = None
    timeout: tuple[float, float] = (5.0, 10.0)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, default_cert_dir: str | None = None) -> WeChatPaySettings | None:
        """None until the merchant settings are present. With ``WECHATPAY_PUBLIC_KEY_PATH`` and ``_ID`` the
        public-key mode; with neither the platform-certificate mode (``WECHATPAY_CERT_DIR``, else
        ``default_cert_dir``); one without the other is a configuration error."""
        required = ("WECHATPAY_SP_MCHID", "WECHATPAY_PRIVATE_KEY_PATH", "WECHATPAY_CERT_SERIAL", "WECHATPAY_APIV3_KEY")
        if not all(config.get(name) for name in required):
            return None
        apiv3_key = config["WECHATPAY_APIV3_KEY"]
        if len(apiv3_key.encode()) != 32:
            raise ValueError("WECHATPAY_APIV3_KEY must be 32 bytes (the APIv3 key set in the merchant console)")
        key_path, key_id = config.get("WECHATPAY_PUBLIC_KEY_PATH"), config.get("WECHATPAY_PUBLIC_KEY_ID")
        if bool(key_path) != bool(key_id):
            raise ValueError("set both WECHATPAY_PUBLIC_KEY_PATH and WECHATPAY_PUBLIC_KEY_ID, or neither")
        cert_dir = None if key_path else (config.get("WECHATPAY_CERT_DIR") or default_cert_dir)
        if not key_path and not cert_dir:
            raise ValueError("the platform-certificate mode needs WECHATPAY_CERT_DIR")
        timeout = float(config.get("PAYMENTS_GATEWAY_TIMEOUT") or 10.0)
        return cls(
            sp_mchid=config["WECHATPAY_SP_MCHID"],
            private_key=pem(read_text(config["WECHATPAY_PRIVATE_KEY_PATH"]), "private"),
            cert_serial=config["WECHATPAY_CERT_SERIAL"],
            apiv3_key=apiv3_key,
            public_key=pem(read_text(key_path), "public") if key_path else None,
            public_key_id=key_id or None,
            cert_dir=cert_dir,
            gateway=(config.get("WECHATPAY_GATEWAY") or DEFAULT_GATEWAY).rstrip("/"),
            mini_appid=config.get("WECHAT_MINI_APPID"),
            open_appid=config.get("WECHAT_OPEN_APPID"),
            notify_url=notify_url(config.get("PAYMENTS_NOTIFY_BASE_URL"), "wechat"),
            timeout=(min(5.0, timeout), timeout),
        )


def time_expire(at: datetime) -> str:
    """RFC 3339 in Asia/Shanghai to the second, as WeChat Pay wants ``time_expire``."""
    return at.astimezone(SHANGHAI).isoformat(timespec="seconds")


class WeChatPayGateway:
    """One service provider's WeChat Pay client; every call names the payee's ``sub_mchid``."""

    def __init__(self, settings: WeChatPaySettings) -> None:
        self.settings = settings
        self._clients: dict[str, WeChatPay] = {}
        #: Platform keys by the serial WeChat Pay names them with (the public key's id, or certificate serials).
        self._platform_keys: dict[str, Any] = {}
        self._refreshed_at = 0.0
        self._lock = threading.Lock()
        if settings.public_key_id:
            from wechatpayv3.utils import load_public_key

            self._platform_keys[settings.public_key_id] = load_public_key(settings.public_key)

    @property
    def certificate_mode(self) -> bool:
        return not self.settings.public_key_id

    # --- platform certificates -----------------------------------------------------------------------------

    def _ensure_certificates(self) -> None:
        """Certificate mode: the valid certificates in ``cert_dir``, downloaded when there are none."""
        if not self.certificate_mode or self._platform_keys:
            return
        with self._lock:
            if self._platform_keys:
                return
            self._platform_keys.update(self._load_certificates())
            if not self._platform_keys:
                self.download_certificates()

    def _load_certificates(self) -> dict[str, Any]:
        from wechatpayv3.utils import load_certificate

        found: dict[str, Any] = {}
        directory = self.settings.cert_dir
        if not directory or not os.path.isdir(directory):
            return found
        now = datetime.now().astimezone()
        for name in sorted(os.listdir(directory)):
            if not name.lower().endswith(".pem"):
                continue
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                certificate = load_certificate(handle.read())
            if certificate and certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
                found[f"{certificate.serial_number:X}"] = certificate.public_key()
        return found

    def download_certificates(self) -> set[str]:
        """``GET /v3/certificates``: decrypt each with the APIv3 key, keep the valid ones as ``<serial>.pem`` in
        ``cert_dir`` (wechatpayv3's layout), and check the answer's signature with the certificate it names.

        :raises GatewayError: unreachable, refused, or no valid certificate in the answer.
        """
        import requests
        from wechatpayv3.utils import aes_decrypt, build_authorization, load_certificate, rsa_verify

        s, path = self.settings, "/v3/certificates"
        authorization = build_authorization(path, "GET", s.sp_mchid, s.cert_serial, self._merchant_key())
        try:
            response = requests.get(
                s.gateway + path,
                headers={"Authorization": authorization, "Accept": "application/json"},
                timeout=s.timeout,
            )
        except requests.Timeout as error:
            raise GatewayError("timeout", f"certificates: {error}", retryable=True) from error
        except requests.RequestException as error:
            raise GatewayError("network_error", f"certificates: {error}", retryable=True) from error
        if response.status_code != 200:
            raise GatewayError(f"HTTP_{response.status_code}", "certificates", retryable=response.status_code >= 500)
        try:
            items = (response.json().get("data") or []) if response.content else []
        except (ValueError, AttributeError) as error:  # not JSON (a proxy's error page), or not an object
            raise GatewayError("bad_response", f"certificates: {error}", retryable=True) from error
        downloaded: dict[str, Any] = {}
        texts: dict[str, str] = {}
        for item in items:
            encrypted = item.get("encrypt_certificate") or {}
            text = aes_decrypt(
                nonce=encrypted.get("nonce", ""),
                ciphertext=encrypted.get("ciphertext", ""),
                associated_data=encrypted.get("associated_data", ""),
                apiv3_key=s.apiv3_key,
            )
            certificate = load_certificate(text) if text else None
            now = datetime.now().astimezone()
            if certificate is None or not (certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc):
                continue
            serial = f"{certificate.serial_number:X}"
            downloaded[serial], texts[serial] = certificate.public_key(), text
        signer = downloaded.get((response.headers.get("Wechatpay-Serial") or "").upper())
        if signer is None or not rsa_verify(
            response.headers.get("Wechatpay-Timestamp", ""),
            response.headers.get("Wechatpay-Nonce", ""),
            response.text,
            response.headers.get("Wechatpay-Signature", ""),
            signer,
        ):
            raise GatewayError("bad_response_signature", "certificates answer not signed by its certificate")
        try:
            os.makedirs(s.cert_dir, exist_ok=True)
            for serial, text in texts.items():
                target = os.path.join(s.cert_dir, f"{serial}.pem")
                if not os.path.exists(target):
                    with open(target, "w", encoding="utf-8") as handle:
                        handle.write(text)
        except OSError as error:  # cert_dir not writable (or a file): ours to fix; a later call may succeed
            raise GatewayError("cert_dir_unwritable", f"certificates: {error}", retryable=True) from error
        self._platform_keys.update(downloaded)
        self._clients.clear()  # clients are built on cert_dir: rebuild them with the new certificates
        self._refreshed_at = time.monotonic()
        log.info("wechatpay platform certificates downloaded: %s", ", ".join(sorted(downloaded)))
        return set(downloaded)

    def _merchant_key(self):
        from wechatpayv3.utils import load_private_key

        return load_private_key(self.settings.private_key)

    # --- plumbing ------------------------------------------------------------------------------------------

    def client(self, appid: str | None = None) -> WeChatPay:
        """The wechatpayv3 client for ``appid`` (the app the payer's openid belongs to), pointed at our gateway.

        :raises GatewayError: certificate mode, and the certificates could not be downloaded.
        """
        appid = appid or self.settings.mini_appid or self.settings.open_appid or ""
        self._ensure_certificates()
        client = self._clients.get(appid)
        if client is None:
            from wechatpayv3 import WeChatPay, WeChatPayType

            s = self.settings
            client = WeChatPay(
                wechatpay_type=WeChatPayType.MINIPROG,
                mchid=s.sp_mchid,
                private_key=s.private_key,
                cert_serial_no=s.cert_serial,
                appid=appid,
                apiv3_key=s.apiv3_key,
                notify_url=s.notify_url,
                partner_mode=True,
                timeout=s.timeout,
                public_key=s.public_key,
                public_key_id=s.public_key_id,
                # Certificate mode: filled by _ensure_certificates, so the constructor finds them and calls no one.
                cert_dir=s.cert_dir if self.certificate_mode else None,
            )
            client._core._gate_way = s.gateway  # private in wechatpayv3 2.0.4; no public setting exists
            self._clients[appid] = client
        return client

    def _call(self, what: str, func, *args, **kwargs) -> dict[str, Any] | bytes:
        """Run one wechatpayv3 call and turn its (status, text) or exception into a dict or a GatewayError."""
        import requests  # already imported by wechatpayv3, whose method ``func`` is

        try:
            status, body = func(*args, **kwargs)
        except requests.Timeout as error:  # the answer may be lost after the gateway acted: ask again, by its key
            raise GatewayError("timeout", f"{what}: {error}", retryable=True) from error
        except requests.RequestException as error:
            raise GatewayError("network_error", f"{what}: {error}", retryable=True) from error
        except Exception as error:  # wechatpayv3 raises bare Exception, e.g. for a bad answer signature
            text = str(error)
            if "verify the signature" in text:
                raise GatewayError("bad_response_signature", f"{what}: {text}", retryable=True) from error
            raise GatewayError("client_error", f"{what}: {text}") from error
        if 200 <= status < 300:
            if isinstance(body, bytes):
                return body
            return json.loads(body) if body else {}
        try:
            answer = json.loads(body) if body else {}
        except (TypeError, ValueError):
            answer = {}
        code = str(answer.get("code") or f"HTTP_{status}")
        retryable = status >= 500 or status == 429 or code in RETRYABLE_CODES
        raise GatewayError(code, f"{what}: {answer.get('message', '')}", retryable=retryable, status=status, raw=answer)

    # --- prepay ------------------------------------------------------------------------------------------

    def prepay_jsapi(
        self,
        *,
        out_trade_no: str,
        sub_mchid: str,
        description: str,
        amount_fen: int,
        expires_at: datetime,
        openid: str,
        profit_sharing: bool = False,
    ) -> dict[str, str]:
        """Open a mini-program order; return the exact ``wx.requestPayment`` parameters.

        The mini-program belongs to the platform, so the payer is named by ``sp_openid`` under ``sp_appid``, and
        ``paySign`` is the merchant key's RSA-SHA256 over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``.
        """
        from wechatpayv3 import WeChatPayType

        appid = self._require_appid(self.settings.mini_appid, "WECHAT_MINI_APPID")
        answer = self._call(
            "prepay_jsapi",
            self.client(appid).pay,
            description=description[:127],
            out_trade_no=out_trade_no,
            amount={"total": amount_fen, "currency": "CNY"},
            payer={"sp_openid": openid},
            time_expire=time_expire(expires_at),
            settle_info={"profit_sharing": bool(profit_sharing)},
            sub_mchid=sub_mchid,
            pay_type=WeChatPayType.JSAPI,
        )
        prepay_id = answer.get("prepay_id")
        if not prepay_id:
            raise GatewayError("no_prepay_id", "prepay answered without prepay_id", retryable=True, raw=answer)
        timestamp, nonce, package = str(int(time.time())), secrets.token_hex(16), f"prepay_id={prepay_id}"
        return {
            "appId": appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": self.client(appid).sign([appid, timestamp, nonce, package]),
        }

    def prepay_app(
        self,
        *,
        out_trade_no: str,
        sub_mchid: str,
        description: str,
        amount_fen: int,
        expires_at: datetime,
        profit_sharing: bool = False,
    ) -> dict[str, str]:
        """Open an APP order with the open-platform app id; return the parameters of the APP SDK's ``PayReq``.

        ``sign`` is RSA-SHA256 over ``appid\\ntimestamp\\nnoncestr\\nprepayid\\n``; ``partnerid`` is the service
        provider's merchant id.
        """
        from wechatpayv3 import WeChatPayType

        appid = self._require_appid(self.settings.open_appid, "WECHAT_OPEN_APPID")
        answer = self._call(
            "prepay_app",
            self.client(appid).pay,
            description=description[:127],
            out_trade_no=out_trade_no,
            amount={"total": amount_fen, "currency": "CNY"},
            time_expire=time_expire(expires_at),
            settle_info={"profit_sharing": bool(profit_sharing)},
            sub_mchid=sub_mchid,
            pay_type=WeChatPayType.APP,
        )
        prepay_id = answer.get("prepay_id")
        if not prepay_id:
            raise GatewayError("no_prepay_id", "prepay answered without prepay_id", retryable=True, raw=answer)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        return {
            "appid": appid,
            "partnerid": self.settings.sp_mchid,
            "prepayid": prepay_id,
            "package": "Sign=WXPay",
            "noncestr": nonce,
            "timestamp": timestamp,
            "sign": self.client(appid).sign([appid, timestamp, nonce, prepay_id]),
        }

    @staticmethod
    def _require_appid(appid: str | None, setting: str) -> str:
        if not appid:
            raise GatewayError("not_configured", f"{setting} is not set")
        return appid

    # --- orders ------------------------------------------------------------------------------------------

    def query(self, *, out_trade_no: str, sub_mchid: str) -> dict[str, Any] | None:
        """The order as WeChat Pay sees it (``trade_state`` SUCCESS, NOTPAY, CLOSED, REFUND …); None if unknown."""
        try:
            return self._call("query", self.client().query, out_trade_no=out_trade_no, sub_mchid=sub_mchid)
        except GatewayError as error:
            if error.code == "ORDER_NOT_EXIST":
                return None
            raise

    def close(self, *, out_trade_no: str, sub_mchid: str) -> None:
        """Close an unpaid order; an order WeChat Pay never saw counts as closed.

        :raises GatewayError: ``ORDERPAID`` when the money arrived first (query and settle instead).
        """
        try:
            self._call("close", self.client().close, out_trade_no=out_trade_no, sub_mchid=sub_mchid)
        except GatewayError as error:
            if error.code != "ORDER_NOT_EXIST":
                raise

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        sub_mchid: str,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Ask for a refund; idempotent per ``out_refund_no``. The answer's ``status`` is SUCCESS or PROCESSING."""
        return self._call(
            "refund",
            self.client().refund,
            out_refund_no=out_refund_no,
            amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            out_trade_no=out_trade_no,
            reason=(reason or "")[:80] or None,
            notify_url=self.settings.notify_url,
            sub_mchid=sub_mchid,
        )

    def _found_or_none(self, name: str, call: Any, **params: Any) -> dict[str, Any] | None:
        """A query's answer, or None when WeChat Pay never received what it names."""
        try:
            return self._call(name, call, **params)
        except GatewayError as error:
            if error.code in ("RESOURCE_NOT_EXISTS", "ORDER_NOT_EXIST"):
                return None
            raise

    def query_refund(self, *, out_refund_no: str, sub_mchid: str) -> dict[str, Any] | None:
        return self._found_or_none(
            "query_refund", self.client().query_refund, out_refund_no=out_refund_no, sub_mchid=sub_mchid
        )

    def profit_share(
        self, *, transaction_id: str, out_order_no: str, sub_mchid: str, amount_fen: int, description: str
    ) -> dict[str, Any]:
        """Request profit sharing of ``amount_fen`` to the service provider and unfreeze the rest for the payee.

        Idempotent per ``out_order_no``: WeChat Pay answers a repeat with the first order.
        """
        receivers = [
            {
                "type": "MERCHANT_ID",
                "account": self.settings.sp_mchid,
                "amount": amount_fen,
                "description": description[:80],
            }
        ]
        return self._call(
            "profit_share",
            self.client().profitsharing_order,
            transaction_id=transaction_id,
            out_order_no=out_order_no,
            receivers=receivers,
            unfreeze_unsplit=True,
            sub_mchid=sub_mchid,
        )

    def query_profit_share(self, *, transaction_id: str, out_order_no: str, sub_mchid: str) -> dict[str, Any] | None:
        """``GET /v3/profitsharing/orders/{out_order_no}`` (partner mode): the share or unfreeze as WeChat Pay recorded
        it (``state`` PROCESSING or FINISHED, ``receivers`` with each ``amount`` and ``result``); None when it never
        arrived there."""
        return self._found_or_none(
            "query_profit_share",
            self.client().profitsharing_order_query,
            transaction_id=transaction_id,
            out_order_no=out_order_no,
            sub_mchid=sub_mchid,
        )

    def unfreeze(self, *, transaction_id: str, out_order_no: str, sub_mchid: str, description: str) -> dict:
        """Release an order's frozen money to the payee without sharing (commission of 0 fen, full refunds)."""
        return self._call(
            "unfreeze",
            self.client().profitsharing_unfreeze,
            transaction_id=transaction_id,
            out_order_no=out_order_no,
            description=description[:80],
            sub_mchid=sub_mchid,
        )

    def profit_share_return(
        self, *, out_order_no: str, out_return_no: str, sub_mchid: str, amount_fen: int, description: str
    ) -> dict[str, Any]:
        """Take ``amount_fen`` of the shared commission back from the service provider to the payee (分账回退), so
        the refund can come from the payee's balance. ``result`` is SUCCESS, PROCESSING or FAILED; idempotent per
        ``out_return_no``."""
        return self._call(
            "profit_share_return",
            self.client().profitsharing_return,
            out_return_no=out_return_no,
            return_mchid=self.settings.sp_mchid,
            amount=amount_fen,
            description=description[:80],
            out_order_no=out_order_no,
            sub_mchid=sub_mchid,
        )

    def query_profit_share_return(self, *, out_order_no: str, out_return_no: str, sub_mchid: str) -> dict | None:
        """The return as WeChat Pay recorded it; None when it never arrived there."""
        return self._found_or_none(
            "query_profit_share_return",
            self.client().profitsharing_return_query,
            out_order_no=out_order_no,
            out_return_no=out_return_no,
            sub_mchid=sub_mchid,
        )

    # --- statements --------------------------------------------------------------------------------------

    def trade_bill(self, bill_date: date, *, sub_mchid: str | None = None) -> bytes:
        """Download the day's trade statement (bill_type ALL) as the raw CSV bytes, checked against its SHA1.

        Without ``sub_mchid`` the service provider's statement covers every sub-merchant.
        """
        answer = self._call(
            "trade_bill",
            self.client().trade_bill,
            bill_date=bill_date.isoformat(),
            bill_type="ALL",
            tar_type="GZIP",
            sub_mchid=sub_mchid,
        )
        url = answer.get("download_url")
        if not url:
            raise GatewayError("no_download_url", "trade_bill answered without download_url", raw=answer)
        data = self._call("download_bill", self.client().download_bill, url)
        if isinstance(data, dict):  # a JSON body here is an error the library passed through
            raise GatewayError("bad_bill", "bill download answered JSON", retryable=True, raw=data)
        content = gzip.decompress(data)
        # WeChat hashes the statement itself (the decompressed file), with SHA1: its choice, not ours.
        expected = answer.get("hash_value") if answer.get("hash_type", "SHA1") == "SHA1" else None
        if expected and hashlib.sha1(content).hexdigest() != expected.lower():  # noqa: S324
            raise GatewayError("bill_hash_mismatch", "statement SHA1 differs", retryable=True)
        return content

    # --- notifications -----------------------------------------------------------------------------------

    def known_serials(self) -> set[str]:
        return set(self._platform_keys)

    def _platform_key_for(self, serial: str):
        """The key a notification's serial names. Certificate mode: an unknown serial downloads the certificates
        again (WeChat Pay rotated them), at most once per ``CERTIFICATE_REFRESH_SECONDS``."""
        if not self.certificate_mode:
            return self._platform_keys.get(serial)
        serial = serial.upper()
        try:
            self._ensure_certificates()
            if serial not in self._platform_keys and (
                time.monotonic() - self._refreshed_at > CERTIFICATE_REFRESH_SECONDS
            ):
                with self._lock:
                    self.download_certificates()
        except GatewayError as error:
            raise NotificationRejected("certificates_unavailable", str(error)[:200]) from error
        return self._platform_keys.get(serial)

    def verify_notification(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> dict:
        """Check a notification and return it with ``resource`` decrypted.

        Order of checks: the timestamp is within five minutes (wechatpayv3 has no replay check); the serial names
        our platform key or a certificate we hold (an unknown one would make wechatpayv3 fetch certificates for
        unauthenticated input; we do so ourselves only in certificate mode, throttled); the signature; then
        AES-256-GCM decryption with the APIv3 key.

        :raises NotificationRejected: with reason ``missing_headers``, ``unknown_serial``, ``stale_timestamp``,
            ``bad_signature``, ``malformed`` or ``decrypt_failed``.
        """
        names = ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial")
        given = {name: headers.get(name) or "" for name in names}
        given["Wechatpay-Signature-Type"] = headers.get("Wechatpay-Signature-Type") or SIGNATURE_TYPE
        missing = [name for name in names if not given[name]]
        if missing:
            raise NotificationRejected("missing_headers", ", ".join(missing), retry=False)
        if given["Wechatpay-Signature-Type"] != SIGNATURE_TYPE:
            raise NotificationRejected("bad_signature", "unsupported signature type", retry=False)
        try:
            stamp = int(given["Wechatpay-Timestamp"])
        except ValueError:
            raise NotificationRejected("stale_timestamp", "not a number", retry=False) from None
        if abs((now if now is not None else time.time()) - stamp) > NOTIFICATION_MAX_SKEW:
            raise NotificationRejected("stale_timestamp", str(stamp), retry=False)
        # After the cheap checks: in certificate mode an unknown serial may download certificates (throttled).
        platform_key = self._platform_key_for(given["Wechatpay-Serial"])
        if platform_key is None:
            raise NotificationRejected("unknown_serial", given["Wechatpay-Serial"][:64], retry=False)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NotificationRejected("malformed", "body is not UTF-8", retry=False) from None
        from wechatpayv3.utils import rsa_verify

        if not rsa_verify(
            given["Wechatpay-Timestamp"],
            given["Wechatpay-Nonce"],
            text,
            given["Wechatpay-Signature"],
            platform_key,
        ):
            raise NotificationRejected("bad_signature", retry=False)
        try:
            # wechatpayv3 verifies the signature again (its own code) and decrypts the resource.
            result = self.client().callback(given, text)
        except Exception as error:  # wechatpayv3 raises bare Exception for unsupported algorithms
            raise NotificationRejected("malformed", str(error)[:200], retry=False) from error
        if not result or not isinstance(result.get("resource"), dict):
            raise NotificationRejected("decrypt_failed", retry=False)
        return result
