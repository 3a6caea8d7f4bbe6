"""Role assignments, login sessions with their refresh tokens, SMS codes and password-failure counters."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id
from app.extensions import db


class RoleAssignment(db.Model):
    """``user`` holds ``role`` over ``scope_kind``/``scope_id`` (``platform`` has no id)."""

    __tablename__ = "auth_role_assignments"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "role", "scope_kind", "scope_id", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(32))
    scope_kind: Mapped[str] = mapped_column(sa.String(32))
    scope_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[created_at]


class LoginMethod(enum.Enum):
    wechat = "wechat"
    sms = "sms"
    password = "password"  # noqa: S105 -- the login method's name, not a secret
    dev = "dev"
    #: Issued by ``flask auth issue-token`` (operations, benchmarks) or by tests.
    issued = "issued"


class AuthSession(db.Model):
    """One signed-in device: a refresh-token family. Access tokens name it (``sid``) and die with it.

    Only the current refresh token's hash is kept here; earlier ones move to ``auth_rotated_refresh_tokens`` so a
    replayed one is recognised (and revokes the session).
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (
        sa.Index("ix_auth_sessions_revoked_at", "revoked_at", postgresql_where=sa.text("revoked_at IS NOT NULL")),
        sa.CheckConstraint("generation >= 1", name="generation_positive"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), index=True)
    method: Mapped[LoginMethod]
    #: SHA-256 (hex) of the current refresh token.
    refresh_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: 1 for the first refresh token, +1 on every rotation.
    generation: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[created_at]
    last_used_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    #: Sliding: each refresh moves it to now + REFRESH_TOKEN_DAYS.
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(32))
    user_agent: Mapped[str | None] = mapped_column(sa.String(256))
    ip: Mapped[str | None] = mapped_column(sa.String(64))


class RotatedRefreshToken(db.Model):
    """A refresh token that was already exchanged; presenting it again is a replay."""

    __tablename__ = "auth_rotated_refresh_tokens"

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    generation: Mapped[int]
    rotated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class SmsCode(db.Model):
    """One login code sent to a phone. Send limits are counted from these rows, so they hold without Redis."""

    __tablename__ = "auth_sms_codes"
    __table_args__ = (
        sa.Index("ix_auth_sms_codes_phone_sent_at", "phone", "sent_at"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: Mapped[intpk]
    #: E.164.
    phone: Mapped[str] = mapped_column(sa.String(20))
    #: HMAC-SHA256(SECRET_KEY, phone + ":" + code), hex; the code itself is never stored.
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    sent_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    expires_at: Mapped[datetime]
    #: Tries made against this code, right or wrong; at the limit the code is dead.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    used_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(sa.String(64))


class PasswordFailure(db.Model):
    """Consecutive failed password logins per username, whether or not the username exists (so a lockout
    message never reveals which usernames are real)."""

    __tablename__ = "auth_password_failures"

    username: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    last_failed_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    locked_until: Mapped[datetime | None]
