"""Locker devices as machine principals: every request is signed with the cabinet's secret.

Headers: ``X-Locker-Timestamp`` (Unix seconds), ``X-Locker-Nonce`` (8–64 of ``[A-Za-z0-9_-]``) and
``X-Locker-Signature``, the hex HMAC-SHA256 under the cabinet's secret of::

    METHOD \\n PATH?QUERY \\n TIMESTAMP \\n NONCE \\n sha256hex(BODY)

(the cabinet id is the ``<locker_id>`` in the path). A timestamp further than ``MARKETPLACE_LOCKER_CLOCK_SKEW_SECONDS``
from the server's clock is refused; a nonce is stored in PostgreSQL (unique per cabinet) and a second use refused
(nonces older than twice the window are purged by a periodic job: their timestamps are refused anyway). The signature
is checked before the nonce is stored, so nobody without the secret can use up a device's nonces; the nonce is
committed on its own, before the action runs, so a request replayed after a failed action is refused too.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from copy import deepcopy
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, request
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db import atomic
from app.extensions import db
from marketplace.locker_models import Locker, LockerNonce
from marketplace.lockers import locker_secret
from marketplace.lockers_errors import (
    DeviceNonceReplayed,
    DeviceSignatureMissing,
    DeviceTimestampStale,
    DeviceUnauthorized,
)

TIMESTAMP_HEADER = "X-Locker-Timestamp"
NONCE_HEADER = "X-Locker-Nonce"
SIGNATURE_HEADER = "X-Locker-Signature"
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


def signing_string(method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join((method.upper(), f"{path}?{query}", timestamp, nonce, hashlib.sha256(body).hexdigest())).encode()


def sign(secret: str, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The signature a device sends (also used by tests and device simulators)."""
    message = signing_string(method, path, query, timestamp, nonce, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def authenticate(locker_public_id: str) -> Locker:
    """Check the current request's signature, timestamp and nonce for the cabinet; store the nonce.

    :raises DeviceUnauthorized: (401) missing headers, unknown cabinet, bad signature, stale timestamp, replayed nonce.
    """
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    nonce = request.headers.get(NONCE_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not (_TIMESTAMP.fullmatch(timestamp) and _NONCE.fullmatch(nonce) and _SIGNATURE.fullmatch(signature)):
        raise DeviceSignatureMissing()
    with atomic():
        locker = db.session.scalar(sa.select(Locker).where(Locker.public_id == locker_public_id))
        if locker is None:
            raise DeviceUnauthorized()
        expected = sign(
            locker_secret(locker),
            request.method,
            request.path,
            request.query_string.decode("latin-1"),
            timestamp,
            nonce,
            request.get_data(cache=True),
        )
        if not hmac.compare_digest(expected, signature.lower()):
            raise DeviceUnauthorized()
        skew = int(current_app.config["MARKETPLACE_LOCKER_CLOCK_SKEW_SECONDS"])
        if abs(time.time() - int(timestamp)) > skew:
            raise DeviceTimestampStale(details={"server_time": int(time.time()), "max_skew_seconds": skew})
        stored = db.session.execute(
            pg_insert(LockerNonce)
            .values(locker_id=locker.id, nonce=nonce)
            .on_conflict_do_nothing()
            .returning(LockerNonce.nonce)
        ).scalar()
        if stored is None:
            raise DeviceNonceReplayed()
    return locker


def device_signed(view: Callable) -> Callable:
    """Authenticate the calling cabinet (see the module docstring) before the body is even parsed; the view gets
    the cabinet as ``g.locker``. Place it first, above ``@blp.arguments`` and ``@blp.response``."""
    apidoc = getattr(view, "_apidoc", {})

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.locker = authenticate(kwargs["locker_id"])
        return view(*args, **kwargs)

    wrapper._apidoc = deepcopy(apidoc)
    manual = wrapper._apidoc.setdefault("manual_doc", {})
    manual["x-access"] = {
        "public": True,
        "platform_roles": [],
        "device": "locker device: HMAC-SHA256 signed request (X-Locker-Timestamp, X-Locker-Nonce, X-Locker-Signature)",
    }
    parameters = wrapper._apidoc.setdefault("arguments", {}).setdefault("parameters", [])
    for name, description, pattern in (
        (TIMESTAMP_HEADER, "Unix 时间戳（秒），与服务器相差不超过 5 分钟", "^[0-9]{1,12}$"),
        (NONCE_HEADER, "每次请求不同的随机串（8–64 位字母数字）", "^[A-Za-z0-9_-]{8,64}$"),
        (
            SIGNATURE_HEADER,
            "HMAC-SHA256(柜体密钥, 方法\\n路径?查询\\n时间戳\\n随机串\\nsha256(请求体)) 的十六进制",
            "^[0-9a-fA-F]{64}$",
        ),
    ):
        parameters.append(
            {
                "in": "header",
                "name": name,
                "required": True,
                "description": description,
                "schema": {"type": "string", "pattern": pattern},
            }
        )
    wrapper._apidoc["arguments"].setdefault("responses", {})[401] = "UNAUTHORIZED"
    return wrapper
