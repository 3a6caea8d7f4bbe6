"""The WeChat API client (wechatpy), pointable at a local fake server, with its access token shared through Redis.

wechatpy 2.0.0a26 has three base URLs (research/deps.md §2): ``API_BASE_URL`` (``/cgi-bin/``), ``wxa.API_BASE_URL``
(mini-program endpoints such as ``sns/jscode2session``) and the access-token fetch, which it hard-codes; the
subclass below moves all three to ``WECHAT_API_BASE``. Login, phone numbers, subscribe messages (push) and, later,
payments reuse :func:`mini_program_client`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import requests
from flask import current_app
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from app.extensions import redis_client

log = logging.getLogger(__name__)

__all__ = ["StubbableWeChatClient", "WeChatClientException", "WeChatNotConfigured", "mini_program_client"]


class WeChatNotConfigured(RuntimeError):
    """WECHAT_MINI_APPID / WECHAT_MINI_SECRET are not set."""


class SharedTokenStorage(SessionStorage):
    """wechatpy's token storage in Redis, so every process uses one access token (each fetch invalidates the
    previous one after a grace period); falls back to process memory while Redis is unreachable."""

    def __init__(self, prefix: str = "wechatpy") -> None:
        self.prefix = prefix
        self._memory: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def get(self, key: str, default: Any = None) -> Any:
        missing = object()
        raw = redis_client.call(lambda r: r.get(self._key(key)), default=missing)
        if raw is not missing:
            return default if raw is None else json.loads(raw)
        with self._lock:
            value, expires = self._memory.get(key, (default, None))
        if expires is not None and expires < time.monotonic():
            return default
        return value

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        with self._lock:
            self._memory[key] = (value, time.monotonic() + ttl if ttl else None)
        redis_client.call(lambda r: r.set(self._key(key), json.dumps(value), ex=ttl), default=None)

    def delete(self, key: str) -> None:
        with self._lock:
            self._memory.pop(key, None)
        redis_client.call(lambda r: r.delete(self._key(key)), default=None)


class StubbableWeChatClient(WeChatClient):
    """wechatpy's client with every URL under ``base_url`` and a timeout on every call, the token fetch included."""

    def __init__(self, appid: str, secret: str, *, base_url: str, timeout: float = 5.0, session=None) -> None:
        super().__init__(appid, secret, session=session, timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.API_BASE_URL = self.base_url + "/cgi-bin/"
        self.wxa.API_BASE_URL = self.base_url + "/"

    def fetch_access_token(self) -> dict[str, Any]:
        # wechatpy's own fetch hard-codes api.weixin.qq.com and sends no timeout; same storage keys as wechatpy.
        log.info("fetching a WeChat access token for %s", self.appid)
        response = self._http.get(
            self.base_url + "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            timeout=self.timeout,
        )
        try:
            response.raise_for_status()
        except requests.RequestException as error:
            raise WeChatClientException(
                errcode=None, errmsg=None, client=self, request=error.request, response=error.response
            ) from error
        result = response.json()
        if result.get("errcode"):
            raise WeChatClientException(
                result["errcode"], result.get("errmsg"), client=self, request=response.request, response=response
            )
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result


_clients_lock = threading.Lock()


def mini_program_client() -> StubbableWeChatClient:
    """The mini-program's client for the current app, built once per (appid, secret, base URL).

    :raises WeChatNotConfigured: the mini-program's appid or secret is not set.
    """
    config = current_app.config
    appid, secret = config.get("WECHAT_MINI_APPID"), config.get("WECHAT_MINI_SECRET")
    if not appid or not secret:
        raise WeChatNotConfigured("WECHAT_MINI_APPID and WECHAT_MINI_SECRET are not set")
    key = (appid, secret, config["WECHAT_API_BASE"], float(config.get("WECHAT_TIMEOUT", 5.0)))
    clients = current_app.extensions.setdefault("linli_wechat_clients", {})
    with _clients_lock:
        client = clients.get(key)
        if client is None:
            client = StubbableWeChatClient(
                appid, secret, base_url=key[2], timeout=key[3], session=SharedTokenStorage("wechatpy")
            )
            clients[key] = client
    return client


# --- content security (内容安全): msgSecCheck 2.0, mediaCheckAsync 2.0, message-push signatures -------------------
# wechatpy 2.0.0a26 only speaks version 1 of these two APIs (no openid, scene or version), so they are thin calls
# through the same client: its access token, timeout, retry on a stale token and errcode handling.

#: Scenes of the content-security APIs: 1 资料, 2 评论, 3 论坛, 4 社交日志.
SCENE_PROFILE, SCENE_COMMENT, SCENE_FORUM, SCENE_SOCIAL_LOG = 1, 2, 3, 4


def msg_sec_check(openid: str, content: str, *, scene: int) -> dict[str, Any]:
    """Check text with msgSecCheck 2.0 (``/wxa/msg_sec_check``, version 2) for the user ``openid`` wrote it as.

    :return: WeChat's ``result``: ``{"suggest": "pass" | "review" | "risky", "label": int}``.
    :raises WeChatNotConfigured: no mini-program configured.
    :raises WeChatClientException: WeChat refused the call or could not be reached.
    """
    client = mini_program_client()
    answer = client.post(
        client.base_url + "/wxa/msg_sec_check",
        data={"content": content, "version": 2, "scene": scene, "openid": openid},
    )
    return answer.get("result") or {"suggest": "review", "label": 0}


def media_check_async(openid: str, media_url: str, *, scene: int, media_type: int = 2) -> str:
    """Submit an image (``media_type`` 2) or audio (1) to the asynchronous media check (version 2); the result
    arrives later at the mini-program's message-push URL as event ``wxa_media_check`` naming the ``trace_id``.

    :return: the check's ``trace_id``.
    :raises WeChatNotConfigured: no mini-program configured.
    :raises WeChatClientException: WeChat refused the call or could not be reached.
    """
    client = mini_program_client()
    answer = client.post(
        client.base_url + "/wxa/media_check_async",
        data={"media_url": media_url, "media_type": media_type, "version": 2, "scene": scene, "openid": openid},
    )
    return answer["trace_id"]


def message_signature(token: str, timestamp: str, nonce: str) -> str:
    """The signature WeChat's message push sends: SHA-1 of token, timestamp and nonce sorted and joined."""
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature


def check_message_signature(token: str, signature: str | None, timestamp: str | None, nonce: str | None) -> bool:
    """Whether a message-push request carries WeChat's signature for our ``token`` (compared in constant time)."""
    import hmac

    if not token or not signature or not timestamp or not nonce:
        return False
    return hmac.compare_digest(message_signature(token, timestamp, nonce), signature)
