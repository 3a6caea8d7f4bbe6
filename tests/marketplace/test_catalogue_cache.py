"""The public catalogue is served from a per-process cache of ready JSON, and every change that alters what a resident
sees (price, shelf, vendor status, the communities served, the resident's memberships) is seen by the next request,
in this process and in another one sharing the Redis."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from app.db import atomic
from app.extensions import db as database
from marketplace.models import Product, Vendor, VendorStatus
from tests.conftest import extra_app
from tests.marketplace.fixtures import M


def prices(response) -> dict[str, int]:
    assert response.status_code == 200, response.json
    return {item["name"]: item["price_fen"] for item in response.json["items"]}


def test_a_repeated_page_is_served_without_a_statement(market, auth_header, client, count_queries, redis):
    headers = auth_header(market.user)
    first = client.get(f"{M}/products", headers=headers)
    detail = client.get(f"{M}/products/{market.cabbage.public_id}", headers=headers)
    with count_queries() as statements:
        again = client.get(f"{M}/products", headers=headers)
        detail_again = client.get(f"{M}/products/{market.cabbage.public_id}", headers=headers)
    assert statements == []
    assert again.json == first.json
    assert detail_again.json == detail.json
    assert again.headers["Content-Type"] == "application/json"
    assert prices(again) == {"小白菜": 300, "五花肉": 1800}


def test_many_callers_do_not_push_a_page_out(app, market, auth_header, client, count_queries, redis, monkeypatch):
    """Each caller's communities are kept in this process too (one entry each): 1,500 callers since a page was
    built must not empty the cache of pages (they shared one cache, emptied when full: a page rebuilt for
    everyone, ~5 % of browse requests under load)."""
    from marketplace import catalogue_cache

    # Pages live 5 s by default: long enough here that only an eviction, not a slow machine, can drop the page.
    monkeypatch.setitem(app.config, "MARKETPLACE_CATALOGUE_CACHE_SECONDS", 300)
    headers = auth_header(market.user)
    first = client.get(f"{M}/products", headers=headers)
    with app.test_request_context():
        version = catalogue_cache.current_version()
        for caller in range(10_000_000, 10_001_500):  # as each caller's first request to this process keeps it
            catalogue_cache._scope(version, caller, load=lambda: frozenset({market.vendor.id}), raw=b"")
    with count_queries() as statements:
        again = client.get(f"{M}/products", headers=headers)
    assert statements == []
    assert again.json == first.json


def test_a_changed_price_is_seen_at_once(market, api, client, auth_header, redis):
    headers = auth_header(market.user)
    cabbage = f"{M}/products/{market.cabbage.public_id}"
    assert prices(client.get(f"{M}/products", headers=headers))["小白菜"] == 300
    assert client.get(cabbage, headers=headers).json["price_fen"] == 300

    edited = api(market.owner, "patch", f"{M}/vendor-products/{market.cabbage.public_id}", json={"price_fen": 350})
    assert edited.status_code == 200

    assert prices(client.get(f"{M}/products", headers=headers))["小白菜"] == 350
    assert client.get(cabbage, headers=headers).json["price_fen"] == 350


def test_another_process_sees_a_change_at_once(app, database_url, redis_url, market, client, auth_header, redis):
    """The other app keeps its own pages; the version token in the shared Redis tells it they are stale."""
    headers = auth_header(market.user)
    with extra_app(database_url, redis_url) as other:
        reader = other.test_client()
        assert prices(reader.get(f"{M}/products", headers=headers))["小白菜"] == 300
        with app.app_context(), atomic():  # a write in this process, through the ORM (no API call)
            database.session.get(Product, market.cabbage.id).price_fen = 420
        assert prices(reader.get(f"{M}/products", headers=headers))["小白菜"] == 420


def test_a_product_off_the_shelf_and_a_suspended_vendor_are_gone_at_once(market, client, auth_header, redis):
    headers = auth_header(market.user)
    pork = f"{M}/products/{market.pork.public_id}"
    assert client.get(pork, headers=headers).status_code == 200
    with atomic():
        database.session.get(Product, market.pork.id).on_shelf = False
    assert prices(client.get(f"{M}/products", headers=headers)) == {"小白菜": 300}
    assert client.get(pork, headers=headers).status_code == 404

    with atomic():  # a bulk UPDATE statement, not a flushed object
        database.session.execute(
            sa.update(Vendor).where(Vendor.id == market.vendor.id).values(status=VendorStatus.suspended)
        )
    assert prices(client.get(f"{M}/products", headers=headers)) == {}


def test_joining_another_community_shows_its_vendors_at_once(market, tree, make_user, join, client, auth_header, redis):
    from tests.marketplace.fixtures import add_product, add_vendor

    far = add_vendor(make_user("远方老板"), [tree.c], name="远方超市")
    add_product(far, "远方的菜", price_fen=900)
    headers = auth_header(market.user)
    assert "远方的菜" not in prices(client.get(f"{M}/products", headers=headers))
    join(market.resident, tree.rooms_c["101"])
    assert prices(client.get(f"{M}/products", headers=headers))["远方的菜"] == 900


def test_stock_taken_by_orders_keeps_the_pages(market, place, client, auth_header, redis, count_queries):
    """Orders take stock with a conditional UPDATE that does not empty the cache (stock may lag by the page's
    lifetime); the order itself is checked against the real stock."""
    headers = auth_header(market.user)
    client.get(f"{M}/products", headers=headers)
    assert place(market.user, market.vendor, [(market.cabbage, 2)]).status_code == 201
    with count_queries() as statements:
        client.get(f"{M}/products", headers=headers)
    assert statements == []


@contextmanager
def redis_round_trips(monkeypatch) -> Iterator[list[str]]:
    """The commands sent to Redis meanwhile, one entry per round trip (a pipeline or script counts once)."""
    import redis.connection

    sent: list[str] = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        packed = b"".join(command) if isinstance(command, list) else command
        sent.append(packed.split(b"\r\n")[2].decode())
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    yield sent
    monkeypatch.undo()


def test_a_repeat_page_is_answered_early_with_the_same_bytes_and_headers(
    market, auth_header, client, count_queries, redis, monkeypatch
):
    """The second request is answered before webargs and the view, from the bytes the view kept: one Redis round trip
    (the version read, with the rate limit counted in it when limits are on), no statement, the same answer."""
    headers = auth_header(market.user)
    for path in (f"{M}/products?limit=20", f"{M}/products/{market.cabbage.public_id}"):
        first = client.get(path, headers=headers)
        with count_queries() as statements, redis_round_trips(monkeypatch) as trips:
            again = client.get(path, headers=headers)
        assert (statements, len(trips)) == ([], 1)
        assert again.status_code == first.status_code == 200
        assert again.data == first.data
        assert sorted(again.headers.items()) == sorted(first.headers.items())


def test_queries_the_view_refuses_are_still_refused_after_pages_were_kept(market, auth_header, client, redis):
    """Only a query the view accepted is kept, so a repeat of a bad one is answered by the view again."""
    headers = auth_header(market.user)
    assert client.get(f"{M}/products?limit=20", headers=headers).status_code == 200
    for _ in range(2):
        refused = client.get(f"{M}/products?limit=abc", headers=headers)
        assert refused.status_code == 422
        assert refused.json["code"] == "validation_failed"
        assert client.get(f"{M}/products?sort=cheapest", headers=headers).status_code == 422
        assert client.get(f"{M}/products/nope", headers=headers).status_code == 404
    assert client.get(f"{M}/products?limit=1", headers=headers).json["next_cursor"] is not None
    assert client.get(f"{M}/products?limit=20", headers=headers).json["next_cursor"] is None
    # Without a token, or with a bad one, a kept page is not served.
    assert client.get(f"{M}/products?limit=20").status_code == 401
    assert client.get(f"{M}/products?limit=20", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_a_query_with_unknown_parameters_is_answered_but_not_kept(market, auth_header, client, count_queries, redis):
    """webargs ignores parameters the view does not take; keeping a page per junk query string would let one
    caller push everyone's pages out of the cache."""
    headers = auth_header(market.user)
    assert client.get(f"{M}/products?limit=20", headers=headers).status_code == 200  # kept
    for junk in range(3):
        answered = client.get(f"{M}/products?limit=20&x={junk}", headers=headers)
        assert prices(answered) == {"小白菜": 300, "五花肉": 1800}
        with count_queries() as statements:
            again = client.get(f"{M}/products?limit=20&x={junk}", headers=headers)
        assert statements  # the view ran again: nothing was kept for it
        assert again.get_data() == answered.get_data()
    with count_queries() as statements:
        assert client.get(f"{M}/products?limit=20", headers=headers).status_code == 200
    assert statements == []  # the valid page is still kept


def test_a_revoked_session_is_refused_a_kept_page(app, database_url, redis_url, market, client, auth_header, redis):
    """In the process that revoked it at once; in another one as soon as its revocation cache lets go (emptied here
    instead of waiting ``AUTH_REVOCATION_CACHE_SECONDS``): the early answer asks Redis in its one round trip."""
    from app.auth import revocation

    headers, other_headers = auth_header(market.user), auth_header(market.user)
    with extra_app(database_url, redis_url) as other:
        reader = other.test_client()
        assert [reader.get(f"{M}/products", headers=other_headers).status_code for _ in range(2)] == [200, 200]
        with app.app_context():
            assert [client.get(f"{M}/products", headers=headers).status_code for _ in range(2)] == [200, 200]
            assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
            assert client.post("/api/v1/auth/logout", headers=other_headers).status_code == 204
            assert client.get(f"{M}/products", headers=headers).status_code == 401
        revocation.cache().clear()
        refused = reader.get(f"{M}/products", headers=other_headers)
        assert refused.status_code == 401
        assert refused.json["details"]["reason"] == "session_revoked"


@contextmanager
def every_engines_statements() -> Iterator[list[str]]:
    """Statements any app in this process sends (``count_queries`` sees the test's own app only)."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", before)


def test_a_callers_communities_are_read_once_and_shared_with_other_processes(
    database_url, redis_url, market, client, auth_header, redis
):
    """A first visit to another process reads the caller's communities from Redis, not PostgreSQL."""
    headers = auth_header(market.user)
    first = client.get(f"{M}/products", headers=headers)
    with extra_app(database_url, redis_url) as other:
        reader = other.test_client()
        with every_engines_statements() as statements:
            again = reader.get(f"{M}/products", headers=headers)
        assert again.json == first.json
        assert [s for s in statements if "community_households" in s] == []
        # Without the shared entry, a process that already keeps the caller's communities reads nothing; a new
        # process (below) reads them once from PostgreSQL.
        for key in redis.scan_iter("marketplace:catalogue:scope:*"):
            redis.delete(key)
        with every_engines_statements() as statements:
            assert reader.get(f"{M}/products/{market.cabbage.public_id}", headers=headers).status_code == 200
        assert [s for s in statements if "community_households" in s] == [], "kept in the other process by now"
        with extra_app(database_url, redis_url) as third, every_engines_statements() as statements:
            assert third.test_client().get(f"{M}/products", headers=headers).json == first.json
        assert len([s for s in statements if "community_households" in s]) == 1


def test_a_shared_set_of_communities_is_trusted_only_for_what_is_left_of_its_lifetime(
    database_url, redis_url, market, client, auth_header, redis
):
    headers = auth_header(market.user)
    first = client.get(f"{M}/products", headers=headers)
    (key,) = list(redis.scan_iter("marketplace:catalogue:scope:*"))
    _until, _, ids = redis.get(key).decode().partition(":")
    redis.set(key, f"{int(time.time()) - 1}:{ids}", ex=60)  # read from PostgreSQL 61 s ago elsewhere
    with extra_app(database_url, redis_url) as other, every_engines_statements() as statements:
        assert other.test_client().get(f"{M}/products", headers=headers).json == first.json
    assert len([s for s in statements if "community_households" in s]) == 1


def test_a_shared_set_of_communities_written_under_an_earlier_version_is_read_again(
    database_url, redis_url, market, client, auth_header, redis
):
    """A membership change starts a new catalogue version: the communities another process shared before it are
    not trusted, and the entry is replaced under the new version."""
    from marketplace.catalogue_cache import bump_version, current_version

    headers = auth_header(market.user)
    first = client.get(f"{M}/products", headers=headers)
    (key,) = list(redis.scan_iter("marketplace:catalogue:scope:*"))
    assert redis.get(key).decode().partition(":")[2].startswith(f"{current_version()}|")
    bump_version()
    with extra_app(database_url, redis_url) as other, every_engines_statements() as statements:
        assert other.test_client().get(f"{M}/products", headers=headers).json == first.json
    assert len([s for s in statements if "community_households" in s]) == 1
    assert redis.get(key).decode().partition(":")[2].startswith(f"{current_version()}|")
