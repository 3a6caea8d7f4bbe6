"""The public catalogue (what residents browse) cached as ready JSON, per set of communities, in each process.

A resident's browse page or product detail depends only on the communities they may browse (their memberships and
registering community), the query and the host the image URLs name; so it is kept as response bytes under
``(version, host, communities, query)`` and served without a query, an ORM object or a marshmallow dump.

Invalidation is by version: ``marketplace:catalogue:version`` in Redis holds a random token, replaced after the
commit of any transaction that wrote a product, a vendor, the communities a vendor serves, a resident or a
household membership (ORM flushes and ORM ``UPDATE``/``DELETE`` statements on those tables, caught by session events
here, so no service has to remember to call anything). Every request reads the token (one Redis ``GET``), so a
changed price, a product taken off the shelf or a suspended vendor is seen by the next request in every process.

Two figures are not versioned and may lag by up to ``MARKETPLACE_CATALOGUE_CACHE_SECONDS`` (5 s): the ``stock`` a
page shows (orders take stock with one conditional ``UPDATE`` per product and must not empty every cache; placing
an order re-checks stock in that ``UPDATE``) and the ratings (reviews). When Redis is unreachable the cache is
bypassed (each request reads PostgreSQL); a version change written while it was down is bounded by the same lifetime.

A repeat caller's page is answered before the rate limiter, webargs and the view (:func:`early_answer`): the token
already verified in this process, its account and session known (``app.auth.core.known_caller``), one Redis round
trip that counts the request against the endpoint's limits and reads the version and the caller's communities as
another process shared them (and, every ``AUTH_REVOCATION_CACHE_SECONDS``, whether the session was revoked), then
the stored bytes. Pages are keyed by the raw path and query string, and only a query the view accepted (parsed and
validated by its schema) is ever stored, so the early answer validates nothing itself; anything else (a first
visit, a new query, a 4xx) takes the usual path.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, has_app_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db, redis_client
from app.ratelimit import hit_and_read
from app.ttlcache import TTLCache, app_cache, share, shared

log = logging.getLogger(__name__)

VERSION_KEY = "marketplace:catalogue:version"
DEFAULT_SECONDS = 5.0
#: How long a user's set of communities is kept (under the version: a membership change starts a new version).
SCOPE_SECONDS = 60.0
#: The session flag set by a flush or statement that changes what the catalogue shows.
_CHANGED = "marketplace_catalogue_changed"
#: The version :func:`early_answer` read for this request (WSGI environ), so the view reads it no second time.
_VERSION_READ = "linli.catalogue.version"


def cache() -> TTLCache:
    """The current app's cache of catalogue pages (response bytes)."""
    return app_cache("catalogue", max_entries=1000)


def scopes() -> TTLCache:
    """The current app's cache of callers' community sets, one entry per caller, apart from the pages: in one cache,
    every ~1,000 callers filled it and it was emptied, pages included, so that ~5 % of browse requests rebuilt a
    page from PostgreSQL (8–10 ms of CPU each: the slowest hundredth of them, ``BENCH_TIMING``)."""
    return app_cache("catalogue_scopes", max_entries=10_000)


def _seconds() -> float:
    return float(current_app.config.get("MARKETPLACE_CATALOGUE_CACHE_SECONDS", DEFAULT_SECONDS))


def current_version() -> str | None:
    """The catalogue's version token, or None when Redis is unreachable (then nothing is cached)."""

    def read(client) -> str:
        token = client.get(VERSION_KEY)
        if token is None:  # an empty Redis (restart, flush): start a new token, never reuse an old one
            client.set(VERSION_KEY, secrets.token_hex(8), nx=True)
            token = client.get(VERSION_KEY)
        return token.decode() if isinstance(token, bytes) else token

    return redis_client.call(read, default=None)


def bump_version() -> bool:
    """A new version token: every cached page is stale from now on, in every process."""
    return redis_client.call(lambda client: bool(client.set(VERSION_KEY, secrets.token_hex(8))), default=False)


@functools.cache
def _scope_query() -> sa.CompoundSelect:
    """Built once (a first visit then costs one statement and no statement construction)."""
    from app.accounts.resident_models import HouseholdMembership, MembershipStatus, Resident
    from app.community.models import Household

    user_id = sa.bindparam("user_id", type_=sa.BigInteger)
    members = (
        sa.select(Household.community_id)
        .join(HouseholdMembership, HouseholdMembership.household_id == Household.id)
        .join(Resident, Resident.id == HouseholdMembership.resident_id)
        .where(
            Resident.user_id == user_id,
            HouseholdMembership.status.in_([MembershipStatus.pending, MembershipStatus.active]),
        )
    )
    registered = sa.select(Resident.registered_community_id).where(
        Resident.user_id == user_id, Resident.registered_community_id.is_not(None)
    )
    return sa.union(members, registered)


def browsing_scope(user) -> frozenset[int]:
    """The communities whose catalogue ``user`` browses: their resident's active or pending memberships and the
    registering community (as ``Resident.scope_community_ids``), in one statement."""
    return frozenset(db.session.execute(_scope_query(), {"user_id": user.id}).scalars())


def _shared_scope_key(user_id: int) -> str:
    """The caller's communities shared between processes: ``share``'s ``<valid until>:<value>`` with the value
    ``<version>|<JSON ids>``; one key per account, read in the early answer's round trip with the version, and
    trusted only under that version."""
    return f"marketplace:catalogue:scope:{user_id}"


#: (account id, the shared-scope entry :func:`early_answer` read for it: ``b""`` when absent), in the WSGI environ,
#: so the view reads it no second time.
_SCOPE_READ = "linli.catalogue.scope"


def _scope(
    version: str, user_id: int, *, load: Callable[[], frozenset[int]] | None, raw: bytes | None = None
) -> frozenset[int] | None:
    """A caller's communities under ``version``: from this process, else from Redis (another process read them:
    ``raw`` when the caller already read the entry, else one ``GET``), else ``load()`` (then kept in both; None
    without ``load``). Kept under the version, which every membership change replaces; the lifetime bounds memory,
    and the staleness should a version bump be lost (Redis unreachable at that commit)."""
    known = scopes()
    communities = known.get((version, user_id))
    if communities is not None:
        return communities
    key = _shared_scope_key(user_id)
    if raw is None:
        raw = redis_client.call(lambda client: client.get(key), default=None)
    # A copy taken from Redis lives only for what is left of the entry, so no copy outlives SCOPE_SECONDS from its
    # read in PostgreSQL (should a version bump have been lost while Redis was unreachable).
    entry = shared(raw or None)
    written_under, _, ids = entry[0].partition("|") if entry is not None else ("", "", "")
    if entry is not None and written_under == version:
        communities, left = frozenset(json.loads(ids)), entry[1]
    elif load is not None:
        communities, left = load(), SCOPE_SECONDS
        share(key, f"{version}|{json.dumps(sorted(communities))}", SCOPE_SECONDS)
    else:
        return None
    known.put((version, user_id), communities, left)
    return communities


def cached_json(user, build: Callable[[frozenset[int]], Any], args: Mapping[str, Any]) -> Response:
    """The JSON response to the current request as ``user`` sees it: from the cache, else ``build(communities)``
    (returning what to serialise) dumped once and kept. An error ``build`` raises is not cached.

    Call it only once the request's arguments are validated (``args``, as the view parsed them): the page is kept
    under the raw path and query string, and :func:`early_answer` serves it again without validating them. A query
    naming a parameter the view does not take (which webargs ignores) is answered but not kept, so junk parameters
    cannot fill the cache and push everyone's pages out."""
    version = request.environ.get(_VERSION_READ) or current_version()
    if version is None:
        return _response(build(browsing_scope(user)))
    pages = cache()
    read_for, raw = request.environ.get(_SCOPE_READ, (None, None))
    communities = _scope(version, user.id, load=lambda: browsing_scope(user), raw=raw if read_for == user.id else None)
    key = _page_key(version, communities)
    body = pages.get(key)
    if body is None:
        body = _encode(build(communities))
        if request.args.keys() <= args.keys():
            pages.put(key, body, _seconds())
    return Response(body, status=200, mimetype="application/json")


def _page_key(version: str, communities: frozenset[int]) -> tuple:
    # The host and scheme name the image URLs a page carries (request.host_url, which costs more to build).
    return (version, request.scheme, request.host, request.root_path, communities, request.path, request.query_string)


def early_answer() -> Response | tuple | None:
    """A repeat GET of a catalogue page, answered before the limiter's hook and the view (see the module docstring);
    a 429 when the caller is over the endpoint's limits; None to take the usual path (which then neither counts the
    request again nor reads the version again)."""
    from app.auth.core import known_caller, optional_user
    from app.auth.revocation import READY_KEY, revoked_key
    from app.auth.revocation import cache as revocations
    from app.errors import APIError

    if request.method != "GET":
        return None
    caller = known_caller()
    if caller is None:  # a first visit to this process: the whole check, as the limiter's key function would make it
        try:
            user = optional_user() if request.headers.get("Authorization") else None
        except APIError:  # a bad, expired or revoked token: the usual path counts it by address and answers 401
            return None
        if user is None:
            return None
        caller = (user.id, "", False)
    user_id, sid, revoked = caller
    if revoked:  # the usual path answers 401 (and the limiter counts it by address)
        return None
    guard = {} if revoked is False else {"present": READY_KEY, "absent": revoked_key(sid)}
    counted = hit_and_read(user_id, [VERSION_KEY, _shared_scope_key(user_id)], **guard)
    if counted is None or counted.guarded:  # Redis unreachable, or revoked / not ready: nothing was counted
        return None
    if revoked is None:  # as ``is_revoked`` remembers a "not revoked" from a ready Redis
        revocations().put(sid, False, float(current_app.config["AUTH_REVOCATION_CACHE_SECONDS"]))
    if counted.refusal is not None:
        return counted.refusal
    token = counted.values[0]
    if token is None:  # an emptied Redis: the view starts a new token
        return None
    version = token.decode()
    request.environ[_VERSION_READ] = version
    raw = counted.values[1] or b""
    request.environ[_SCOPE_READ] = (user_id, raw)
    pages = cache()
    communities = _scope(version, user_id, load=None, raw=raw)
    body = pages.get(_page_key(version, communities)) if communities is not None else None
    if body is None:
        return None
    return Response(body, status=200, mimetype="application/json")


def _encode(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _response(data: Any) -> Response:
    return Response(_encode(data), status=200, mimetype="application/json")


# --- invalidation -------------------------------------------------------------------------------------------------


def _watched_tables() -> frozenset[str]:
    from app.accounts.resident_models import HouseholdMembership, Resident
    from marketplace.models import Product, Vendor, VendorCommunity

    return frozenset(m.__table__.name for m in (Product, Vendor, VendorCommunity, Resident, HouseholdMembership))


_WATCHED: frozenset[str] | None = None


def _watched(obj: Any) -> bool:
    global _WATCHED
    if _WATCHED is None:
        _WATCHED = _watched_tables()
    table = getattr(obj, "__table__", None)
    return table is not None and table.name in _WATCHED


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    if session.info.get(_CHANGED):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if _watched(obj) and (obj not in session.dirty or session.is_modified(obj, include_collections=False)):
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: Any) -> None:
    """ORM ``UPDATE``/``DELETE`` statements on a watched table, except stock-only updates of products."""
    if not (state.is_update or state.is_delete) or state.session.info.get(_CHANGED):
        return
    mapper = state.bind_mapper
    if mapper is None or not _watched(mapper.class_):
        return
    table = mapper.local_table.name
    if state.is_update and table == "marketplace_products":
        values = getattr(state.statement, "_values", None) or {}
        names = {getattr(column, "key", column) for column in values}
        if names <= {"stock", "updated_at"}:
            return
    state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    if session.info.pop(_CHANGED, False) and has_app_context() and not bump_version():
        log.warning("catalogue version not bumped (Redis unreachable): pages may lag by up to %.0f s", _seconds())


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CHANGED, None)
