"""Access tokens (short-lived JWT naming a session), the signed-in user, and ``require``, which also documents each
view's access rule."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from copy import deepcopy
from datetime import timedelta
from typing import Any

import jwt
import sqlalchemy as sa
from flask import current_app, g, request
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from app.db import utcnow
from app.errors import Forbidden, Unauthenticated
from app.extensions import db, redis_client
from app.ttlcache import TTLCache, app_cache, share
from app.ttlcache import shared as shared_entry

#: The longest an access token lives; ``ACCESS_TOKEN_MINUTES`` may shorten it, never lengthen it.
ACCESS_TOKEN_TTL = timedelta(minutes=10)


def access_token_ttl() -> timedelta:
    minutes = float(current_app.config.get("ACCESS_TOKEN_MINUTES", 10))
    return min(timedelta(minutes=minutes), ACCESS_TOKEN_TTL)


def encode_access_token(user_public_id: str, session_public_id: str, *, user_id: int | None = None) -> str:
    """A JWT (HS256) with ``sub`` = the user's public id, ``sid`` = the session's public id, ``typ`` = access.

    ``user_id`` (the account just signed in, so active) primes ``account_cache`` and its shared entry in Redis: the
    app's first requests after a sign-in, spread over every web process, then read no account row."""
    if user_id is not None:
        account_cache().put(user_public_id, user_id, ACCOUNT_CACHE_SECONDS)
        share_account(user_public_id, user_id)
    now = utcnow()
    claims = {
        "sub": user_public_id,
        "sid": session_public_id,
        "typ": "access",
        "iat": now,
        "exp": now + access_token_ttl(),
    }
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm="HS256")


def issue_access_token(user, *, session=None) -> str:
    """An access token for ``user`` in ``session``; without one, a new session is started (method ``issued``)
    in the caller's transaction. Tests and ``flask auth issue-token`` use this."""
    if session is None:
        from app.auth.models import LoginMethod
        from app.auth.sessions import start_session

        session, _refresh = start_session(user, LoginMethod.issued)
    # Only an active account primes the cache (a token issued by hand for a deactivated one must still be refused).
    return encode_access_token(user.public_id, session.public_id, user_id=user.id if user.is_active else None)


#: How long a process remembers that an account (by public id) exists and is active, so that a signed-in request
#: reads no account row. Deactivating an account revokes its sessions (``revoke_user_sessions``), which every
#: process sees within ``AUTH_REVOCATION_CACHE_SECONDS``; this bound only covers a deactivation that did not.
ACCOUNT_CACHE_SECONDS = 60.0


def account_cache() -> TTLCache:
    """The current app's user public id → user id cache (``ACCOUNT_CACHE_SECONDS`` per entry)."""
    return app_cache("account", max_entries=20_000)


def account_key(public_id: str) -> str:
    """The Redis key that shares ``account_cache``'s entries between processes (same lifetime): a caller's first
    request to a process reads its account id there, in the revocation check's round trip, instead of a SELECT."""
    return f"linli:account:{public_id}"


def share_account(public_id: str, user_id: int) -> None:
    """Share an account just read as active (see ``_signed_in_user``); best effort."""
    share(account_key(public_id), str(user_id), ACCOUNT_CACHE_SECONDS)


def forget_account(public_id: str) -> None:
    """Drop an account from every process's shared entry (this process's own is dropped by the caller)."""
    redis_client.call(lambda client: client.delete(account_key(public_id)), default=None)


def _signed_in_user(public_id: str, shared: bytes | None = None):
    """The account a valid, unrevoked token names, as a ``User`` in the current session.

    The row is not read on every request: the account's id comes from ``account_cache``, else from its shared entry
    in Redis (``shared``, read with the session's revocation), else from PostgreSQL (then shared); the ``User`` is
    put into the session with only ``id`` and ``public_id`` loaded; any other attribute a view reads loads the row
    then (one SELECT by primary key, fresh from the database)."""
    from app.accounts.models import User

    user_id = account_cache().get(public_id)
    entry = shared_entry(shared) if user_id is None else None
    if entry is not None:
        # Kept here only for what is left of the entry's lifetime, so an account is never trusted longer than
        # ACCOUNT_CACHE_SECONDS after it was read from PostgreSQL.
        user_id = int(entry[0])
        account_cache().put(public_id, user_id, entry[1])
    if user_id is None:
        user_id = db.session.scalar(sa.select(User.id).where(User.public_id == public_id, User.is_active))
        if user_id is None:
            raise Unauthenticated("账号不存在或已停用", details={"reason": "user_inactive"})
        account_cache().put(public_id, user_id, ACCOUNT_CACHE_SECONDS)
        share_account(public_id, user_id)
    present = db.session.identity_map.get(identity_key(User, user_id))
    if present is not None:
        return present
    user = User(id=user_id, public_id=public_id)
    make_transient_to_detached(user)  # persistent once added; every other column unloaded, loaded on first use
    db.session.add(user)
    return user


def _verified_claims(token: str) -> dict[str, Any]:
    """The claims of a valid access token. A token verified once is remembered (by its exact text, until its
    ``exp``), so a caller's next requests skip the signature check; expiry is still checked on every request."""
    verified = current_app.extensions.setdefault("linli_verified_tokens", {})
    claims = verified.get(token)
    if claims is not None:
        if claims["exp"] <= time.time():
            raise Unauthenticated("登录已过期，请重新登录", details={"reason": "token_expired"})
        return claims
    try:
        claims = jwt.decode(
            token,
            current_app.config["SECRET_KEY"],
            algorithms=["HS256"],
            options={"require": ["sub", "sid", "exp", "iat", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("登录已过期，请重新登录", details={"reason": "token_expired"}) from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("登录凭证无效", details={"reason": "token_invalid"}) from None
    if claims.get("typ") != "access" or not isinstance(claims.get("sid"), str) or not isinstance(claims["exp"], int):
        raise Unauthenticated("登录凭证无效", details={"reason": "token_invalid"})
    if len(verified) >= 10_000:  # bounded (~10 MB): a full cache is emptied, each caller verifies once more
        verified.clear()
    verified[token] = claims
    return claims


def _user_from_token(token: str):
    from app.auth.revocation import check_session, is_revoked

    claims = _verified_claims(token)
    if account_cache().get(claims["sub"]) is not None:
        revoked, shared = is_revoked(claims["sid"]), None
    else:
        revoked, shared = check_session(claims["sid"], also=account_key(claims["sub"]))
    if revoked:
        raise Unauthenticated("登录已失效，请重新登录", details={"reason": "session_revoked"})
    user = _signed_in_user(claims["sub"], shared)
    g.current_session_id = claims["sid"]
    return user


def known_caller() -> tuple[int, str, bool | None] | None:
    """``(account id, session id, revoked)`` for the request's bearer token when this process has verified that
    token and knows its account (no I/O, no ``User``); ``revoked`` is the revocation cache's answer (None: not known,
    ask). None when there is no such token, or it has expired: take the usual path (``optional_user``)."""
    from app.auth.revocation import cache as revocations

    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    claims = current_app.extensions.get("linli_verified_tokens", {}).get(token.strip())
    if scheme.lower() != "bearer" or claims is None or claims["exp"] <= time.time():
        return None
    user_id = account_cache().get(claims["sub"])
    if user_id is None:
        return None
    return user_id, claims["sid"], revocations().get(claims["sid"])


def forget_current_user() -> None:
    """Called before each request: ``g`` lives on the app context, which tests share across requests."""
    g.pop("current_user", None)
    g.pop("current_session_id", None)


def access_rule_of_request() -> dict[str, Any] | None:
    """The ``x-access`` rule declared (by ``require``/``scoped``) on the view the current request is routed to."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    method = request.method.lower()
    if view_class is not None:
        view = getattr(view_class, "get" if method == "head" else method, None)
    return getattr(view, "_apidoc", {}).get("manual_doc", {}).get("x-access")


def authenticate_before_parsing() -> None:
    """Called before each request: a protected view answers 401 to a missing, expired or tampered token before
    anything else looks at the request, so an anonymous caller learns nothing from validation errors (422) or
    idempotency replays, and every protected endpoint fails the same way without a token."""
    if request.method == "OPTIONS":
        return
    rule = access_rule_of_request()
    if rule is not None and not rule.get("public") and optional_user() is None:
        raise Unauthenticated(details={"reason": "login_required"})


def optional_user():
    """The signed-in user, or None; a malformed token is still an error (never silently anonymous)."""
    if "current_user" not in g:
        header = request.headers.get("Authorization", "")
        if not header:
            g.current_user = None
        else:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("登录凭证格式应为 Bearer <token>", details={"reason": "token_invalid"})
            g.current_user = _user_from_token(token.strip())
    return g.current_user


def current_user():
    user = optional_user()
    if user is None:
        raise Unauthenticated()
    return user


def current_session_id() -> str:
    """The public id of the session the current request's access token belongs to."""
    current_user()
    return g.current_session_id


def has_platform_role(user, *roles: str) -> bool:
    from app.auth.models import RoleAssignment

    return db.session.scalar(
        sa.select(
            sa.exists().where(
                RoleAssignment.user_id == user.id,
                RoleAssignment.scope_kind == "platform",
                RoleAssignment.role.in_(roles),
            )
        )
    )


def require(*platform_roles: str, public: bool = False) -> Callable:
    """Declare and enforce who may call a view.

    ``require()`` — any signed-in account; ``require("admin")`` — a platform admin; ``require(public=True)`` — no
    sign-in. The rule is written into the OpenAPI operation as ``x-access`` so tests can read it from the spec.
    """
    rule: dict[str, Any] = {"public": public, "platform_roles": list(platform_roles)}

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not public:
                user = current_user()
                if platform_roles and not has_platform_role(user, *platform_roles):
                    raise Forbidden()
            return view(*args, **kwargs)

        wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))
        manual = wrapper._apidoc.setdefault("manual_doc", {})
        manual["x-access"] = rule
        if not public:
            manual["security"] = [{"bearerAuth": []}]
        return wrapper

    return decorator
