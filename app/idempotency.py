"""``Idempotency-Key`` for create endpoints: a repeat within 24 hours gets the first response back.

Usage, on a create view (orders, payments, bookings, applications, posts, uploads)::

    @blp.route("/orders")
    class Orders(MethodView):
        @idempotent                                 # 1. first line: outside everything below
        @blp.arguments(OrderCreateSchema)           # 2. parse
        @blp.response(201, OrderSchema)             # 3. serialise: @idempotent must sit above it
        @require()                                  # 4. permission
        def post(self, data):
            return services.create_order(resident=current_user(), **data)

``@idempotent`` has to see the finished ``Response`` (status, serialised body, ``Location``), so it must be above
``@blp.response``; putting it below raises ``TypeError`` at import. Keep it on the first line: above
``@blp.arguments`` it also documents the header and the 409/422 answers in the OpenAPI operation.

How it works. Without the header nothing changes. With it, one transaction (an outer ``atomic()``; the service's
own ``atomic()`` joins it) does, in order: ``INSERT`` the key row ``ON CONFLICT (user_id, key) DO UPDATE … WHERE
expired``, run the view, store its response in the row, commit. The record and the stored response therefore
commit together or not at all. A duplicate sent while the first runs blocks on the unique index until the first
transaction ends, then sees the committed row and replays it (or, if the first rolled back, claims the key itself).

==================================  =========================================================================
Case                                Answer
==================================  =========================================================================
no header                           the view runs as usual
malformed key (not 1–255 printable  422 ``validation_failed``, ``details.fields.headers["Idempotency-Key"]``
ASCII characters)
anonymous caller with a key         401 ``unauthenticated`` (keys are scoped per user; an IP or device scope
                                    could hand one resident's response to a neighbour behind the same NAT)
first request, answer < 500         the view's response, stored with the record in one commit
repeat, same method/path/body/query replay: same status, body bytes, ``Content-Type``/``Location``/``ETag``,
within 24 h                         plus ``Idempotent-Replayed: true``; the view does not run
same key, other body, query,        422 ``idempotency_key_reused``
method or path
duplicate while the first runs      waits for the first to finish, then replays; after
                                    ``IDEMPOTENCY_WAIT_SECONDS`` (default 5) 409 ``idempotency_in_progress``
                                    with ``Retry-After: 1``
raised error (APIError 4xx, abort,  not stored: the key row rolls back with the view's work, so the client may
validation, unexpected 5xx)         retry with the same key (nothing was created, so nothing can be duplicated)
returned response >= 500            not stored, rolled back likewise
key older than 24 h                 treated as new (the expired row is taken over); the job
                                    ``delete_expired_keys`` deletes expired rows (daily at 03:17)
==================================  =========================================================================

Failure modes. The process dies or the database drops mid-request: the transaction never commits, so neither the
record nor the key exists and a retry creates the record once. The commit succeeds but the answer is lost on the
way: a retry replays it. The commit's outcome is unknown to us (connection lost during COMMIT): the record and the
key are still one transaction, so a retry either replays or creates it, never both. Work outside PostgreSQL is
not rolled back: jobs must go through the outbox (same transaction), and calls to outside services must carry
their own idempotency key. A view that calls ``commit()`` itself (forbidden by the house style) would commit the
key while ``in_progress``; repeats then get 409 until the key expires: never a duplicate, only a stuck key.
Duplicates hold a database connection while they wait, which is why the wait is bounded.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import hashlib
import http
import json
import logging
from collections.abc import Callable
from copy import deepcopy
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.auth import optional_user
from app.db import atomic, created_at, intpk
from app.errors import APIError, Conflict, Unauthenticated, ValidationFailed
from app.extensions import db
from app.outbox import periodic

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
#: Response headers stored and sent again on a replay (others, such as cookies, are never replayed).
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag")
#: How long a duplicate waits for the first request holding its key before answering 409.
DEFAULT_WAIT_SECONDS = 5
LOCK_NOT_AVAILABLE = "55P03"


class IdempotencyStatus(enum.Enum):
    in_progress = "in_progress"
    completed = "completed"


class IdempotencyKey(db.Model):
    """An ``Idempotency-Key`` a user sent to a create endpoint, with the response to replay until it expires."""

    __tablename__ = "core_idempotency_keys"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "key"),
        sa.CheckConstraint("status = 'in_progress' OR response_status IS NOT NULL", name="completed_has_response"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.Text)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), comment="sha256 of the query string and request body")
    status: Mapped[IdempotencyStatus] = mapped_column(default=IdempotencyStatus.in_progress)
    response_status: Mapped[int | None] = mapped_column(sa.SmallInteger)
    response_body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    response_headers: Mapped[dict[str, Any] | None]
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class IdempotencyKeyReused(APIError):
    status, code, message = 422, "idempotency_key_reused", "该幂等键已用于另一个请求，请为新的请求生成新的幂等键"


class IdempotencyInProgress(Conflict):
    code, message = "idempotency_in_progress", "相同幂等键的请求正在处理中，请稍后重试"


def idempotent(view: Callable) -> Callable:
    """Make a create view answer a repeated ``Idempotency-Key`` with its first response (see the module docstring).

    :raises TypeError: at import, when not placed above ``@blp.response`` (it would not see the final response).
    """
    apidoc = getattr(view, "_apidoc", {})
    if "response" not in apidoc:
        raise TypeError(
            f"@idempotent on {view.__qualname__} must be placed above @blp.response(...): "
            "order @idempotent, @blp.arguments, @blp.response, @require"
        )

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        _check_key(key)
        user = optional_user()
        if user is None:
            raise Unauthenticated("使用幂等键（Idempotency-Key）需要先登录", details={"reason": "login_required"})
        return _run_once(user.id, key, view, args, kwargs)

    wrapper._apidoc = deepcopy(apidoc)
    arguments = wrapper._apidoc.setdefault("arguments", {})
    arguments.setdefault("parameters", []).append(
        {
            "in": "header",
            "name": HEADER,
            "required": False,
            "description": "幂等键：24 小时内以相同的键重复提交，返回第一次的响应（带 Idempotent-Replayed: true）。",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[\\x20-\\x7E]+$"},
        }
    )
    for status in (409, 422):
        arguments.setdefault("responses", {})[status] = http.HTTPStatus(status).name
    return wrapper


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise ValidationFailed(
            "幂等键格式有误",
            details={"fields": {"headers": {HEADER: [f"应为 1–{MAX_KEY_LENGTH} 个可打印 ASCII 字符"]}}},
        )


class _Unstored(Exception):
    """Carries a returned 5xx response out of the transaction, which is rolled back."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _run_once(user_id: int, key: str, view: Callable, args: tuple, kwargs: dict) -> Response:
    method, path, fingerprint = request.method, request.path, request_fingerprint()
    try:
        with atomic() as session:
            claimed = _claim(session, user_id=user_id, key=key, method=method, path=path, fingerprint=fingerprint)
            if claimed is None:
                return _replay(session, user_id=user_id, key=key, method=method, path=path, fingerprint=fingerprint)
            response = view(*args, **kwargs)
            if not isinstance(response, Response):
                raise TypeError(f"@idempotent expected a Response from the view, got {type(response).__name__}")
            if response.status_code >= 500:
                raise _Unstored(response)
            session.execute(
                _statements()[1],
                {
                    "claimed": claimed,
                    "response_status": response.status_code,
                    "response_body": response.get_data(),
                    "response_headers": {
                        name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
                    },
                },
            )
            return response
    except _Unstored as unstored:
        return unstored.response


@functools.cache
def _statements() -> tuple[sa.Select, sa.Update]:
    """The claim (insert the key row, or take over an expired one, waiting at most ``:timeout`` behind a duplicate
    and restoring the usual ``lock_timeout``, in one statement) and the store of the response: built once, a
    statement built per request cost more Python than its round trip."""
    now = sa.func.now()
    values = {
        "method": sa.bindparam("method", type_=sa.String),
        "path": sa.bindparam("path", type_=sa.Text),
        "fingerprint": sa.bindparam("fingerprint", type_=sa.String),
        "status": IdempotencyStatus.in_progress,
        "created_at": now,
        "expires_at": now + KEY_TTL,
    }
    table = IdempotencyKey.__table__  # the table: an ORM-enabled statement runs SQLAlchemy's bulk machinery
    insert = pg_insert(table).values(
        user_id=sa.bindparam("user_id", type_=sa.BigInteger), key=sa.bindparam("key", type_=sa.String), **values
    )
    claim = (
        insert.on_conflict_do_update(
            index_elements=[table.c.user_id, table.c.key],
            # Taking over an expired key: it starts again as if new.
            set_={**values, "response_status": sa.null(), "response_body": sa.null(), "response_headers": sa.null()},
            where=table.c.expires_at <= now,
        )
        .returning(table.c.id)
        .cte("claim")
    )
    # FROM first: the usual lock_timeout read and the bounded one set (set_config is volatile, so the subquery is
    # never flattened); then the claim (an InitPlan, run when the target list first needs it); then the restore.
    bound = sa.select(
        sa.func.current_setting("lock_timeout").label("previous"),
        sa.func.set_config("lock_timeout", sa.bindparam("timeout", type_=sa.Text), True).label("bounded"),
    ).subquery("bound")
    claiming = sa.select(
        sa.select(claim.c.id).scalar_subquery(), sa.func.set_config("lock_timeout", bound.c.previous, True)
    ).select_from(bound)
    store = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("claimed", type_=sa.BigInteger))
        .values(
            status=IdempotencyStatus.completed,
            response_status=sa.bindparam("response_status", type_=sa.SmallInteger),
            response_body=sa.bindparam("response_body", type_=sa.LargeBinary),
            response_headers=sa.bindparam("response_headers", type_=table.c.response_headers.type),
        )
    )
    return claiming, store


def _claim(session: Session, *, user_id: int, key: str, method: str, path: str, fingerprint: str) -> int | None:
    """Insert the key row, or take over an expired one; the id when claimed, None when a live row exists.

    This statement is the guard: a concurrent duplicate's INSERT waits on the unique index until the first
    transaction ends. A SELECT-then-INSERT here would let every duplicate run the view.
    """
    # Bound the wait behind a running duplicate and restore the usual lock_timeout, all in the claiming statement
    # (one round trip, not four; see ``_statements``).
    wait = current_app.config.get("IDEMPOTENCY_WAIT_SECONDS", DEFAULT_WAIT_SECONDS)
    # At least 1 ms: a lock_timeout of 0 means "wait for ever".
    timeout = f"{max(1, int(wait * 1000))}ms"
    claiming, _store = _statements()
    params = {"user_id": user_id, "key": key, "method": method, "path": path, "fingerprint": fingerprint}
    try:
        claimed = session.scalar(claiming, {**params, "timeout": timeout})
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            log.info("idempotency key of user %s still in progress after %ss", user_id, wait)
            raise IdempotencyInProgress(headers={"Retry-After": "1"}) from None
        raise
    return claimed


def _replay(session: Session, *, user_id: int, key: str, method: str, path: str, fingerprint: str) -> Response:
    row = session.scalars(
        sa.select(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    ).one()
    if (row.method, row.path, row.fingerprint) != (method, path, fingerprint):
        log.info(
            "idempotency key of user %s reused for %s %s (first: %s %s)", user_id, method, path, row.method, row.path
        )
        raise IdempotencyKeyReused(details={"first_request": f"{row.method} {row.path}"})
    if row.status is IdempotencyStatus.in_progress:
        # Only a view that committed on its own leaves a committed in-progress row; never run it twice.
        raise IdempotencyInProgress(headers={"Retry-After": "1"})
    log.info("idempotency key of user %s replayed for %s %s", user_id, method, path)
    return Response(
        row.response_body,
        status=row.response_status,
        headers={**(row.response_headers or {}), REPLAYED_HEADER: "true"},
    )


def request_fingerprint() -> str:
    """sha256 of what the request asks for: the query string and the body.

    JSON is compared as canonical JSON (key order and spacing do not matter); forms and uploads by their fields
    and each file's name, type and content digest (a retried multipart upload has a new boundary); anything else
    by its bytes. Method and path are stored beside the fingerprint and compared too.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(sorted(request.args.items(multi=True)), ensure_ascii=False).encode())
    digest.update(b"\n")
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        files = [
            [field, storage.filename or "", storage.mimetype, _stream_digest(storage.stream)]
            for field, storage in request.files.items(multi=True)
        ]
        form = {"form": sorted(request.form.items(multi=True)), "files": sorted(files)}
        digest.update(json.dumps(form, ensure_ascii=False).encode())
    else:
        body = request.get_data(cache=True)
        # Malformed JSON keeps its bytes as the fingerprint; the view's parser refuses it anyway.
        if request.is_json:
            with contextlib.suppress(ValueError, RecursionError):
                body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        digest.update(body)
    return digest.hexdigest()


def _stream_digest(stream: Any) -> str:
    position = stream.tell()
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(64 * 1024), b""):
        digest.update(chunk)
    stream.seek(position)  # the view reads the upload after us
    return digest.hexdigest()


@periodic("idempotency_cleanup", "17 3 * * *")  # daily at 03:17 Asia/Shanghai
def delete_expired_keys(slot: str = "") -> int:
    """Delete idempotency keys past their 24 hours (the outbox runs this inside ``atomic()``)."""
    deleted = db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at <= sa.func.now())).rowcount
    log.info("idempotency cleanup for slot %s deleted %s expired keys", slot, deleted)
    return deleted
