"""Login sessions: start one (a refresh-token family), rotate its refresh token, revoke it, list them."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, request

from app import audit, outbox
from app.accounts.models import User
from app.api import keyset_page
from app.auth.core import access_token_ttl, encode_access_token
from app.auth.errors import AccountDisabled, RefreshTokenInvalid, RefreshTokenReused, SessionNotFound
from app.auth.models import AuthSession, LoginMethod, RotatedRefreshToken
from app.auth.revocation import publish
from app.db import atomic, utcnow
from app.extensions import db

log = logging.getLogger(__name__)


def refresh_token_ttl() -> timedelta:
    return timedelta(days=int(current_app.config.get("REFRESH_TOKEN_DAYS", 30)))


def hash_refresh_token(token: str) -> str:
    # The token is 256 random bits: a plain SHA-256 cannot be reversed and needs no key (nor key rotation).
    return hashlib.sha256(token.encode()).hexdigest()


def _new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Tokens:
    """What a successful login or refresh gives the client."""

    user: User
    session: AuthSession
    access_token: str
    refresh_token: str
    #: True when this login created the account.
    created: bool = False

    @property
    def expires_in(self) -> int:
        return int(access_token_ttl().total_seconds())

    @property
    def refresh_expires_in(self) -> int:
        return int(refresh_token_ttl().total_seconds())


def _client_info() -> dict[str, Any]:
    if not has_request_context():
        return {"user_agent": None, "ip": None}
    agent = request.headers.get("User-Agent")
    return {"user_agent": agent[:256] if agent else None, "ip": request.remote_addr}


def start_session(user: User, method: LoginMethod) -> tuple[AuthSession, str]:
    """Start a session for ``user`` (flushed in the caller's transaction); return it and its refresh token."""
    refresh_token = _new_refresh_token()
    session = AuthSession(
        user_id=user.id,
        method=method,
        refresh_hash=hash_refresh_token(refresh_token),
        generation=1,
        expires_at=utcnow() + refresh_token_ttl(),
        **_client_info(),
    )
    db.session.add(session)
    db.session.flush()
    return session, refresh_token


def login(user: User, method: LoginMethod, *, created: bool = False) -> Tokens:
    """Sign ``user`` in: a new session and its tokens (inside the caller's unit of work).

    :raises AccountDisabled: the account is deactivated.
    """
    if not user.is_active:
        raise AccountDisabled()
    session, refresh_token = start_session(user, method)
    user.last_login_at = utcnow()
    log.info("user %s signed in by %s (session %s)", user.id, method.value, session.id)
    return Tokens(
        user, session, encode_access_token(user.public_id, session.public_id, user_id=user.id), refresh_token, created
    )


def refresh(refresh_token: str) -> Tokens:
    """Exchange a refresh token for new tokens; the old refresh token is dead from then on.

    One conditional UPDATE rotates the token, so of two concurrent refreshes with one token exactly one wins. The
    loser then finds its token among the rotated ones, which is how a replay looks too, and the session is revoked.

    :raises RefreshTokenReused: the token was already exchanged; the whole session is now revoked.
    :raises RefreshTokenInvalid: unknown, expired or revoked.
    """
    old_hash = hash_refresh_token(refresh_token)
    new_token = _new_refresh_token()
    now = utcnow()
    with atomic():
        rotated = db.session.execute(
            sa.update(AuthSession)
            .where(
                AuthSession.refresh_hash == old_hash,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .values(
                refresh_hash=hash_refresh_token(new_token),
                generation=AuthSession.generation + 1,
                last_used_at=now,
                expires_at=now + refresh_token_ttl(),
            )
            .returning(AuthSession.id)
        ).scalar()
        if rotated is not None:
            session = db.session.get(AuthSession, rotated, populate_existing=True)
            db.session.add(
                RotatedRefreshToken(session_id=session.id, token_hash=old_hash, generation=session.generation - 1)
            )
            user = db.session.get(User, session.user_id)
            if not user.is_active:
                _revoke(AuthSession.id == session.id, "account_disabled")
                outcome = "disabled"
            else:
                access = encode_access_token(user.public_id, session.public_id, user_id=user.id)
                return Tokens(user, session, access, new_token)
        else:
            reused_in = db.session.scalar(
                sa.select(RotatedRefreshToken.session_id).where(RotatedRefreshToken.token_hash == old_hash)
            )
            outcome = "invalid"
            if reused_in is not None:
                outcome = "reused"
                if _revoke(AuthSession.id == reused_in, "refresh_reused"):
                    audit.record("auth.refresh_token_reused", target=("auth_session", reused_in))
                    log.warning("refresh token replayed: session %s revoked", reused_in)
    # The revocation above is committed before the error goes out.
    if outcome == "reused":
        raise RefreshTokenReused()
    if outcome == "disabled":
        raise AccountDisabled()
    raise RefreshTokenInvalid()


def _revoke(condition: Any, reason: str) -> list[str]:
    """Revoke the live sessions matching ``condition`` (helper: flushes only); return their public ids."""
    sids = list(
        db.session.scalars(
            sa.update(AuthSession)
            .where(condition, AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoke_reason=reason)
            .returning(AuthSession.public_id)
        ).all()
    )
    publish(sids)
    return sids


def revoke_user_sessions(user_id: int, *, reason: str, keep: str | None = None) -> list[str]:
    """Revoke every live session of a user, except ``keep`` (a session public id). Joins the caller's unit of
    work (account linking, password change, account deletion)."""
    from app.auth.core import account_cache, forget_account

    condition = AuthSession.user_id == user_id
    if keep is not None:
        condition = sa.and_(condition, AuthSession.public_id != keep)
    with atomic():
        revoked = _revoke(condition, reason)
    if keep is None:  # every session gone (deleted, deactivated, merged): this process forgets the account at once
        account_cache().discard_values(lambda cached_id: cached_id == user_id)
        public_id = db.session.scalar(sa.select(User.public_id).where(User.id == user_id))
        if public_id is not None:
            # No process learns the account from Redis again: now, and after the commit (a request in between may
            # still read the row as active and share it anew).
            forget_account(public_id)
            sa.event.listen(db.session(), "after_commit", lambda _session: forget_account(public_id), once=True)
    return revoked


def logout(user: User, session_public_id: str, *, everywhere: bool = False) -> None:
    """End the caller's session (or all of their sessions)."""
    with atomic():
        if everywhere:
            sids = _revoke(AuthSession.user_id == user.id, "logout_everywhere")
        else:
            sids = _revoke(
                sa.and_(AuthSession.user_id == user.id, AuthSession.public_id == session_public_id), "logout"
            )
        log.info("user %s logged out of %s session(s)", user.id, len(sids))


def revoke_my_session(user: User, session_public_id: str) -> None:
    """Sign one of my devices out. Someone else's session, or none by that id, is 404 (and revoking an already
    revoked one of mine is fine).

    :raises SessionNotFound:
    """
    with atomic():
        owned = db.session.scalar(
            sa.select(AuthSession.id).where(AuthSession.public_id == session_public_id, AuthSession.user_id == user.id)
        )
        if owned is None:
            raise SessionNotFound()
        _revoke(AuthSession.id == owned, "revoked_by_user")


def list_my_sessions(user: User, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """My live sessions, newest first (keyset pages)."""
    query = sa.select(AuthSession).where(
        AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow()
    )
    return keyset_page(db.session, query, [AuthSession.created_at, AuthSession.public_id], cursor=cursor, limit=limit)


#: How long ended sessions and spent SMS codes are kept (for "my devices" history and support questions).
KEEP_ENDED_SESSIONS = timedelta(days=30)
KEEP_SMS_CODES = timedelta(days=2)


@outbox.periodic("auth_prune", "40 3 * * *")  # daily at 03:40 Asia/Shanghai
def prune_login_records(slot: str = "") -> dict[str, int]:
    """Delete sessions expired or revoked over 30 days ago (their rotated refresh tokens go with them), SMS codes
    older than 2 days, and lapsed password-failure counters."""
    from app.auth.models import PasswordFailure, SmsCode

    now = utcnow()
    ended = now - KEEP_ENDED_SESSIONS
    counts = {
        "sessions": db.session.execute(
            sa.delete(AuthSession).where(sa.or_(AuthSession.expires_at < ended, AuthSession.revoked_at < ended))
        ).rowcount,
        "sms_codes": db.session.execute(sa.delete(SmsCode).where(SmsCode.sent_at < now - KEEP_SMS_CODES)).rowcount,
        "password_failures": db.session.execute(
            sa.delete(PasswordFailure).where(
                PasswordFailure.last_failed_at < now - timedelta(days=1),
                sa.or_(PasswordFailure.locked_until.is_(None), PasswordFailure.locked_until < now),
            )
        ).rowcount,
    }
    log.info("pruned login records: %s", counts)
    return counts
