"""The WeChat API client (wechatpy), pointable at a local fake server, with its access token shared through Redis.

wechatpy 2.0.0a26 has three base URLs (research/deps.md §2): ``API_BASE_URL`` (``/cgi-bin/``), ``wxa.API_BASE_URL``
(mini-program endpoints such as ``sns/jscode2session``) and the access-token fetch, which it hard-codes; the
subclass in :mod:`app.wechat_client` moves all three to ``WECHAT_API_BASE``. Login, phone numbers, subscribe messages
(push) and, later, payments reuse :func:`mini_program_client`. wechatpy is imported when the first client is built.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from app.wechat_client import StubbableWeChatClient

__all__ = ["StubbableWeChatClient", "WeChatClientException", "WeChatNotConfigured", "mini_program_client"]


class WeChatNotConfigured(RuntimeError):
    """WECHAT_MINI_APPID / WECHAT_MINI_SECRET are not set."""


class WeChatClientException(Exception):
    """A WeChat API call failed: WeChat answered an ``errcode`` (``errmsg``), or HTTP failed (both None).

    wechatpy is imported only when the first client is built (:mod:`app.wechat_client`; it costs every web worker
    memory, #12), so this class stands for wechatpy's ``WeChatClientException``: every one the client raises is
    also an instance of this class, with wechatpy's attributes below.
    """

    errcode: int | None
    errmsg: str | None
    client: Any
    request: Any
    response: Any


def __getattr__(name: str) -> Any:
    # The wechatpy-based classes, for whoever names them here: importing them imports wechatpy.
    if name in ("SharedTokenStorage", "StubbableWeChatClient"):
        from app import wechat_client

        return getattr(wechat_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
            from app.wechat_client import SharedTokenStorage, StubbableWeChatClient

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
