"""Is this session revoked? Asked on every authenticated request; answered within seconds of a logout.

The answer comes from, in order:

1. a small in-process cache (``AUTH_REVOCATION_CACHE_SECONDS``, default 2 s, for "not revoked"; a revocation is
   cached for the access-token lifetime, it never comes undone);
2. Redis: ``revoked:<sid>`` exists (written at revocation, TTL = access-token lifetime + a minute), provided the
   marker ``revoked::ready`` exists too. The marker says Redis holds every recent revocation: an emptied Redis
   (restart, flush) lacks it, and then the first request rebuilds the keys from PostgreSQL;
3. PostgreSQL, the session row, whenever Redis is unreachable or not ready. The check is never skipped.

The longest a revoked session's access token keeps working is therefore the cache lifetime (2 s by default), in
every process. One gap remains and is bounded: a revocation made while Redis was unreachable is written to Redis
by an outbox job once Redis is back; until that job runs (seconds: the relay's next pass), a process that finds
Redis reachable and ready again trusts it. The access token's own lifetime (10 minutes) bounds every case.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app import outbox
from app.db import utcnow
from app.extensions import db, redis_client
from app.ttlcache import TTLCache, app_cache

log = logging.getLogger(__name__)

READY_KEY = "revoked::ready"
#: Keys outlive the longest access token by this margin (clock skew between processes).
KEY_MARGIN = timedelta(minutes=1)


def revoked_key(session_public_id: str) -> str:
    return f"revoked:{session_public_id}"


def _key_ttl() -> timedelta:
    from app.auth.core import access_token_ttl

    return access_token_ttl() + KEY_MARGIN


def cache() -> TTLCache:
    """The current app's sid → revoked cache."""
    return app_cache("revocation", max_entries=50_000)


_NOT_READY = "not-ready"


def _ask_redis(sid: str, also: str | None = None) -> tuple[bool | str | None, bytes | None]:
    """(revoked, ``_NOT_READY``, or None when Redis is unreachable; the value of the key ``also``): one ``MGET``."""

    def ask(client) -> tuple[bool | str, bytes | None]:
        ready, revoked, *value = client.mget([READY_KEY, revoked_key(sid), *([also] if also else [])])
        return (_NOT_READY if ready is None else revoked is not None), (value[0] if value else None)

    return redis_client.call(ask, default=(None, None))


def _ask_database(sid: str) -> bool:
    from app.auth.models import AuthSession

    revoked_at = db.session.execute(sa.select(AuthSession.revoked_at).where(AuthSession.public_id == sid)).one_or_none()
    # No row: the session was deleted (account removed); treat it as revoked.
    return revoked_at is None or revoked_at[0] is not None


def rebuild_redis() -> int:
    """Write every revocation still inside the key lifetime to Redis, then the ready marker.

    :return: how many keys were written (-1 when Redis is unreachable).
    """
    from app.auth.models import AuthSession

    since = utcnow() - _key_ttl()
    sids = db.session.scalars(sa.select(AuthSession.public_id).where(AuthSession.revoked_at > since)).all()
    ttl = int(_key_ttl().total_seconds())

    def write(client) -> int:
        pipe = client.pipeline(transaction=False)
        for sid in sids:
            pipe.set(revoked_key(sid), "1", ex=ttl)
        pipe.set(READY_KEY, utcnow().isoformat())
        pipe.execute()
        return len(sids)

    written = redis_client.call(write, default=-1)
    if written >= 0:
        log.info("revocation keys rebuilt in Redis from PostgreSQL: %s", written)
    return written


def is_revoked(sid: str) -> bool:
    """Whether the session ``sid`` (public id) is revoked; see the module docstring for where the answer comes from."""
    return check_session(sid)[0]


def check_session(sid: str, also: str | None = None) -> tuple[bool, bytes | None]:
    """Whether the session ``sid`` is revoked (as ``is_revoked``), and the value of the Redis key ``also`` read in the
    same round trip when Redis is asked (None when it is not: the session's answer was in this process's cache)."""
    known = cache().get(sid)
    if known is not None:
        value = redis_client.call(lambda client: client.get(also), default=None) if also else None
        return known, value
    answer, value = _ask_redis(sid, also)
    if answer is None or answer == _NOT_READY:
        revoked = _ask_database(sid)
        if answer == _NOT_READY:
            rebuild_redis()
    else:
        revoked = bool(answer)
    seconds = _key_ttl().total_seconds() if revoked else float(current_app.config["AUTH_REVOCATION_CACHE_SECONDS"])
    cache().put(sid, revoked, seconds)
    return revoked, value


def publish(sids: list[str]) -> None:
    """Announce revocations (their rows are already updated in the caller's transaction).

    Written to Redis before the transaction commits: should it then roll back, the session is refused for at most
    the key lifetime, the safe direction. When Redis is unreachable an outbox job writes the keys once it is back;
    meanwhile every process answers from PostgreSQL.
    """
    if not sids:
        return
    local = cache()
    seconds = _key_ttl().total_seconds()
    for sid in sids:
        local.put(sid, True, seconds)
    ttl = int(seconds)

    def write(client) -> bool:
        pipe = client.pipeline(transaction=False)
        for sid in sids:
            pipe.set(revoked_key(sid), "1", ex=ttl)
        pipe.execute()
        return True

    if not redis_client.call(write, default=False):
        outbox.enqueue(propagate_revocations, list(sids))
        log.warning("Redis unreachable: %s revocation(s) queued for Redis", len(sids))


@outbox.job(queue="default", timeout=30)
def propagate_revocations(sids: list[str]) -> None:
    """Write revocations made while Redis was unreachable (raises, and so retries, while it still is)."""
    ttl = int(_key_ttl().total_seconds())
    pipe = redis_client.client.pipeline(transaction=False)
    for sid in sids:
        pipe.set(revoked_key(sid), "1", ex=ttl)
    pipe.execute()
