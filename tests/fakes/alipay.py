"""A fake Alipay open-platform gateway (``/gateway.do``) over real HTTP on 127.0.0.1, for an ISV app.

It verifies each request's RSA2 signature with the app's public key (over every parameter but ``sign``, sorted,
``k=v`` joined by ``&``), requires a known ``app_auth_token`` for merchant calls, and signs its answers with the
"Alipay" key over the exact text of the ``…_response`` object, as the real gateway does, so python-alipay-sdk's
own verification runs. It keeps trades opened from APP order strings (``accept_order_string``), lets tests pay
them and produces signed asynchronous notifications (form fields, ``total_amount`` as a yuan string), and
serves statements as a zip of GBK CSV files.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse
from zoneinfo import ZoneInfo

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import serve_in_thread, stop_server
from tests.fakes.wechatpay import fen_to_yuan, new_rsa_key, private_pem, public_pem, rsa_sign, rsa_verify

SHANGHAI = ZoneInfo("Asia/Shanghai")

DETAIL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
    "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
    "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def sign_content(params: dict[str, str], exclude: tuple[str, ...]) -> str:
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in exclude and params[key] != "")


def now_text() -> str:
    return datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


class _GbkNamedZipInfo(zipfile.ZipInfo):
    """Alipay writes file names in GBK without the UTF-8 flag; zipfile only writes UTF-8 names, so this does."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


@dataclass
class AlipayKeys:
    app: rsa.RSAPrivateKey
    alipay: rsa.RSAPrivateKey
    app_id: str = "2021000000000001"

    @classmethod
    def generate(cls) -> AlipayKeys:
        return cls(app=new_rsa_key(), alipay=new_rsa_key())

    def write(self, directory: Path) -> dict[str, str]:
        """Key files as the Alipay console and key tool hand them out: bare base64, no PEM markers."""
        directory.mkdir(parents=True, exist_ok=True)

        def bare(text: str) -> str:
            return "".join(text.strip().splitlines()[1:-1])

        (directory / "alipay_app_private_key.txt").write_text(bare(private_pem(self.app)))
        (directory / "alipay_public_key.txt").write_text(bare(public_pem(self.alipay)))
        return {
            "ALIPAY_APP_ID": self.app_id,
            "ALIPAY_PRIVATE_KEY_PATH": str(directory / "alipay_app_private_key.txt"),
            "ALIPAY_PUBLIC_KEY_PATH": str(directory / "alipay_public_key.txt"),
        }


@dataclass
class Merchant:
    app_auth_token: str
    seller_id: str
    auth_app_id: str


@dataclass
class SeenCall:
    method: str
    biz_content: dict[str, Any]
    app_auth_token: str | None
    code: str


@dataclass
class FakeAlipay:
    keys: AlipayKeys
    merchants: dict[str, Merchant] = field(default_factory=dict)
    trades: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[SeenCall] = field(default_factory=list)
    #: (seller_id, bill date) -> zip bytes; built from the trades when absent.
    bills: dict[tuple[str, str], bytes] = field(default_factory=dict)
    #: Royalty receivers bound per seller (alipay.trade.royalty.relation.bind): seller id -> accounts.
    royalty_receivers: dict[str, set[str]] = field(default_factory=dict)
    #: Settlements (alipay.trade.order.settle) by out_request_no.
    settlements: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The next ``fail_next`` gateway calls answer HTTP ``fail_status`` with an HTML page, doing nothing.
    fail_next: int = 0
    fail_status: int = 502
    #: The next ``slow_next`` gateway calls are carried out, then answered after ``slow_seconds`` (lost answers).
    slow_next: int = 0
    slow_seconds: float = 1.5
    #: Only calls of this method fail or are slow (None: any call).
    fault_method: str | None = None
    server: ThreadingHTTPServer | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def gateway_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/gateway.do"

    def add_merchant(self, app_auth_token: str | None = None, seller_id: str | None = None) -> Merchant:
        merchant = Merchant(
            app_auth_token or f"202611BB{secrets.token_hex(16)}",
            seller_id or f"2088{secrets.randbelow(10**12):012d}",
            f"2021{secrets.randbelow(10**12):012d}",
        )
        self.merchants[merchant.app_auth_token] = merchant
        return merchant

    def seen(self, method: str) -> list[SeenCall]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    # --- the payer's side ------------------------------------------------------------------------------------

    def accept_order_string(self, order_string: str) -> dict[str, Any]:
        """What the Alipay app does with the string our server signed: check it and open the trade."""
        params = dict(parse_qsl(order_string, keep_blank_values=True))
        signature = params.pop("sign")
        if not rsa_verify(self.keys.app.public_key(), sign_content(params, ()), signature):
            raise AssertionError("order string signature does not verify")
        if params["app_id"] != self.keys.app_id or params["method"] != "alipay.trade.app.pay":
            raise AssertionError("order string for another app or method")
        merchant = self.merchants.get(params.get("app_auth_token", ""))
        if merchant is None:
            raise AssertionError("order string without a known app_auth_token")
        biz = json.loads(params["biz_content"])
        with self.lock:
            trade = self.trades.setdefault(
                biz["out_trade_no"],
                {
                    "out_trade_no": biz["out_trade_no"],
                    "trade_no": datetime.now(SHANGHAI).strftime("%Y%m%d")
                    + "2200"
                    + f"{secrets.randbelow(10**14):014d}",
                    "total_amount": biz["total_amount"],
                    "subject": biz["subject"],
                    "timeout_express": biz.get("timeout_express"),
                    "trade_status": "WAIT_BUYER_PAY",
                    "seller_id": merchant.seller_id,
                    "app_auth_token": merchant.app_auth_token,
                    "notify_url": params.get("notify_url"),
                    "gmt_create": now_text(),
                    "royalty_freeze": (biz.get("extend_params") or {}).get("royalty_freeze") == "true",
                    "frozen": (biz.get("extend_params") or {}).get("royalty_freeze") == "true",
                },
            )
        return trade

    def pay(self, out_trade_no: str, *, buyer_id: str = "2088102177846880") -> dict[str, Any]:
        with self.lock:
            trade = self.trades[out_trade_no]
            if trade["trade_status"] != "WAIT_BUYER_PAY":
                raise AssertionError(f"trade {out_trade_no} is {trade['trade_status']}")
            trade.update(trade_status="TRADE_SUCCESS", buyer_id=buyer_id, gmt_payment=now_text())
            return dict(trade)

    def notification(
        self, out_trade_no: str, /, *, signing_key: rsa.RSAPrivateKey | None = None, **overrides: str
    ) -> dict[str, str]:
        """The form fields of a signed ``trade_status_sync`` notification for the trade."""
        with self.lock:
            trade = dict(self.trades[out_trade_no])
            merchant = self.merchants[trade["app_auth_token"]]
        fields = {
            "notify_time": now_text(),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.keys.app_id,
            "auth_app_id": merchant.auth_app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": trade["trade_no"],
            "out_trade_no": out_trade_no,
            "buyer_id": trade.get("buyer_id", ""),
            "seller_id": trade["seller_id"],
            "trade_status": trade["trade_status"],
            "total_amount": trade["total_amount"],
            "receipt_amount": trade["total_amount"],
            "buyer_pay_amount": trade["total_amount"],
            "subject": trade["subject"],
            "gmt_create": trade["gmt_create"],
            "gmt_payment": trade.get("gmt_payment", ""),
        }
        fields.update(overrides)
        fields = {key: value for key, value in fields.items() if value != ""}
        fields["sign"] = rsa_sign(signing_key or self.keys.alipay, sign_content(fields, ("sign", "sign_type")))
        return fields

    def deliver(self, url: str, fields: dict[str, str]) -> requests.Response:
        return requests.post(url, data=fields, timeout=10)

    # --- statements ------------------------------------------------------------------------------------------

    def statement_zip(self, seller_id: str, bill_date: str, rows: list[list[str]] | None = None) -> bytes:
        """A statement as Alipay ships it: a zip holding ``<pid>_<date>_业务明细.csv`` and its (汇总), in GBK."""
        if rows is None:
            rows = self.statement_rows(seller_id, bill_date)
        day = bill_date.replace("-", "")
        trades = sum(1 for row in rows if row[2] == "交易")
        refunds = sum(1 for row in rows if row[2] == "退款")
        detail = [
            "#支付宝业务明细查询",
            f"#账号：[{seller_id}0156]",
            f"#起始日期：[{bill_date[:4]}年{bill_date[5:7]}月{bill_date[8:]}日 00:00:00]   "
            f"终止日期：[{bill_date[:4]}年{bill_date[5:7]}月{bill_date[8:]}日 23:59:59]",
            "#-----------------------------------------业务明细列表----------------------------------------",
            DETAIL_HEADER,
            *(",".join(cell + "\t" for cell in row) for row in rows),
            "#-----------------------------------------业务明细列表结束------------------------------------",
            f"#交易合计：{trades}笔，退款合计：{refunds}笔",
            f"#导出时间：[{datetime.now(SHANGHAI):%Y年%m月%d日 %H:%M:%S}]",
        ]
        summary = [
            "#支付宝业务汇总查询",
            f"#账号：[{seller_id}0156]",
            "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）",
            f"合计,,{trades},{refunds},,",
            f"#导出时间：[{datetime.now(SHANGHAI):%Y年%m月%d日 %H:%M:%S}]",
        ]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for suffix, lines in (("业务明细", detail), ("业务明细(汇总)", summary)):
                info = _GbkNamedZipInfo(f"{seller_id}0156_{day}_{suffix}.csv")
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, ("\r\n".join(lines) + "\r\n").encode("gbk"))
        return buffer.getvalue()

    def statement_rows(self, seller_id: str, bill_date: str) -> list[list[str]]:
        rows = []
        with self.lock:
            for trade in self.trades.values():
                if trade["seller_id"] == seller_id and trade.get("gmt_payment", "").startswith(bill_date):
                    rows.append(self.trade_row(trade))
            for refund in self.refunds.values():
                trade = self.trades[refund["out_trade_no"]]
                if trade["seller_id"] == seller_id and refund["gmt_refund_pay"].startswith(bill_date):
                    rows.append(
                        self.refund_row(
                            trade, refund["out_request_no"], refund["refund_amount"], refund["gmt_refund_pay"]
                        )
                    )
        return rows

    @staticmethod
    def trade_row(trade: dict[str, Any], *, amount: str | None = None) -> list[str]:
        amount = amount or trade["total_amount"]
        return [
            trade["trade_no"],
            trade["out_trade_no"],
            "交易",
            trade["subject"],
            trade["gmt_create"],
            trade["gmt_payment"],
            "",
            "",
            "",
            "",
            "159****0000",
            amount,
            amount,
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "",
            "0.00",
            "0.00",
            "",
            "-0.06",
            "0.00",
            "",
        ]

    @staticmethod
    def refund_row(trade: dict[str, Any], out_request_no: str, amount: str, at: str) -> list[str]:
        return [
            trade["trade_no"],
            trade["out_trade_no"],
            "退款",
            trade["subject"],
            trade["gmt_create"],
            at,
            "",
            "",
            "",
            "",
            "159****0000",
            "-" + amount,
            "-" + amount,
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "",
            "0.00",
            "0.00",
            out_request_no,
            "0.06",
            "0.00",
            "",
        ]

    # --- server ----------------------------------------------------------------------------------------------

    def start(self) -> FakeAlipay:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                if url.path.startswith("/bill/"):
                    payload = fake.bill_file(url.path.removeprefix("/bill/"))
                    status, content_type = (200, "application/zip") if payload else (404, "text/plain")
                    payload = payload or b"not found"
                else:
                    params = dict(parse_qsl(url.query, keep_blank_values=True))
                    params.update(dict(parse_qsl(raw, keep_blank_values=True)))
                    with fake.lock:
                        chosen = fake.fault_method in (None, params.get("method"))
                        failing = chosen and fake.fail_next > 0
                        slow = chosen and not failing and fake.slow_next > 0
                        fake.fail_next -= failing
                        fake.slow_next -= slow
                    if failing:
                        status, content_type = fake.fail_status, "text/html"
                        payload = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                    else:
                        payload = fake.answer(params).encode()
                        status, content_type = 200, "application/json; charset=utf-8"
                    if slow:
                        time.sleep(fake.slow_seconds)  # done, but the caller gave up before the answer came
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = serve_in_thread(Handler, "fake-alipay")
        return self

    def stop(self) -> None:
        stop_server(self.server)

    def bill_file(self, name: str) -> bytes | None:
        seller_id, _, rest = name.partition("_")
        bill_date = rest.removesuffix(".zip")
        with self.lock:
            if (seller_id, bill_date) in self.bills:
                return self.bills[(seller_id, bill_date)]
        return self.statement_zip(seller_id, bill_date)

    # --- the gateway's behaviour -----------------------------------------------------------------------------

    def answer(self, params: dict[str, str]) -> str:
        method = params.get("method", "")
        response_key = method.replace(".", "_") + "_response"
        signature = params.pop("sign", "")
        if params.get("app_id") != self.keys.app_id:
            return self._error("40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数")
        if params.get("sign_type") != "RSA2" or not rsa_verify(
            self.keys.app.public_key(), sign_content(params, ()), signature
        ):
            return self._error("40002", "Invalid Arguments", "isv.invalid-signature", "验签出错")
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            return self._signed(
                response_key,
                {
                    "code": "40002",
                    "msg": "Invalid Arguments",
                    "sub_code": "isv.invalid-parameter",
                    "sub_msg": "biz_content有误",
                },
            )
        token = params.get("app_auth_token")
        with self.lock:
            if method == "alipay.open.auth.token.app.query":
                merchant = self.merchants.get(biz.get("app_auth_token", ""))
                body = (
                    self._ok(
                        {
                            "user_id": merchant.seller_id,
                            "auth_app_id": merchant.auth_app_id,
                            "expires_in": 31536000,
                            "auth_methods": ["alipay.trade.app.pay"],
                            "status": "valid",
                        }
                    )
                    if merchant
                    else self._fail("40004", "aop.invalid-app-auth-token", "无效的应用授权令牌")
                )
            else:
                merchant = self.merchants.get(token or "")
                if merchant is None:
                    body = {
                        "code": "20001",
                        "msg": "Insufficient Token Permissions",
                        "sub_code": "aop.invalid-app-auth-token",
                        "sub_msg": "无效的应用授权令牌",
                    }
                else:
                    handler = {
                        "alipay.trade.query": self._query,
                        "alipay.trade.close": self._close,
                        "alipay.trade.refund": self._refund,
                        "alipay.trade.fastpay.refund.query": self._refund_query,
                        "alipay.data.dataservice.bill.downloadurl.query": self._bill_url,
                        "alipay.trade.royalty.relation.bind": self._royalty_bind,
                        "alipay.trade.order.settle": self._settle,
                        "alipay.trade.order.settle.query": self._settle_query,
                    }.get(method)
                    if handler is None:
                        body = {
                            "code": "40004",
                            "msg": "Business Failed",
                            "sub_code": "isv.invalid-method",
                            "sub_msg": "不支持的方法",
                        }
                    else:
                        body = handler(biz, merchant)
            self.calls.append(SeenCall(method, biz, token, str(body.get("code"))))
        return self._signed(response_key, body)

    def _signed(self, response_key: str, body: dict[str, Any]) -> str:
        inner = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return f'{{"{response_key}":{inner},"sign":"{rsa_sign(self.keys.alipay, inner)}"}}'

    @staticmethod
    def _error(code: str, msg: str, sub_code: str, sub_msg: str) -> str:
        # Gateway-level errors come unsigned in error_response.
        return json.dumps(
            {"error_response": {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}}, ensure_ascii=False
        )

    @staticmethod
    def _ok(extra: dict[str, Any]) -> dict[str, Any]:
        return {"code": "10000", "msg": "Success", **extra}

    @staticmethod
    def _fail(code: str, sub_code: str, sub_msg: str) -> dict[str, Any]:
        return {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def _trade_of(self, biz: dict[str, Any], merchant: Merchant) -> dict[str, Any] | None:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None or trade["seller_id"] != merchant.seller_id:
            return None
        return trade

    def _query(self, biz, merchant) -> dict[str, Any]:
        trade = self._trade_of(biz, merchant)
        if trade is None:
            return self._fail("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        answer = {
            "trade_no": trade["trade_no"],
            "out_trade_no": trade["out_trade_no"],
            "trade_status": trade["trade_status"],
            "total_amount": trade["total_amount"],
        }
        if trade.get("buyer_id"):
            answer.update(
                buyer_user_id=trade["buyer_id"],
                send_pay_date=trade["gmt_payment"],
                receipt_amount=trade["total_amount"],
                buyer_pay_amount=trade["total_amount"],
            )
        return self._ok(answer)

    def _close(self, biz, merchant) -> dict[str, Any]:
        trade = self._trade_of(biz, merchant)
        if trade is None:
            return self._fail("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade["trade_status"] not in ("WAIT_BUYER_PAY", "TRADE_CLOSED"):
            return self._fail("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade["trade_status"] = "TRADE_CLOSED"
        return self._ok({"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"]})

    def _refund(self, biz, merchant) -> dict[str, Any]:
        trade = self._trade_of(biz, merchant)
        if trade is None:
            return self._fail("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade["trade_status"] not in ("TRADE_SUCCESS", "TRADE_CLOSED") or not trade.get("buyer_id"):
            return self._fail("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        request_no = biz.get("out_request_no") or trade["out_trade_no"]
        existing = self.refunds.get(request_no)
        base = {
            "trade_no": trade["trade_no"],
            "out_trade_no": trade["out_trade_no"],
            "buyer_user_id": trade["buyer_id"],
        }
        if existing is not None:
            return self._ok({**base, "fund_change": "N", "refund_fee": existing["refund_amount"]})
        cents = round(float(biz.get("refund_amount", "0")) * 100)
        already = sum(
            round(float(r["refund_amount"]) * 100)
            for r in self.refunds.values()
            if r["out_trade_no"] == trade["out_trade_no"]
        )
        if cents <= 0 or cents + already > round(float(trade["total_amount"]) * 100):
            return self._fail("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        royalty_back = []
        for item in biz.get("refund_royalty_parameters") or []:
            account, back = item.get("trans_out"), round(float(item.get("amount", "0")) * 100)
            shared = sum(
                round(float(r["amount"]) * 100)
                for s in self.settlements.values()
                if s["trade_no"] == trade["trade_no"]
                for r in s["royalty_parameters"]
                if r.get("trans_in") == account
            )
            returned = sum(
                b
                for r in self.refunds.values()
                if r["out_trade_no"] == trade["out_trade_no"]
                for a, b in r["royalty_back"]
                if a == account
            )
            if item.get("trans_out_type") != "userId" or back <= 0 or back + returned > shared or back > cents:
                return self._fail("40004", "ACQ.REFUND_ROYALTY_AMOUNT_ERROR", "退分账金额超过分账金额")
            royalty_back.append((account, back))
        self.refunds[request_no] = {
            "out_trade_no": trade["out_trade_no"],
            "out_request_no": request_no,
            "refund_amount": biz["refund_amount"],
            "gmt_refund_pay": now_text(),
            "royalty_back": royalty_back,
        }
        if cents + already == round(float(trade["total_amount"]) * 100):
            trade["trade_status"] = "TRADE_CLOSED"
        return self._ok(
            {
                **base,
                "fund_change": "Y",
                "refund_fee": fen_to_yuan(cents + already),
                "gmt_refund_pay": self.refunds[request_no]["gmt_refund_pay"],
            }
        )

    def _refund_query(self, biz, merchant) -> dict[str, Any]:
        trade = self._trade_of(biz, merchant)
        refund = self.refunds.get(biz.get("out_request_no", ""))
        if trade is None or refund is None or refund["out_trade_no"] != trade["out_trade_no"]:
            return self._ok({})  # Alipay answers success with no refund_status for an unknown refund
        return self._ok(
            {
                "trade_no": trade["trade_no"],
                "out_trade_no": trade["out_trade_no"],
                "out_request_no": refund["out_request_no"],
                "refund_amount": refund["refund_amount"],
                "total_amount": trade["total_amount"],
                "refund_status": "REFUND_SUCCESS",
            }
        )

    def _royalty_bind(self, biz, merchant) -> dict[str, Any]:
        receivers = biz.get("receiver_list") or []
        if not biz.get("out_request_no") or not receivers:
            return self._fail("40004", "isv.invalid-parameter", "参数有误")
        for receiver in receivers:
            if receiver.get("type") != "userId" or not str(receiver.get("account", "")).startswith("2088"):
                return self._fail("40004", "RECEIVER_INVALID", "分账接收方不合法")
            self.royalty_receivers.setdefault(merchant.seller_id, set()).add(receiver["account"])
        return self._ok({"result_code": "SUCCESS"})

    def _settle(self, biz, merchant) -> dict[str, Any]:
        request_no = biz.get("out_request_no") or ""
        if request_no in self.settlements:
            return self._ok({"trade_no": biz.get("trade_no"), "settle_no": self.settlements[request_no]["settle_no"]})
        trade = next((t for t in self.trades.values() if t["trade_no"] == biz.get("trade_no")), None)
        if trade is None or trade["seller_id"] != merchant.seller_id:
            return self._fail("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if not trade.get("royalty_freeze") or not trade.get("frozen"):
            return self._fail("40004", "ACQ.TRADE_SETTLE_ERROR", "交易未冻结或已完结分账")
        if trade["trade_status"] not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            return self._fail("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        royalty = biz.get("royalty_parameters") or []
        total = 0
        for item in royalty:
            if item.get("trans_in") not in self.royalty_receivers.get(merchant.seller_id, set()):
                return self._fail("40004", "ACQ.ALLOC_NOT_BIND_RELATION", "分账关系未绑定")
            total += round(float(item.get("amount", "0")) * 100)
        if total > round(float(trade["total_amount"]) * 100) * 0.3:
            return self._fail("40004", "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR", "分账金额超过最大可分账比例")
        if (biz.get("extend_params") or {}).get("royalty_finish") == "true":
            trade["frozen"] = False
        settle_no = datetime.now(SHANGHAI).strftime("%Y%m%d") + f"{secrets.randbelow(10**24):024d}"
        self.settlements[request_no] = {
            "out_request_no": request_no,
            "trade_no": trade["trade_no"],
            "settle_no": settle_no,
            "royalty_parameters": royalty,
            "royalty_finish": (biz.get("extend_params") or {}).get("royalty_finish") == "true",
            "operation_dt": now_text(),
        }
        return self._ok({"trade_no": trade["trade_no"], "settle_no": settle_no})

    def _settle_query(self, biz, merchant) -> dict[str, Any]:
        settled = self.settlements.get(biz.get("out_request_no") or "")
        if settled is None or settled["trade_no"] != biz.get("trade_no"):
            return self._fail("40004", "ACQ.SETTLE_NOT_EXIST", "分账请求不存在")
        details = [
            {
                "operation_type": "transfer",
                "execute_dt": settled["operation_dt"],
                "trans_out": merchant.seller_id,
                "trans_out_type": "userId",
                "trans_in": item["trans_in"],
                "trans_in_type": item["trans_in_type"],
                "amount": item["amount"],
                "state": "SUCCESS",
                "detail_id": settled["settle_no"] + str(index),
            }
            for index, item in enumerate(settled["royalty_parameters"])
        ]
        return self._ok(
            {
                "out_request_no": settled["out_request_no"],
                "operation_dt": settled["operation_dt"],
                "royalty_detail_list": details,
            }
        )

    def _bill_url(self, biz, merchant) -> dict[str, Any]:
        if biz.get("bill_type") != "trade":
            return self._fail("40004", "isp.bill_type_not_exist", "账单类型不存在")
        host, port = self.server.server_address[:2]
        query = urlencode({"t": secrets.token_hex(8)})
        return self._ok(
            {"bill_download_url": f"http://{host}:{port}/bill/{merchant.seller_id}_{biz['bill_date']}.zip?{query}"}
        )
