"""flask-limiter bound to Redis, falling back to memory when Redis is unreachable.

Every limit answers 429 ``rate_limited`` with a Chinese message, ``details.retry_after`` and a ``Retry-After`` header,
like the limits counted in PostgreSQL (SMS per phone, password lockout, locker wrong codes). Keys: signed-in callers
by account, anonymous callers by client address (:func:`rate_limit_key`); login endpoints always by address
(``app.auth.routes.per_ip``). With Redis down each process counts in its own memory until Redis answers again.

Early answers (:func:`register_early_answer`): a view whose answer is usually ready in memory (the catalogue pages)
may answer before flask-limiter's hook, counting the endpoint's limits itself with :func:`hit_and_read` in the same
Redis round trip as the reads its cache needs. The counting is flask-limiter's own: the same limits, keys and fixed
windows (``limits``' increment-and-expire, stopping at the first breached window), so both paths share one budget;
a request counted there is skipped by flask-limiter's hook when it goes on to the view.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, g, jsonify, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_qualified_name
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

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


def _refusal(retry_after: int):
    from app.errors import HTTP_MESSAGES, error_body

    code, message = HTTP_MESSAGES[429]
    return jsonify(error_body(code, message, {"retry_after": retry_after})), 429, {"Retry-After": str(retry_after)}


def _rate_limited(error: RateLimitExceeded):
    log.info("rate limited: %s on %s (%s)", error.description, request.endpoint, request.method)
    return _refusal(_retry_after(error))


# --- early answers ------------------------------------------------------------------------------------------------

#: Set in the WSGI environ of a request whose limits :func:`hit_and_read` counted (per request, never on ``g``,
#: which tests share across requests).
COUNTED = "linli.ratelimit.counted"

#: endpoint → a function answering the request before flask-limiter's hook (a response), or None to go on as usual.
_EARLY: dict[str, Callable[[], object]] = {}


def register_early_answer(endpoint: str, answer: Callable[[], object]) -> None:
    """Let ``answer`` run first for ``endpoint`` (after ``forget_current_user``, before the limiter's hook).

    It must count the request with :func:`hit_and_read` before answering, and return None to go on to the view."""
    _EARLY[endpoint] = answer


def _early_answer():
    answer = _EARLY.get(request.endpoint or "")
    return answer() if answer is not None else None


@limiter.request_filter
def _counted_already() -> bool:
    return bool(request.environ.get(COUNTED))


@dataclass(frozen=True)
class _Window:
    """One of flask-limiter's limits for an endpoint, as :func:`hit_and_read` counts it."""

    key_parts: tuple[str, ...]  # the identifiers before the caller's key (limiter key prefix)
    scope: str
    item: object  # limits.RateLimitItem

    def redis_key(self, storage: RedisStorage, caller: str) -> str:
        return storage.prefixed_key(self.item.key_for(*self.key_parts, caller, self.scope))


def _windows(endpoint: str) -> list[_Window] | None:
    """The limits flask-limiter's hook would count for a GET of ``endpoint`` by a signed-in caller (sorted as it
    sorts them), or None when they are not plain per-account fixed windows this module can count the same way."""
    app = current_app
    resolved = app.extensions.setdefault("linli_early_windows", {})
    cache_key = (endpoint, app.config.get("RATELIMIT_DEFAULT"))
    if cache_key not in resolved:
        resolved[cache_key] = _resolve_windows(app, endpoint)
    return resolved[cache_key]


def _resolve_windows(app: Flask, endpoint: str) -> list[_Window] | None:
    manager = limiter.limit_manager
    view = app.view_functions.get(endpoint)
    name = get_qualified_name(view) if view else ""
    marked = name in limiter._marked_for_limiting or manager.has_hints(endpoint)
    if marked:
        # A view with limits of its own: flask-limiter counts them in its decorator, where resolving them here (in
        # middleware mode) finds none; counting nothing here and skipping the decorator would lose them.
        return None
    defaults, decorated = manager.resolve_limits(app, endpoint, request.blueprint, name, True, marked)
    limits = list(dict.fromkeys([*defaults, *decorated]))
    if (
        limiter._meta_limits
        or not limiter._fail_on_first_breach
        or any(
            lim.key_func is not rate_limit_key
            or lim.exempt_when
            or lim.deduct_when
            or lim.per_method
            or lim.methods is not None
            or lim.cost != 1
            or lim.shared
            or callable(lim.scope)
            for lim in limits
        )
    ):
        return None
    prefix = (limiter._key_prefix,) if limiter._key_prefix else ()
    return [_Window(prefix, lim.scope_for(endpoint, "GET"), lim.limit) for lim in sorted(limits, key=lambda x: x.limit)]


@dataclass(frozen=True)
class Counted:
    """What :func:`hit_and_read` found: ``guarded`` (a guard failed: nothing counted, nothing read), else the values
    read and, when a window is breached, the answer to send (429)."""

    guarded: bool
    values: tuple[bytes | None, ...] = ()
    refusal: object | None = None


#: KEYS: guard_present, guard_absent, reads…, windows…; ARGV: guarded (0/1), number of reads, then per window its
#: amount and expiry. The windows are ``limits``' incr_expire.lua, one after another, stopping at the first breach.
_SCRIPT = """
if ARGV[1] == "1" then
    if redis.call("exists", KEYS[1]) == 0 or redis.call("exists", KEYS[2]) == 1 then
        return {1}
    end
end
local reads = tonumber(ARGV[2])
local answer = {0, 0, 0}
for i = 1, reads do
    answer[3 + i] = redis.call("get", KEYS[2 + i])
end
local window = 0
for k = 3 + reads, #KEYS do
    window = window + 1
    local current = redis.call("incrby", KEYS[k], 1)
    if current == 1 then
        redis.call("expire", KEYS[k], ARGV[2 + 2 * window])
    end
    if current > tonumber(ARGV[1 + 2 * window]) then
        answer[2] = window
        answer[3] = redis.call("ttl", KEYS[k])
        break
    end
end
return answer
"""


def _same_server(theirs, ours) -> bool:
    """Whether the limiter's connection and ours reach the same Redis database (tests bind the process-wide limiter
    to one app after another)."""
    theirs, ours = theirs.connection_pool.connection_kwargs, ours.connection_pool.connection_kwargs
    return all(theirs.get(name) == ours.get(name) for name in ("host", "port", "path", "db"))


def hit_and_read(
    user_id: int, reads: list[str], *, present: str | None = None, absent: str | None = None
) -> Counted | None:
    """Count the current request against its endpoint's limits for account ``user_id`` (key ``user:<id>``, as
    :func:`rate_limit_key` names a signed-in caller) and read the keys ``reads``, in one Redis round trip.

    With ``present``/``absent`` (e.g. the revocation ready marker and a session's key) nothing is counted or read
    unless ``present`` exists and ``absent`` does not (``guarded``).

    :return: None when this cannot count as flask-limiter would (Redis unreachable or not the limiter's storage, the
        limiter counting in memory, limits of another kind): nothing was counted, go on as usual.
    """
    from app.extensions import redis_client

    windows: list[_Window] = []
    storage = None
    if limiter.enabled and limiter.initialized:
        storage = limiter._storage
        if (
            limiter._storage_dead
            or not isinstance(storage, RedisStorage)
            or not isinstance(limiter.limiter, FixedWindowRateLimiter)
            or not _same_server(storage.storage, redis_client.client)
        ):
            return None
        windows = _windows(request.endpoint or "")
        if windows is None:
            return None
    caller = f"user:{user_id}"
    guarded = present is not None and absent is not None
    keys = [present or "", absent or "", *reads, *(w.redis_key(storage, caller) for w in windows)]
    args: list[object] = [1 if guarded else 0, len(reads)]
    for window in windows:
        args += [window.item.amount, window.item.get_expiry()]

    def run(client):
        script = current_app.extensions.get("linli_hit_and_read")
        if script is None:
            script = current_app.extensions["linli_hit_and_read"] = client.register_script(_SCRIPT)
        return script(keys=keys, args=args, client=client)

    answer = redis_client.call(run, default=None)
    if answer is None:
        return None
    if answer[0] == 1:
        return Counted(guarded=True)
    request.environ[COUNTED] = True
    refusal = None
    if answer[1]:
        window = windows[answer[1] - 1]
        log.info("rate limited: %s on %s (%s)", window.item, request.endpoint, request.method)
        refusal = _refusal(max(int(answer[2]), 1))
    return Counted(guarded=False, values=tuple(answer[3:]), refusal=refusal)


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
    # Before the limiter's own hook: an early answer counts the request itself, in the round trip its cache needs.
    app.before_request(_early_answer)
    limiter.init_app(app)
    # flask-limiter keeps "storage dead" across init_app; the storage just bound has not failed (yet).
    limiter._storage_dead = False
    # Registered for the exception class (and so status 429): found before flask-smorest's HTTPException handler.
    app.register_error_handler(RateLimitExceeded, _rate_limited)
