"""A fake WeChat Pay API v3 gateway over real HTTP on 127.0.0.1, in partner (service-provider) mode only.

It checks every request's ``Authorization: WECHATPAY2-SHA256-RSA2048 …`` signature with the merchant's public
key, as the real gateway does, and signs every answer with the "platform" key (``Wechatpay-Signature`` /
``-Serial`` / ``-Timestamp`` / ``-Nonce``), so wechatpayv3's own verification runs. It answers only the partner
paths and requires the payee's ``sub_mchid``. Tests drive payments (``pay``), refunds (``finish_refund``) and
produce signed, AES-256-GCM-encrypted notifications (``transaction_notification``, ``refund_notification``).
Keys are generated in the tests (``WeChatPayKeys.generate``).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from tests.fakes import serve_in_thread, stop_server

SHANGHAI = ZoneInfo("Asia/Shanghai")
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"

BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)
BILL_SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def fen_to_yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class WeChatPayKeys:
    """The merchant's API key pair (we sign requests) and the platform key pair (WeChat signs answers)."""

    merchant: rsa.RSAPrivateKey
    platform: rsa.RSAPrivateKey
    sp_mchid: str = "1900000100"
    cert_serial: str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    public_key_id: str = "PUB_KEY_ID_0119000001002024112300000000000001"
    apiv3_key: str = "0123456789abcdefghijklmnopqrstuv"
    mini_appid: str = "wx_fake_mini_appid"
    open_appid: str = "wx_fake_open_appid"

    @classmethod
    def generate(cls) -> WeChatPayKeys:
        return cls(merchant=new_rsa_key(), platform=new_rsa_key())

    @property
    def platform_certificate(self) -> x509.Certificate:
        """A platform certificate (平台证书) for the platform key, valid now, as the certificate mode downloads it."""
        cached = self.__dict__.get("_certificate")
        if cached is None:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (fake)")])
            now = datetime.now(UTC)
            cached = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(self.platform.public_key())
                .serial_number(int(self.platform_serial, 16))
                .not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=365))
                .sign(self.platform, hashes.SHA256())
            )
            self.__dict__["_certificate"] = cached
        return cached

    platform_serial: str = "6A2F3B7C9D1E0F1122334455667788990AABBCCD"

    @property
    def cert_serial_hex(self) -> str:
        """The platform certificate's serial as WeChat Pay writes it in ``Wechatpay-Serial``."""
        return self.platform_serial

    def write_certificate_mode(self, directory: Path) -> dict[str, str]:
        """The settings of the platform-certificate mode: the public-key settings left out."""
        settings = self.write(directory)
        settings["WECHATPAY_PUBLIC_KEY_PATH"] = ""
        settings["WECHATPAY_PUBLIC_KEY_ID"] = ""
        settings["WECHATPAY_CERT_DIR"] = str(directory / "platform_certs")
        return settings

    def write(self, directory: Path) -> dict[str, str]:
        """Write the key files our settings name; return those settings (without the gateway address)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "apiclient_key.pem").write_text(private_pem(self.merchant))
        # As the merchant console hands it out: bare base64, no PEM markers.
        body = "".join(public_pem(self.platform).strip().splitlines()[1:-1])
        (directory / "wechatpay_pub_key.pem").write_text(body)
        return {
            "WECHATPAY_SP_MCHID": self.sp_mchid,
            "WECHATPAY_PRIVATE_KEY_PATH": str(directory / "apiclient_key.pem"),
            "WECHATPAY_CERT_SERIAL": self.cert_serial,
            "WECHATPAY_APIV3_KEY": self.apiv3_key,
            "WECHATPAY_PUBLIC_KEY_PATH": str(directory / "wechatpay_pub_key.pem"),
            "WECHATPAY_PUBLIC_KEY_ID": self.public_key_id,
            "WECHAT_MINI_APPID": self.mini_appid,
            "WECHAT_OPEN_APPID": self.open_appid,
        }


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    status: int


@dataclass
class FakeWeChatPay:
    keys: WeChatPayKeys
    sub_mchids: set[str] = field(default_factory=set)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    profit_sharing: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    #: bill date (YYYY-MM-DD) -> statement CSV text; tests may replace it.
    bills: dict[str, str] = field(default_factory=dict)
    bill_tokens: dict[str, str] = field(default_factory=dict)
    #: Refunds finish at once (SUCCESS) unless set to PROCESSING.
    refund_status: str = "SUCCESS"
    #: Profit-sharing returns (分账回退) by out_return_no; they finish at once unless set to PROCESSING or FAILED.
    returns: dict[str, dict[str, Any]] = field(default_factory=dict)
    return_result: str = "SUCCESS"
    #: The next ``fail_next`` authenticated calls answer ``fail_status`` (5xx) without doing anything.
    fail_next: int = 0
    fail_status: int = 500
    #: The next ``slow_next`` calls are carried out, then answered after ``slow_seconds`` (longer than our timeout:
    #: the effect happened, the answer is lost).
    slow_next: int = 0
    slow_seconds: float = 1.5
    #: Platform-certificate mode: answers and notifications are signed by the platform certificate's key and name
    #: its serial; ``GET /v3/certificates`` serves it encrypted with the APIv3 key.
    certificate_mode: bool = False
    server: ThreadingHTTPServer | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- what tests call ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def calls(self, path_prefix: str, method: str | None = None) -> list[SeenRequest]:
        with self.lock:
            return [
                seen
                for seen in self.requests
                if seen.path.startswith(path_prefix) and (method is None or seen.method == method)
            ]

    def pay(self, out_trade_no: str, *, openid: str = "o_payer", at: datetime | None = None) -> dict[str, Any]:
        """The payer pays: the order becomes SUCCESS with a transaction id. Returns the transaction."""
        with self.lock:
            order = self.orders[out_trade_no]
            if order["trade_state"] != "NOTPAY":
                raise AssertionError(f"order {out_trade_no} is {order['trade_state']}")
            order.update(
                trade_state="SUCCESS",
                trade_state_desc="支付成功",
                transaction_id="42000" + secrets.token_hex(12)[:23],
                success_time=(at or datetime.now(SHANGHAI)).astimezone(SHANGHAI).isoformat(timespec="seconds"),
                bank_type="OTHERS",
            )
            order.setdefault("payer", {})
            if not order["payer"]:
                order["payer"] = {"sp_openid": openid}
            order["amount"].update(payer_total=order["amount"]["total"], payer_currency="CNY")
            return self.transaction(out_trade_no)

    def transaction(self, out_trade_no: str) -> dict[str, Any]:
        """The order as WeChat Pay describes it in queries and notifications."""
        with self.lock:
            order = self.orders[out_trade_no]
            keys = (
                "sp_appid",
                "sp_mchid",
                "sub_mchid",
                "out_trade_no",
                "trade_type",
                "trade_state",
                "trade_state_desc",
                "transaction_id",
                "bank_type",
                "success_time",
                "payer",
                "amount",
                "attach",
            )
            return json.loads(json.dumps({key: order[key] for key in keys if order.get(key) is not None}))

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS") -> dict[str, Any]:
        with self.lock:
            refund = self.refunds[out_refund_no]
            refund["status"] = status
            if status == "SUCCESS":
                refund["success_time"] = datetime.now(SHANGHAI).isoformat(timespec="seconds")
            return dict(refund)

    # --- notifications -----------------------------------------------------------------------------------

    def transaction_notification(self, out_trade_no: str, /, **overrides: Any) -> tuple[dict[str, str], bytes]:
        """A signed, encrypted TRANSACTION.SUCCESS notification for a paid order; ``overrides`` replace fields of
        the decrypted transaction (``amount={…}``, ``sp_mchid=…``) before it is encrypted and signed."""
        resource = self.transaction(out_trade_no)
        resource.update(overrides)
        return self.notification(
            resource, event_type="TRANSACTION.SUCCESS", original_type="transaction", summary="支付成功"
        )

    def refund_notification(self, out_refund_no: str, /, **overrides: Any) -> tuple[dict[str, str], bytes]:
        with self.lock:
            refund = dict(self.refunds[out_refund_no])
        resource = {
            "sp_mchid": refund["sp_mchid"],
            "sub_mchid": refund["sub_mchid"],
            "out_trade_no": refund["out_trade_no"],
            "transaction_id": refund["transaction_id"],
            "out_refund_no": refund["out_refund_no"],
            "refund_id": refund["refund_id"],
            "refund_status": refund["status"],
            "success_time": refund.get("success_time"),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund["amount"]["total"],
                "refund": refund["amount"]["refund"],
                "payer_total": refund["amount"]["total"],
                "payer_refund": refund["amount"]["refund"],
            },
        }
        resource.update(overrides)
        event = {"SUCCESS": "REFUND.SUCCESS", "ABNORMAL": "REFUND.ABNORMAL", "CLOSED": "REFUND.CLOSED"}
        return self.notification(
            resource,
            event_type=event.get(resource["refund_status"], "REFUND.SUCCESS"),
            original_type="refund",
            summary="退款成功",
        )

    def notification(
        self,
        resource: dict[str, Any],
        *,
        event_type: str,
        original_type: str,
        summary: str,
        notify_id: str | None = None,
        timestamp: int | None = None,
        signing_key: rsa.RSAPrivateKey | None = None,
        serial: str | None = None,
        apiv3_key: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """Encrypt ``resource`` with the APIv3 key and sign the envelope with the platform key, like WeChat Pay."""
        nonce = secrets.token_hex(6)  # 12 characters, used as the 12-byte GCM nonce
        plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
        aesgcm = AESGCM((apiv3_key or self.keys.apiv3_key).encode())
        ciphertext = aesgcm.encrypt(nonce.encode(), plaintext, original_type.encode())
        envelope = {
            "id": notify_id or str(uuid.uuid4()),
            "create_time": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        return self.signed_headers(body, timestamp=timestamp, signing_key=signing_key, serial=serial), body.encode()

    def signed_headers(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        signing_key: rsa.RSAPrivateKey | None = None,
        serial: str | None = None,
    ) -> dict[str, str]:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = secrets.token_hex(16)
        return {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": serial
            or (self.keys.cert_serial_hex if self.certificate_mode else self.keys.public_key_id),
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
            "Wechatpay-Signature": rsa_sign(signing_key or self.keys.platform, f"{stamp}\n{nonce}\n{body}\n"),
        }

    def deliver(self, url: str, headers: dict[str, str], body: bytes) -> requests.Response:
        """POST a notification to our server over real HTTP, as WeChat Pay does."""
        return requests.post(url, data=body, headers=headers, timeout=10)

    # --- statements --------------------------------------------------------------------------------------

    def statement(self, bill_date: str) -> str:
        """The day's statement built from the fake's own orders and refunds (success time on that day)."""
        rows: list[list[str]] = []
        with self.lock:
            for order in self.orders.values():
                if order.get("success_time", "").startswith(bill_date):
                    rows.append(self.bill_row(order))
            for refund in self.refunds.values():
                if refund.get("success_time", "").startswith(bill_date):
                    rows.append(self.bill_refund_row(self.orders[refund["out_trade_no"]], refund))
        return self.bill_text(rows)

    def bill_row(self, order: dict[str, Any]) -> list[str]:
        total = fen_to_yuan(order["amount"]["total"])
        return [
            order["success_time"].replace("T", " ")[:19],
            order["sp_appid"],
            order["sp_mchid"],
            order["sub_mchid"],
            "",
            order["transaction_id"],
            order["out_trade_no"],
            order["payer"].get("sp_openid", ""),
            order["trade_type"],
            "SUCCESS",
            "OTHERS",
            "CNY",
            total,
            "0.00",
            "0",
            "0",
            "0.00",
            "0.00",
            "",
            "",
            order["description"],
            "",
            "0.00",
            "0.60%",
            total,
            "0.00",
            "",
        ]

    def bill_refund_row(
        self, order: dict[str, Any], refund: dict[str, Any], *, amount_fen: int | None = None, status: str | None = None
    ) -> list[str]:
        amount = fen_to_yuan(refund["amount"]["refund"] if amount_fen is None else amount_fen)
        return [
            refund["success_time"].replace("T", " ")[:19],
            order["sp_appid"],
            order["sp_mchid"],
            order["sub_mchid"],
            "",
            order["transaction_id"],
            order["out_trade_no"],
            order["payer"].get("sp_openid", ""),
            order["trade_type"],
            "REFUND",
            "OTHERS",
            "CNY",
            "0.00",
            "0.00",
            refund["refund_id"],
            refund["out_refund_no"],
            amount,
            "0.00",
            "ORIGINAL",
            status or refund["status"],
            order["description"],
            "",
            "0.00",
            "0.60%",
            "0.00",
            amount,
            "",
        ]

    @staticmethod
    def bill_text(rows: list[list[str]]) -> str:
        """Rows in WeChat's format: every data field starts with a backtick; summary header and row at the end."""
        out = [BILL_HEADER]
        out.extend(",".join("`" + cell for cell in row) for row in rows)
        col = BILL_HEADER.split(",")
        settle = sum(round(float(row[col.index("应结订单金额")]) * 100) for row in rows)
        refunded = sum(round(float(row[col.index("退款金额")]) * 100) for row in rows)
        ordered = sum(round(float(row[col.index("订单金额")]) * 100) for row in rows)
        requested = sum(round(float(row[col.index("申请退款金额")]) * 100) for row in rows)
        out.append(BILL_SUMMARY_HEADER)
        summary = [
            str(len(rows)),
            fen_to_yuan(settle),
            fen_to_yuan(refunded),
            "0.00",
            "0.00",
            fen_to_yuan(ordered),
            fen_to_yuan(requested),
        ]
        out.append(",".join("`" + cell for cell in summary))
        return "\r\n".join(out) + "\r\n"

    # --- server ------------------------------------------------------------------------------------------

    def start(self) -> FakeWeChatPay:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                status, answer, content_type = fake.answer(method, self.path, raw, self.headers)
                with fake.lock:
                    slow, fake.slow_next = fake.slow_next > 0, max(fake.slow_next - 1, 0)
                if slow:
                    time.sleep(fake.slow_seconds)  # done, but the caller gave up before the answer came
                if isinstance(answer, bytes):
                    payload, headers = answer, {}
                else:
                    text = json.dumps(answer, ensure_ascii=False) if answer is not None else ""
                    payload = text.encode()
                    headers = fake.signed_headers(text) if 200 <= status < 300 else {}
                    headers.pop("Content-Type", None)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

        self.server = serve_in_thread(Handler, "fake-wechatpay")
        return self

    def stop(self) -> None:
        stop_server(self.server)

    # --- the gateway's behaviour -------------------------------------------------------------------------

    JSON = "application/json; charset=utf-8"

    def answer(self, method: str, target: str, raw: str, headers) -> tuple[int, Any, str]:
        url = urlparse(target)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self.lock:
            status, answer, content_type = self._route(method, url.path, target, query, body, raw, headers)
            self.requests.append(SeenRequest(method, url.path, query, body, status))
            return status, answer, content_type

    def _route(self, method, path, target, query, body, raw, headers) -> tuple[int, Any, str]:
        if path == "/v3/billdownload/file":
            # Downloads are authenticated like any call, but their answers are not signed.
            refused = self._check_authorization(method, target, raw, headers)
            if refused:
                return refused
            text = self.bill_tokens.get(query.get("token", ""))
            if text is None:
                return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "账单不存在"}, self.JSON
            return 200, gzip.compress(text.encode()), "application/octet-stream"
        refused = self._check_authorization(method, target, raw, headers)
        if refused:
            return refused
        if self.fail_next:
            self.fail_next -= 1
            return self.fail_status, {"code": "SYSTEM_ERROR", "message": "系统错误"}, self.JSON
        if method == "GET" and path == "/v3/certificates":
            return 200, self._certificates(), self.JSON
        routes = [
            ("POST", r"/v3/pay/partner/transactions/(jsapi|app)", self._prepay),
            ("GET", r"/v3/pay/partner/transactions/out-trade-no/([^/]+)", self._query),
            ("POST", r"/v3/pay/partner/transactions/out-trade-no/([^/]+)/close", self._close),
            ("POST", r"/v3/refund/domestic/refunds", self._refund),
            ("GET", r"/v3/refund/domestic/refunds/([^/]+)", self._query_refund),
            ("POST", r"/v3/profitsharing/orders", self._profit_share),
            ("POST", r"/v3/profitsharing/orders/unfreeze", self._unfreeze),
            ("GET", r"/v3/profitsharing/orders/([^/]+)", self._query_profit_share),
            ("POST", r"/v3/profitsharing/return-orders", self._return),
            ("GET", r"/v3/profitsharing/return-orders/([^/]+)", self._query_return),
            ("GET", r"/v3/bill/tradebill", self._trade_bill),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                status, answer = handler(*match.groups(), query=query, body=body or {})
                return status, answer, self.JSON
        # Direct-merchant paths (/v3/pay/transactions/…) and anything else: not for a service provider.
        return 404, {"code": "NOT_FOUND", "message": "请求的资源不存在"}, self.JSON

    def _check_authorization(self, method: str, target: str, raw: str, headers) -> tuple[int, Any, str] | None:
        value = headers.get("Authorization") or ""
        scheme, _, params = value.partition(" ")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        problem = None
        if scheme != SIGNATURE_TYPE:
            problem = "Authorization 不合法"
        elif fields.get("mchid") != self.keys.sp_mchid:
            problem = "商户号不存在"
        elif fields.get("serial_no") != self.keys.cert_serial:
            problem = "商户证书序列号有误"
        elif not fields.get("timestamp", "").isdigit() or abs(time.time() - int(fields["timestamp"])) > 300:
            problem = "请求时间戳已过期"
        else:
            message = f"{method}\n{target}\n{fields['timestamp']}\n{fields.get('nonce_str', '')}\n{raw}\n"
            if not rsa_verify(self.keys.merchant.public_key(), message, fields.get("signature", "")):
                problem = "签名错误"
        if problem:
            return 401, {"code": "SIGN_ERROR", "message": problem}, self.JSON
        return None

    def _sub_mchid_error(self, sub_mchid: str | None) -> tuple[int, dict] | None:
        if not sub_mchid:
            return 400, {"code": "PARAM_ERROR", "message": "sub_mchid 不能为空"}
        if sub_mchid not in self.sub_mchids:
            return 400, {"code": "INVALID_REQUEST", "message": "受理关系不存在"}
        return None

    def _prepay(self, trade_type: str, *, query, body) -> tuple[int, dict]:
        if body.get("sp_mchid") != self.keys.sp_mchid:
            return 400, {"code": "MCH_NOT_EXISTS", "message": "商户号不存在"}
        refused = self._sub_mchid_error(body.get("sub_mchid"))
        if refused:
            return refused
        appid = self.keys.mini_appid if trade_type == "jsapi" else self.keys.open_appid
        if body.get("sp_appid") != appid:
            return 400, {"code": "APPID_MCHID_NOT_MATCH", "message": "appid和mch_id不匹配"}
        amount = body.get("amount") or {}
        if not isinstance(amount.get("total"), int) or amount["total"] <= 0 or amount.get("currency", "CNY") != "CNY":
            return 400, {"code": "PARAM_ERROR", "message": "金额有误"}
        payer = body.get("payer") or {}
        if trade_type == "jsapi" and not (payer.get("sp_openid") or payer.get("sub_openid")):
            return 400, {"code": "PARAM_ERROR", "message": "payer 不能为空"}
        for name in ("notify_url", "description", "out_trade_no"):
            if not body.get(name):
                return 400, {"code": "PARAM_ERROR", "message": f"{name} 不能为空"}
        out_trade_no = body["out_trade_no"]
        existing = self.orders.get(out_trade_no)
        if existing is not None:
            if existing["trade_state"] == "SUCCESS":
                return 400, {"code": "ORDERPAID", "message": "该订单已支付"}
            if existing["trade_state"] == "CLOSED":
                return 400, {"code": "ORDERCLOSED", "message": "订单已关闭"}
            if existing["request"] != body:
                return 400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"}
            return 200, {"prepay_id": existing["prepay_id"]}
        self.orders[out_trade_no] = {
            "request": body,
            "sp_appid": body["sp_appid"],
            "sp_mchid": body["sp_mchid"],
            "sub_mchid": body["sub_mchid"],
            "out_trade_no": out_trade_no,
            "description": body["description"],
            "trade_type": "JSAPI" if trade_type == "jsapi" else "APP",
            "trade_state": "NOTPAY",
            "trade_state_desc": "订单未支付",
            "amount": {"total": amount["total"], "currency": "CNY"},
            "payer": dict(payer),
            "notify_url": body["notify_url"],
            "time_expire": body.get("time_expire"),
            "profit_sharing": bool((body.get("settle_info") or {}).get("profit_sharing")),
            "prepay_id": "wx" + datetime.now(SHANGHAI).strftime("%d%H%M%S") + secrets.token_hex(12),
        }
        return 200, {"prepay_id": self.orders[out_trade_no]["prepay_id"]}

    def _order_for(self, out_trade_no: str, sp_mchid: str | None, sub_mchid: str | None):
        if sp_mchid != self.keys.sp_mchid:
            return None, (400, {"code": "MCH_NOT_EXISTS", "message": "商户号不存在"})
        refused = self._sub_mchid_error(sub_mchid)
        if refused:
            return None, refused
        order = self.orders.get(out_trade_no)
        if order is None or order["sub_mchid"] != sub_mchid:
            return None, (404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        return order, None

    def _query(self, out_trade_no: str, *, query, body) -> tuple[int, dict]:
        _order, refused = self._order_for(out_trade_no, query.get("sp_mchid"), query.get("sub_mchid"))
        if refused:
            return refused
        return 200, self.transaction(out_trade_no)

    def _close(self, out_trade_no: str, *, query, body) -> tuple[int, Any]:
        order, refused = self._order_for(out_trade_no, body.get("sp_mchid"), body.get("sub_mchid"))
        if refused:
            return refused
        if order["trade_state"] == "SUCCESS":
            return 400, {"code": "ORDERPAID", "message": "订单已支付"}
        order.update(trade_state="CLOSED", trade_state_desc="订单已关闭")
        return 204, None

    def _refund(self, *, query, body) -> tuple[int, dict]:
        refused = self._sub_mchid_error(body.get("sub_mchid"))
        if refused:
            return refused
        order = self.orders.get(body.get("out_trade_no") or "")
        if order is None or order["sub_mchid"] != body["sub_mchid"]:
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
        if order["trade_state"] not in ("SUCCESS", "REFUND"):
            return 403, {"code": "NOT_ENOUGH", "message": "订单未支付"}
        amount = body.get("amount") or {}
        existing = self.refunds.get(body.get("out_refund_no") or "")
        if existing is not None:
            return 200, self._refund_view(existing)
        already = sum(
            r["amount"]["refund"] for r in self.refunds.values() if r["out_trade_no"] == order["out_trade_no"]
        )
        if amount.get("total") != order["amount"]["total"] or not 0 < amount.get("refund", 0) <= (
            order["amount"]["total"] - already
        ):
            return 400, {"code": "INVALID_REQUEST", "message": "退款金额有误"}
        refund = {
            "sp_mchid": self.keys.sp_mchid,
            "sub_mchid": body["sub_mchid"],
            "out_trade_no": order["out_trade_no"],
            "transaction_id": order["transaction_id"],
            "out_refund_no": body["out_refund_no"],
            "refund_id": "50300" + secrets.token_hex(12)[:24],
            "status": self.refund_status,
            "amount": {"refund": amount["refund"], "total": amount["total"], "currency": "CNY"},
            "notify_url": body.get("notify_url"),
            "create_time": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
        }
        if self.refund_status == "SUCCESS":
            refund["success_time"] = refund["create_time"]
        self.refunds[body["out_refund_no"]] = refund
        order["trade_state"] = "REFUND"
        return 200, self._refund_view(refund)

    @staticmethod
    def _refund_view(refund: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "refund_id",
            "out_refund_no",
            "transaction_id",
            "out_trade_no",
            "status",
            "success_time",
            "create_time",
            "amount",
        )
        view = {key: refund[key] for key in keys if refund.get(key) is not None}
        view["channel"] = "ORIGINAL"
        view["user_received_account"] = "支付用户零钱"
        return view

    def _query_refund(self, out_refund_no: str, *, query, body) -> tuple[int, dict]:
        refused = self._sub_mchid_error(query.get("sub_mchid"))
        if refused:
            return refused
        refund = self.refunds.get(out_refund_no)
        if refund is None or refund["sub_mchid"] != query["sub_mchid"]:
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}
        return 200, self._refund_view(refund)

    def _profit_share(self, *, query, body) -> tuple[int, dict]:
        refused = self._sub_mchid_error(body.get("sub_mchid"))
        if refused:
            return refused
        order = next((o for o in self.orders.values() if o.get("transaction_id") == body.get("transaction_id")), None)
        if order is None or order["sub_mchid"] != body["sub_mchid"]:
            return 400, {"code": "INVALID_REQUEST", "message": "订单不存在"}
        if not order["profit_sharing"]:
            return 400, {"code": "INVALID_REQUEST", "message": "该笔订单不支持分账"}
        existing = self.profit_sharing.get(body.get("out_order_no") or "")
        if existing is not None:
            return 200, existing
        already = [p for p in self.profit_sharing.values() if p["transaction_id"] == body["transaction_id"]]
        if any(p["unfreeze_unsplit"] for p in already):
            return 400, {"code": "INVALID_REQUEST", "message": "订单已解冻或已完成分账"}
        receivers = body.get("receivers") or []
        total = sum(r.get("amount", 0) for r in receivers)
        if not receivers or total <= 0 or total > order["amount"]["total"] * 0.3:
            return 400, {"code": "PARAM_ERROR", "message": "分账金额超出最大分账比例"}
        record = {
            "sub_mchid": body["sub_mchid"],
            "transaction_id": body["transaction_id"],
            "out_order_no": body["out_order_no"],
            "order_id": "30000" + secrets.token_hex(12)[:24],
            "state": "FINISHED",
            "unfreeze_unsplit": bool(body.get("unfreeze_unsplit")),
            "receivers": [
                {
                    **receiver,
                    "result": "SUCCESS",
                    "detail_id": "36" + secrets.token_hex(10),
                    "create_time": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
                }
                for receiver in receivers
            ],
        }
        self.profit_sharing[body["out_order_no"]] = record
        return 200, record

    def _query_profit_share(self, out_order_no: str, *, query, body) -> tuple[int, dict]:
        refused = self._sub_mchid_error(query.get("sub_mchid"))
        if refused:
            return refused
        if not query.get("transaction_id"):
            return 400, {"code": "PARAM_ERROR", "message": "transaction_id 不能为空"}
        record = self.profit_sharing.get(out_order_no)
        if (
            record is None
            or record["sub_mchid"] != query["sub_mchid"]
            or record["transaction_id"] != query["transaction_id"]
        ):
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "记录不存在"}
        return 200, record

    def _unfreeze(self, *, query, body) -> tuple[int, dict]:
        refused = self._sub_mchid_error(body.get("sub_mchid"))
        if refused:
            return refused
        record = {
            "sub_mchid": body["sub_mchid"],
            "transaction_id": body.get("transaction_id"),
            "out_order_no": body.get("out_order_no"),
            "order_id": "30000" + secrets.token_hex(12)[:24],
            "state": "FINISHED",
            "unfreeze_unsplit": True,
            "receivers": [],
        }
        self.profit_sharing.setdefault(body.get("out_order_no") or "", record)
        return 200, self.profit_sharing[body.get("out_order_no") or ""]

    def _certificates(self) -> dict[str, Any]:
        cert = self.keys.platform_certificate
        pem_text = cert.public_bytes(serialization.Encoding.PEM).decode()
        nonce = secrets.token_hex(6)
        ciphertext = AESGCM(self.keys.apiv3_key.encode()).encrypt(nonce.encode(), pem_text.encode(), b"certificate")
        return {
            "data": [
                {
                    "serial_no": self.keys.cert_serial_hex,
                    "effective_time": cert.not_valid_before_utc.astimezone(SHANGHAI).isoformat(timespec="seconds"),
                    "expire_time": cert.not_valid_after_utc.astimezone(SHANGHAI).isoformat(timespec="seconds"),
                    "encrypt_certificate": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": nonce,
                        "associated_data": "certificate",
                        "ciphertext": base64.b64encode(ciphertext).decode(),
                    },
                }
            ]
        }

    def _return(self, *, query, body) -> tuple[int, dict]:
        refused = self._sub_mchid_error(body.get("sub_mchid"))
        if refused:
            return refused
        share = self.profit_sharing.get(body.get("out_order_no") or "")
        if share is None or share["sub_mchid"] != body["sub_mchid"]:
            return 400, {"code": "INVALID_REQUEST", "message": "分账单不存在"}
        existing = self.returns.get(body.get("out_return_no") or "")
        if existing is not None:
            return 200, existing
        receiver = next((r for r in share["receivers"] if r["account"] == body.get("return_mchid")), None)
        if receiver is None:
            return 400, {"code": "INVALID_REQUEST", "message": "回退方不是分账接收方"}
        returned = sum(
            r["amount"]
            for r in self.returns.values()
            if r["out_order_no"] == share["out_order_no"] and r["result"] != "FAILED"
        )
        amount = body.get("amount")
        if not isinstance(amount, int) or amount <= 0 or amount + returned > receiver["amount"]:
            return 400, {"code": "INVALID_REQUEST", "message": "回退金额超过分账金额"}
        record = {
            "sub_mchid": body["sub_mchid"],
            "order_id": share["order_id"],
            "out_order_no": share["out_order_no"],
            "out_return_no": body["out_return_no"],
            "return_id": "30000" + secrets.token_hex(12)[:24],
            "return_mchid": body["return_mchid"],
            "amount": amount,
            "description": body.get("description"),
            "result": self.return_result,
            "create_time": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
        }
        if self.return_result == "FAILED":
            record["fail_reason"] = "ACCOUNT_ABNORMAL"
        self.returns[body["out_return_no"]] = record
        return 200, record

    def _query_return(self, out_return_no: str, *, query, body) -> tuple[int, dict]:
        refused = self._sub_mchid_error(query.get("sub_mchid"))
        if refused:
            return refused
        record = self.returns.get(out_return_no)
        if record is None or record["out_order_no"] != query.get("out_order_no"):
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "回退单不存在"}
        return 200, record

    def _trade_bill(self, *, query, body) -> tuple[int, dict]:
        bill_date = query.get("bill_date", "")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", bill_date):
            return 400, {"code": "PARAM_ERROR", "message": "bill_date 格式有误"}
        if datetime.fromisoformat(bill_date).date() >= datetime.now(SHANGHAI).date():
            return 400, {"code": "NO_STATEMENT_EXIST", "message": "账单尚未生成"}
        text = self.bills.get(bill_date)
        if text is None:
            text = self.statement(bill_date)
        token = secrets.token_urlsafe(12)
        self.bill_tokens[token] = text
        return 200, {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(text.encode()).hexdigest(),
            "download_url": f"{self.base_url}/v3/billdownload/file?token={token}",
        }


def yesterday_shanghai() -> str:
    return (datetime.now(UTC).astimezone(SHANGHAI) - timedelta(days=1)).date().isoformat()
