"""flask-limiter bound to Redis, falling back to memory when Redis is unreachable."""

from __future__ import annotations

from flask import Flask, g, request
from flask_limiter import Limiter


def rate_limit_key() -> str:
    """Per account when signed in, else per client address (after ProxyFix applied the trusted hops).

    The limiter's check runs before the view (and before ``authenticate_before_parsing``), so the token is read
    here: otherwise every resident behind one NAT would share one address's limit. A bad token counts by address
    (the request is refused with 401 right after)."""
    from app.auth.core import optional_user
    from app.errors import APIError

    user = getattr(g, "current_user", None)
    if user is None and request.headers.get("Authorization"):
        try:
            user = optional_user()
        except APIError:
            user = None
    if user is not None:
        return f"user:{user.id}"
    return f"ip:{request.remote_addr or 'unknown'}"


def storage_uri(redis_url: str) -> str:
    """limits spells unix-socket Redis as ``redis+unix://``; redis-py as ``unix://``."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


limiter = Limiter(key_func=rate_limit_key)


def init_limiter(app: Flask) -> None:
    timeout = app.config["REDIS_TIMEOUT"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(app.config["REDIS_URL"]))
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": timeout, "socket_connect_timeout": timeout})
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
