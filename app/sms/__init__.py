"""Sending SMS: one small interface, backends chosen by ``SMS_BACKEND``.

``log`` (the default) writes the message to the log with the phone masked (and the code masked too unless
``DEMO_MODE``, so the embedded default stays usable); ``memory`` keeps messages in the app for tests to read. A
real gateway (Aliyun, Tencent Cloud) is one more backend registered with :func:`register_backend`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flask import Flask, current_app

from app.audit import mask_value
from app.db import utcnow

log = logging.getLogger(__name__)

#: Templates the platform sends; a gateway backend maps each to its provider's template id.
TEMPLATES = {
    "login_code": "您的验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。",
}


class SmsError(Exception):
    """The message could not be handed to the gateway."""


class SmsSender(Protocol):
    def send(self, phone: str, template: str, params: dict[str, Any]) -> None:
        """Send ``template`` with ``params`` to ``phone`` (E.164). Raises :class:`SmsError` on failure."""


@dataclass
class SentMessage:
    phone: str
    template: str
    params: dict[str, Any]
    text: str
    sent_at: datetime = field(default_factory=utcnow)


def render(template: str, params: dict[str, Any]) -> str:
    try:
        return TEMPLATES[template].format(**params)
    except KeyError as error:
        raise SmsError(f"unknown template or parameter: {error}") from None


class LogSender:
    """Writes each message to the log; personal values masked."""

    def __init__(self, app: Flask) -> None:
        self.show_codes = bool(app.config.get("DEMO_MODE"))

    def send(self, phone: str, template: str, params: dict[str, Any]) -> None:
        render(template, params)  # an unknown template fails here as it would at a gateway
        shown = {key: (value if self.show_codes or key != "code" else "******") for key, value in params.items()}
        log.info("SMS to %s: %s %s", mask_value("phone", phone), template, shown)


class MemorySender:
    """Keeps messages in memory (tests read the code from here)."""

    def __init__(self, app: Flask | None = None) -> None:
        self.messages: list[SentMessage] = []
        self.fail_next = 0
        self._lock = threading.Lock()

    def send(self, phone: str, template: str, params: dict[str, Any]) -> None:
        with self._lock:
            if self.fail_next:
                self.fail_next -= 1
                raise SmsError("memory backend told to fail")
            self.messages.append(SentMessage(phone, template, dict(params), render(template, params)))

    def sent_to(self, phone: str) -> list[SentMessage]:
        with self._lock:
            return [message for message in self.messages if message.phone == phone]

    def last_code(self, phone: str) -> str:
        return self.sent_to(phone)[-1].params["code"]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.fail_next = 0


_backends: dict[str, Callable[[Flask], SmsSender]] = {"log": LogSender, "memory": MemorySender}


def register_backend(name: str, factory: Callable[[Flask], SmsSender]) -> None:
    _backends[name] = factory


def get_sender() -> SmsSender:
    """The current app's sender for its ``SMS_BACKEND`` (one instance per app and backend)."""
    app = current_app._get_current_object()
    name = app.config.get("SMS_BACKEND", "log")
    if name not in _backends:
        raise SmsError(f"unknown SMS_BACKEND {name!r}; known: {sorted(_backends)}")
    senders = app.extensions.setdefault("linli_sms", {})
    if name not in senders:
        senders[name] = _backends[name](app)
    return senders[name]
