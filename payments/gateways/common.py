"""What the gateway clients share: their errors, yuan/fen conversion, key loading and the notify URLs."""

from __future__ import annotations

import base64
import binascii
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

NOTIFY_PREFIX = "/api/v1/payments/notify"


class GatewayError(Exception):
    """A gateway refused a call or could not be reached.

    ``retryable`` says whether the same call may succeed later (network, 5xx, rate limits, a signature we could not
    check on the answer); a refusal of the request itself (order already paid, bad arguments) is not.
    """

    def __init__(
        self, code: str, message: str = "", *, retryable: bool = False, status: int | None = None, raw: Any = None
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code, self.message, self.retryable, self.status, self.raw = code, message, retryable, status, raw


class NotificationRejected(Exception):
    """A notification that must change nothing: forged, tampered, stale, for someone else, or not matching our
    record. ``reason`` is a stable snake_case word stored for admins; ``retry`` says whether the gateway should
    send it again (our fault or a race) rather than be told to stop."""

    def __init__(self, reason: str, detail: str = "", *, retry: bool = True) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail, self.retry = reason, detail, retry


def fen_to_yuan(fen: int) -> str:
    """``3250`` → ``"32.50"``: the yuan string Alipay and statements use."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("amounts are integer fen")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def yuan_to_fen(value: str | Decimal) -> int:
    """``"32.50"`` → ``3250``, parsed with Decimal. Only plain decimals with at most two places and at most 12
    integer digits are amounts; anything else (``"32.505"``, ``"1e5"``, ``"NaN"``) raises ``ValueError``."""
    text = str(value).strip()
    if not _YUAN.fullmatch(text):
        raise ValueError(f"not a yuan amount: {value!r}")
    return int(Decimal(text) * 100)


_YUAN = re.compile(r"-?\d{1,12}(\.\d{1,2})?")


def read_text(path: str | None) -> str | None:
    return Path(path).read_text(encoding="utf-8") if path else None


def pem(text: str, kind: str) -> str:
    """A key as PEM. Consoles hand out bare base64 (no markers); PEM is passed through.

    :param kind: ``"public"`` or ``"private"``. Bare base64 DER is wrapped as SubjectPublicKeyInfo / PKCS#8 when it
        parses as such, else as PKCS#1 (``RSA PRIVATE KEY``), the two forms Alipay's key tool writes.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text + "\n"
    body = "".join(text.split())
    try:
        der = base64.b64decode(body, validate=True)
    except binascii.Error:
        raise ValueError("a key must be PEM or base64 DER") from None
    from cryptography.hazmat.primitives import serialization

    if kind == "public":
        key = serialization.load_der_public_key(der)
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    try:
        private = serialization.load_der_private_key(der, password=None)
    except ValueError:
        raise ValueError("the private key is neither PKCS#8 nor PKCS#1 DER") from None
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def notify_url(base: str | None, gateway: str) -> str | None:
    """``https://api.example.com`` + ``/api/v1/payments/notify/<gateway>``; None when no base is configured."""
    if not base:
        return None
    return f"{base.rstrip('/')}{NOTIFY_PREFIX}/{gateway}"
