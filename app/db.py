"""Declarative base, shared column types, public ids and ``atomic()``, the re-entrant unit of work."""

from __future__ import annotations

import enum
import secrets
import select
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id() -> str:
    """A random, URL-safe id for resources that name a person's data; integer keys never leave the server."""
    return secrets.token_urlsafe(12)  # 16 characters, 96 bits


def _enum_values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


class Base(DeclarativeBase):
    # One registry carries the naming convention and the type map (Flask-SQLAlchemy subclasses this base, and
    # SQLAlchemy refuses a per-subclass type_annotation_map beside a registry).
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: sa.DateTime(timezone=True),
            # Enums are stored by value in a VARCHAR with a CHECK constraint: adding a member is a migration
            # that edits a constraint, not an ALTER TYPE that cannot run inside a transaction.
            enum.Enum: sa.Enum(
                enum.Enum,
                native_enum=False,
                values_callable=_enum_values,
                length=32,
                create_constraint=True,
                validate_strings=True,
            ),
            dict[str, Any]: JSONB,
        },
    )


intpk = Annotated[int, mapped_column(sa.BigInteger, primary_key=True)]
public_id = Annotated[str, mapped_column(sa.String(24), unique=True, default=new_public_id)]
created_at = Annotated[datetime, mapped_column(server_default=sa.func.now())]
updated_at = Annotated[datetime, mapped_column(server_default=sa.func.now(), onupdate=sa.func.now())]
money_fen = Annotated[int, mapped_column(sa.BigInteger)]


def refuse_hung_up_connections(engine: sa.Engine) -> None:
    """Check each pooled connection as it leaves the pool, without a round trip (instead of ``pool_pre_ping``).

    A connection idle in the pool has nothing to read: its server sends nothing until asked (so never ``LISTEN`` on
    a pooled connection: a notification would cost it a reconnect; the relay listens on a connection of its own).
    If its socket is readable, the server wrote unasked, which it does when it ends the session
    (``pg_terminate_backend``, a restart, ``idle_session_timeout``: a FATAL error, then the close), or the kernel
    saw the connection drop. Such a connection is discarded and the pool hands out another (``DisconnectionError``
    in a ``checkout`` listener, SQLAlchemy's documented pessimistic handling). ``pool_pre_ping`` found the same
    connections with a ``SELECT 1``: one more round trip on every checkout, i.e. on every request that reads the
    database. Neither sees an end that has not reached this side yet (a backend terminated a moment before the
    checkout) or a server that vanished without closing its side: the statement itself then fails (503).

    A connection just opened is not checked (as ``pool_pre_ping`` does not ping it): it was never idle, and the pool
    retries a refused checkout only once, so under a storm of terminations a check of the fresh replacement could
    exhaust the retries with an error that is no database error (500, not 503)."""
    sa.event.listen(engine, "connect", _mark_fresh)
    sa.event.listen(engine, "checkout", _refuse_if_hung_up)


def _mark_fresh(_dbapi_connection: Any, record: Any) -> None:
    record.info["linli_fresh"] = True


def _refuse_if_hung_up(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if record.info.pop("linli_fresh", False):
        return
    if dbapi_connection.closed:
        raise sa.exc.DisconnectionError("connection closed while in the pool")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    if poller.poll(0):  # readable (data or end of file), or hung up / in error: all mean the session is over
        raise sa.exc.DisconnectionError("the server ended this connection while it was in the pool")


def _session() -> Session:
    from app.extensions import db

    return db.session


@contextmanager
def atomic(*, savepoint: bool = False) -> Iterator[Session]:
    """The unit of work: the outermost block commits (or rolls back on error); nested blocks join it.

    A nested block runs in a SAVEPOINT only when ``savepoint=True``, so that its caller can catch its error and
    go on. Do not use ``session.begin()``: a lookup earlier in the request has already begun a transaction.
    """
    session = _session()
    depth = session.info.get("atomic_depth", 0)
    session.info["atomic_depth"] = depth + 1
    try:
        if depth == 0:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
        elif savepoint:
            with session.begin_nested():
                yield session
        else:
            yield session
    finally:
        session.info["atomic_depth"] = depth
