"""flask-limiter bound to Redis, falling back to memory when Redis is unreachable.

Every limit answers 429 ``rate_limited`` with a Chinese message, ``details.retry_after`` and a ``Retry-After`` header,
like the limits counted in PostgreSQL (SMS per phone, password lockout, locker wrong codes). Keys: signed-in callers
by account, anonymous callers by client address (:func:`rate_limit_key`); login endpoints always by address
(``app.auth.routes.per_ip``). With Redis down each process counts in its own memory until Redis answers again.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, current_app, g, jsonify, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

log = logging.getLogger(__name__)


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


def _default_limit() -> str:
    return current_app.config["RATELIMIT_DEFAULT"]


#: flask-limiter keeps the default limits of the first app it is bound to; read per request from the current app's
#: config instead, so each app (a test's second app, a restart with other settings) gets its own ``RATELIMIT_DEFAULT``.
limiter = Limiter(key_func=rate_limit_key, default_limits=[_default_limit])


def limit_from_setting(setting: str):
    """A limit read from ``app.config[setting]`` (e.g. ``"10 per hour; 30 per day"``) at each request, keyed by
    :func:`rate_limit_key`. Put it below ``@require``/``@scoped`` so the caller is known and a refused login is not
    counted, and below ``@blp.arguments`` so a request that fails validation is not counted either."""
    return limiter.limit(lambda: current_app.config[setting])


def _retry_after(error: RateLimitExceeded) -> int:
    """Whole seconds until the breached window lets a request through again (at least 1)."""
    try:
        current = limiter.current_limit
        if current is not None and current.breached:
            return max(math.ceil(current.reset_at - time.time()), 1)
    except Exception:  # the storage went away between the check and here: the window length is a safe answer
        log.warning("rate limit window not readable; answering with its full length")
    return max(int(error.limit.limit.get_expiry()), 1)


def _rate_limited(error: RateLimitExceeded):
    from app.errors import HTTP_MESSAGES, error_body

    code, message = HTTP_MESSAGES[429]
    retry_after = _retry_after(error)
    log.info("rate limited: %s on %s (%s)", error.description, request.endpoint, request.method)
    return jsonify(error_body(code, message, {"retry_after": retry_after})), 429, {"Retry-After": str(retry_after)}


def init_limiter(app: Flask) -> None:
    timeout = app.config["REDIS_TIMEOUT"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(app.config["REDIS_URL"]))
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": timeout, "socket_connect_timeout": timeout})
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    # X-RateLimit-* on every answer cost two more Redis reads per request (flask-limiter reads the window after its
    # hit): about a tenth of a cached catalogue page. Clients get the wait from a 429's Retry-After and body instead.
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # flask-limiter would set Retry-After on every response it counts and rewrite the one a 429 of ours carries
    # (rounding it down, or up to its own window): its hint goes under this name, Retry-After only on refusals.
    app.config.setdefault("RATELIMIT_HEADER_RETRY_AFTER", "X-RateLimit-Retry-After")
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
    # flask-limiter keeps "storage dead" across init_app; the storage just bound has not failed (yet).
    limiter._storage_dead = False
    # Registered for the exception class (and so status 429): found before flask-smorest's HTTPException handler.
    app.register_error_handler(RateLimitExceeded, _rate_limited)
