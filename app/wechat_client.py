"""wechatpy's client under Linli's settings. :mod:`app.wechat` imports this module when it first builds a client, so
a web worker that never calls WeChat never imports wechatpy (#12): import :mod:`app.wechat`, not this module.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException as SDKClientException
from wechatpy.session import SessionStorage

from app.extensions import redis_client
from app.wechat import WeChatClientException

log = logging.getLogger(__name__)

__all__ = ["SharedTokenStorage", "StubbableWeChatClient", "linli_error_class"]


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


_error_classes: dict[type, type] = {}
_error_classes_lock = threading.Lock()


def linli_error_class(cls: type[SDKClientException]) -> type[SDKClientException]:
    """wechatpy's exception class ``cls`` that is also an :class:`app.wechat.WeChatClientException`: same name,
    module, attributes and text, so the errors the client raises read as before and callers catch them as
    ``app.wechat.WeChatClientException`` (or as wechatpy's own) without importing wechatpy themselves."""
    if issubclass(cls, WeChatClientException):
        return cls
    with _error_classes_lock:
        mapped = _error_classes.get(cls)
        if mapped is None:
            namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
            mapped = _error_classes[cls] = type(cls.__name__, (cls, WeChatClientException), namespace)
    return mapped


class StubbableWeChatClient(WeChatClient):
    """wechatpy's client with every URL under ``base_url`` and a timeout on every call, the token fetch included.

    Every WeChatClientException it raises is also an :class:`app.wechat.WeChatClientException`."""

    def __init__(self, appid: str, secret: str, *, base_url: str, timeout: float = 5.0, session=None) -> None:
        super().__init__(appid, secret, session=session, timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.API_BASE_URL = self.base_url + "/cgi-bin/"
        self.wxa.API_BASE_URL = self.base_url + "/"

    def _request(self, method, url_or_endpoint, **kwargs):
        # Every API call (get, post, the wxa and other API groups, the retry after a stale token) comes through here.
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        except SDKClientException as error:
            # The same exception, traceback and cause, now also of app.wechat's class.
            error.__class__ = linli_error_class(type(error))
            raise

    def fetch_access_token(self) -> dict[str, Any]:
        # wechatpy's own fetch hard-codes api.weixin.qq.com and sends no timeout; same storage keys as wechatpy.
        log.info("fetching a WeChat access token for %s", self.appid)
        response = self._http.get(
            self.base_url + "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            timeout=self.timeout,
        )
        error_class = linli_error_class(SDKClientException)
        try:
            response.raise_for_status()
        except requests.RequestException as error:
            raise error_class(
                errcode=None, errmsg=None, client=self, request=error.request, response=error.response
            ) from error
        result = response.json()
        if result.get("errcode"):
            raise error_class(
                result["errcode"], result.get("errmsg"), client=self, request=response.request, response=response
            )
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result
