"""A fake WeChat API server over real HTTP on 127.0.0.1, answering in WeChat's own JSON formats.

It serves the access token (``/cgi-bin/token``), mini-program login (``/sns/jscode2session``), phone numbers
(``/wxa/business/getuserphonenumber``) and subscribe messages (``/cgi-bin/message/subscribe/send``). Tests register
the codes it accepts; unknown codes get WeChat's ``40029 invalid code``, used ones ``40163 code been used``, and
calls with an access token it did not issue get ``40001`` (wechatpy then fetches a new token and retries).

Subscribe messages are checked as WeChat documents them (subscribeMessage.send): each ``data`` key names its type
(``thing1``, ``time2`` …) and a value that breaks the type's limits gets ``47003 argument invalid``; openids in
``refused_openids`` get ``43101`` (the user refused); ``subscribe_errors`` queues answers for the next sends (WeChat
having a bad moment). Accepted messages are kept in ``subscribe_messages``.

Content security (version 2): ``/wxa/msg_sec_check`` answers ``suggest: pass`` unless ``content_risky`` is set or the
text holds one of ``risky_words`` (then ``risky``, label 20001); ``/wxa/media_check_async`` answers a ``trace_id`` and
keeps each request in ``media_checks``; ``media_check_push(trace_id, token, suggest=…)`` builds the signed message
push (query and JSON body) WeChat would send to our callback with the result.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes import serve_in_thread, stop_server


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FakeWeChat:
    appid: str = "wx_fake_mini_appid"
    secret: str = "fake-mini-secret"
    requests: list[SeenRequest] = field(default_factory=list)
    #: js_code -> (openid, unionid or None)
    login_codes: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: phone code -> (country code, pure phone number)
    phone_codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    used_codes: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    #: Answer the next N calls with HTTP 500 (WeChat having a bad day).
    fail_next: int = 0
    #: When set, every answer uses this watermark appid (a phone number meant for another mini-program).
    watermark_appid: str | None = None
    #: Subscribe messages WeChat accepted: {"touser", "template_id", "page", "data"}.
    subscribe_messages: list[dict[str, Any]] = field(default_factory=list)
    #: (errcode, errmsg) answers for the next subscribe sends, in order.
    subscribe_errors: list[tuple[int, str]] = field(default_factory=list)
    #: Openids whose users refused (or used up) the subscription: 43101.
    refused_openids: set[str] = field(default_factory=set)
    #: Content security: make every msgSecCheck answer ``risky``, or only texts holding one of these words.
    content_risky: bool = False
    risky_words: set[str] = field(default_factory=set)
    #: mediaCheckAsync requests accepted: {"trace_id", "media_url", "media_type", "openid", "scene"}.
    media_checks: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what tests call ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def add_login_code(self, code: str, openid: str, unionid: str | None = None) -> str:
        self.login_codes[code] = (openid, unionid)
        return code

    def add_phone_code(self, code: str, phone: str, country_code: str = "86") -> str:
        self.phone_codes[code] = (country_code, phone)
        return code

    def calls(self, path: str) -> list[SeenRequest]:
        with self.lock:
            return [seen for seen in self.requests if seen.path == path]

    def start(self) -> FakeWeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _handle(self, method: str) -> None:
                url = urlparse(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, answer = fake.answer(method, url.path, query, body)
                payload = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = serve_in_thread(Handler, "fake-wechat")
        return self

    def stop(self) -> None:
        stop_server(self.server)

    # --- WeChat's behaviour --------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(SeenRequest(method, path, query, body))
            if self.fail_next:
                self.fail_next -= 1
                return 500, {"errcode": -1, "errmsg": "system error"}
            if path == "/cgi-bin/token":
                return 200, self._token(query)
            if path == "/sns/jscode2session":
                return 200, self._code2session(query)
            if path == "/wxa/business/getuserphonenumber":
                return 200, self._phone(query, body or {})
            if path == "/cgi-bin/message/subscribe/send":
                return 200, self._authorised(query) or self._subscribe_send(body or {})
            if path == "/wxa/msg_sec_check":
                return 200, self._authorised(query) or self._msg_sec_check(body or {})
            if path == "/wxa/media_check_async":
                return 200, self._authorised(query) or self._media_check_async(body or {})
            return 404, {"errcode": 404, "errmsg": "not found"}

    def _token(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("grant_type") != "client_credential" or query.get("appid") != self.appid:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = "FAKE_TOKEN_" + secrets.token_hex(8)
        self.tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    def _authorised(self, query: dict[str, str]) -> dict[str, Any] | None:
        if query.get("access_token") not in self.tokens:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        return None

    def _spend(self, code: str, known: dict) -> dict[str, Any] | None:
        if code in self.used_codes:
            return {"errcode": 40163, "errmsg": "code been used"}
        if code not in known:
            return {"errcode": 40029, "errmsg": "invalid code"}
        self.used_codes.add(code)
        return None

    def _code2session(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("appid") != self.appid or query.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if query.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        code = query.get("js_code", "")
        refused = self._spend(code, self.login_codes)
        if refused:
            return refused
        openid, unionid = self.login_codes[code]
        answer = {"openid": openid, "session_key": "c2Vzc2lvbmtleQ=="}
        if unionid:
            answer["unionid"] = unionid
        return answer

    def _phone(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        refused = self._authorised(query)
        if refused:
            return refused
        code = body.get("code", "")
        refused = self._spend(code, self.phone_codes)
        if refused:
            return refused
        country, pure = self.phone_codes[code]
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": pure if country == "86" else f"+{country}{pure}",
                "purePhoneNumber": pure,
                "countryCode": country,
                "watermark": {"timestamp": int(time.time()), "appid": self.watermark_appid or self.appid},
            },
        }

    def _subscribe_send(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.subscribe_errors:
            errcode, errmsg = self.subscribe_errors.pop(0)
            return {"errcode": errcode, "errmsg": errmsg}
        touser = body.get("touser")
        if not touser:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        if not body.get("template_id"):
            return {"errcode": 40037, "errmsg": "invalid template id"}
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return {"errcode": 47003, "errmsg": "argument invalid! data is empty"}
        for key, item in data.items():
            value = item.get("value") if isinstance(item, dict) else None
            if not isinstance(value, str) or not value:
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value is emtpy"}
            if not subscribe_value_ok(key, value):
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value invalid"}
        if touser in self.refused_openids:
            return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
        self.subscribe_messages.append(
            {"touser": touser, "template_id": body["template_id"], "page": body.get("page"), "data": data}
        )
        return {"errcode": 0, "errmsg": "ok"}

    # --- content security (msgSecCheck / mediaCheckAsync, version 2) -----------------------------------------------

    def _msg_sec_check(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("version") != 2:
            return {"errcode": 47001, "errmsg": "data format error: version"}
        if not body.get("openid"):
            return {"errcode": 40003, "errmsg": "invalid openid"}
        if body.get("scene") not in (1, 2, 3, 4):
            return {"errcode": 40097, "errmsg": "invalid args: scene"}
        content = body.get("content")
        if not isinstance(content, str) or not content:
            return {"errcode": 47001, "errmsg": "data format error: content"}
        risky = self.content_risky or any(word in content for word in self.risky_words)
        result = {"suggest": "risky", "label": 20001} if risky else {"suggest": "pass", "label": 100}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "result": result,
            "detail": [{"strategy": "content_model", "errcode": 0, **result, "prob": 90 if risky else 0}],
            "trace_id": secrets.token_hex(12),
        }

    def _media_check_async(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("version") != 2:
            return {"errcode": 47001, "errmsg": "data format error: version"}
        if not body.get("openid"):
            return {"errcode": 40003, "errmsg": "invalid openid"}
        if body.get("media_type") not in (1, 2) or body.get("scene") not in (1, 2, 3, 4):
            return {"errcode": 40097, "errmsg": "invalid args"}
        url = body.get("media_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return {"errcode": 40097, "errmsg": "invalid args: media_url"}
        trace_id = secrets.token_hex(12)
        self.media_checks.append(
            {
                "trace_id": trace_id,
                "media_url": url,
                "media_type": body["media_type"],
                "openid": body["openid"],
                "scene": body["scene"],
            }
        )
        return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}

    def media_check_push(
        self, trace_id: str, token: str, *, suggest: str = "pass", label: int | None = None
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """The message push WeChat sends with a media-check result: ``(query, json_body)``, signed with ``token``."""

        with self.lock:
            check = next(item for item in self.media_checks if item["trace_id"] == trace_id)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        # WeChat's message-push signature: SHA-1 of the sorted token, timestamp and nonce (its format, not ours).
        signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
        label = label if label is not None else (100 if suggest == "pass" else 20002)
        body = {
            "ToUserName": "gh_fake_mini",
            "FromUserName": check["openid"],
            "CreateTime": int(timestamp),
            "MsgType": "event",
            "Event": "wxa_media_check",
            "appid": self.appid,
            "trace_id": trace_id,
            "version": 2,
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}],
            "errcode": 0,
            "errmsg": "ok",
            "result": {"suggest": suggest, "label": label},
        }
        return {"signature": signature, "timestamp": timestamp, "nonce": nonce}, body


# --- WeChat's limits on subscribe-message values (written apart from app/push/fields.py, so each checks the other) --

_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_DAY = (
    r"(\d{4}年\d{1,2}月\d{1,2}日|\d{4}年\d{1,2}月|\d{1,2}月\d{1,2}日"
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}-\d{1,2}|\d{1,2}-\d{1,2})"
)
_HOUR = r"([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?"
_TIME = rf"({_DAY} ?)?{_HOUR}"
_DATE = rf"{_DAY}( ?{_HOUR})?"
SUBSCRIBE_RULES: dict[str, tuple[int | None, str]] = {
    "thing": (20, r"[^\x00-\x1f\x7f]+"),
    "number": (32, r"-?\d+(\.\d+)?"),
    "letter": (32, r"[A-Za-z]+"),
    "symbol": (5, rf"[^\sA-Za-z0-9{_HAN}]+"),
    "character_string": (32, rf"[^\s{_HAN}]+"),
    "time": (None, rf"{_TIME}( ?~ ?{_TIME})?"),
    "date": (None, rf"{_DATE}( ?~ ?{_DATE})?"),
    "amount": (None, r"[¥￥$€£]?\d+(\.\d+)?元?"),
    "phone_number": (17, rf"[^\sA-Za-z{_HAN}]+"),
    "car_number": (8, rf"[{_HAN}A-Za-z0-9][A-Za-z0-9]*[{_HAN}A-Za-z0-9]?"),
    "name": (20, rf"[{_HAN}A-Za-z·]{{1,10}}|[^\s\d{_HAN}]+( [^\s\d{_HAN}]+)*"),
    "phrase": (5, rf"[{_HAN}]+"),
}


def subscribe_value_ok(key: str, value: str) -> bool:
    """Whether WeChat accepts ``value`` for template key ``key`` (its type is the key without trailing digits)."""
    kind = key.rstrip("0123456789")
    if kind not in SUBSCRIBE_RULES:
        return False
    limit, pattern = SUBSCRIBE_RULES[kind]
    if limit is not None and len(value) > limit:
        return False
    if kind == "amount" and sum(ch.isdigit() for ch in value) > 10:
        return False
    return re.fullmatch(pattern, value) is not None
