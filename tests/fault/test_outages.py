"""Fault matrix, outages: Redis stopped while orders are placed, and PostgreSQL backends killed under load.

Each test runs against its own servers or connections (a private redis-server; only this test database's own
backends are terminated), bounded in time.
"""

from __future__ import annotations

import threading
import time

import redis as redis_lib
import sqlalchemy as sa

from app import outbox
from app.auth import issue_access_token
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from app.push.models import InboxItem
from marketplace import orders
from marketplace.models import Order, OrderLine, OrderStatus
from tests.community.fixtures import build_tree
from tests.conftest import extra_app
from tests.marketplace.fixtures import add_product, build_market, stock_of

ORDERS = 200


def _drain(app, connection) -> int:
    pushed = 0
    for _ in range(20):
        result = outbox.relay_once(connection, periodic=False)
        pushed += result["pushed"]
        outbox.make_worker(app, connection=connection).work(burst=True)
        if not result["pushed"] and not result["recovered"]:
            break
    return pushed


def test_redis_stopped_while_orders_are_placed_loses_nothing(
    database_url, committed_db, private_redis, make_user, make_resident, join
):
    with extra_app(database_url, private_redis.url) as app:
        tree = build_tree()
        market = build_market(make_user, make_resident, join, tree)
        rice = add_product(market.vendor, "东北大米", stock=1000, category="粮油")
        body = {"vendor_id": market.vendor.public_id, "lines": [{"product_id": rice.public_id, "quantity": 2}]}

        private_redis.stop()
        started = time.monotonic()
        placed = [orders.place_order(market.user, body).public_id for _ in range(ORDERS)]
        assert time.monotonic() - started < 60, "placing orders waited on the stopped Redis"
        assert database.session.scalar(sa.select(sa.func.count()).select_from(Order)) == ORDERS
        assert stock_of(rice) == 1000 - 2 * ORDERS
        # Each order's first message reached its resident in the order's own transaction (no job, no Redis).
        assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == ORDERS
        # The unpaid orders' expiry jobs fall due (fast-forwarded) while Redis is still down: the relay cannot push
        # them, and they stay pending.
        with atomic():
            database.session.execute(sa.update(Order).values(expires_at=utcnow()))
            database.session.execute(
                sa.update(OutboxRow).where(OutboxRow.status == OutboxStatus.pending).values(run_at=utcnow())
            )
        connection = redis_lib.Redis.from_url(private_redis.url, socket_connect_timeout=0.2, socket_timeout=0.2)
        assert outbox.relay_once(connection, periodic=False)["redis_error"] == 1
        due = sa.select(sa.func.count()).select_from(OutboxRow).where(OutboxRow.status == OutboxStatus.pending)
        assert database.session.scalar(due) >= ORDERS

        # Redis is back: each order expires once, its stock returns once, its resident is told once.
        private_redis.start()
        assert _drain(app, connection) >= ORDERS
        statuses = database.session.scalars(
            sa.select(Order.status).where(Order.public_id.in_(placed)).execution_options(populate_existing=True)
        ).all()
        assert statuses == [OrderStatus.expired] * ORDERS
        assert stock_of(rice) == 1000
        pending = database.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxRow).where(OutboxRow.status != OutboxStatus.done)
        )
        assert pending == 0
        # Running everything again changes nothing.
        with atomic():
            database.session.execute(sa.update(OutboxRow).values(run_at=utcnow()))
        _drain(app, connection)
        assert stock_of(rice) == 1000
        assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 2 * ORDERS
        connection.close()


def test_backends_killed_under_load_give_clean_503s_and_no_half_written_orders(
    app, committed_db, make_user, make_resident, join
):
    tree = build_tree()
    market = build_market(make_user, make_resident, join, tree)
    eggs = add_product(market.vendor, "土鸡蛋", stock=500, category="蛋类")
    token = issue_access_token(market.user)
    body = {"vendor_id": market.vendor.public_id, "lines": [{"product_id": eggs.public_id, "quantity": 1}]}
    database_name = database.engine.url.database
    # This thread's session must not hold a connection into the storm (a request's session never outlives it).
    database.session.remove()
    killer_engine = sa.create_engine(
        database.engine.url.set(query={"application_name": "linli-fault-killer"}), isolation_level="AUTOCOMMIT"
    )
    stop = threading.Event()
    killed: list[int] = []
    terminated: set[int] = set()
    statuses: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def kill_backends() -> None:
        with killer_engine.connect() as connection:
            while not stop.is_set():
                rows = connection.execute(
                    sa.text(
                        "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :name AND application_name = 'linli' AND pid <> pg_backend_pid()"
                    ),
                    {"name": database_name},
                ).all()
                killed.append(len(rows))
                terminated.update(pid for pid, _ in rows)
                time.sleep(0.05)

    def buy() -> None:
        client = app.test_client()
        for _ in range(15):
            response = client.post(
                "/api/v1/marketplace/orders", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            with lock:
                statuses.append((response.status_code, (response.json or {}).get("code")))

    killer = threading.Thread(target=kill_backends)
    killer.start()
    buyers = [threading.Thread(target=buy) for _ in range(6)]
    for thread in buyers:
        thread.start()
    for thread in buyers:
        thread.join(timeout=120)
    stop.set()
    killer.join(timeout=10)
    # pg_terminate_backend only signals: wait until the last storm's backends have ended (their end has reached the
    # pool's sockets), as the pool can only replace a connection whose end it can see (app.db).
    deadline = time.monotonic() + 10
    with killer_engine.connect() as connection:
        while time.monotonic() < deadline:
            alive = connection.scalar(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"), {"pids": list(terminated)}
            )
            if not alive:
                break
            time.sleep(0.05)
    killer_engine.dispose()

    assert sum(killed) > 0, "no backend was terminated: the test proved nothing"
    unexpected = [s for s in statuses if s[0] != 201 and s != (503, "service_unavailable")]
    assert not unexpected, unexpected
    assert any(code == 503 for code, _ in statuses)

    # Recovered by itself: the next request works.
    response = app.test_client().post(
        "/api/v1/marketplace/orders", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.json

    # No half-written records: every order has its line, and stock + sold is what there was.
    with app.app_context():
        orders_count = database.session.scalar(sa.select(sa.func.count()).select_from(Order))
        lines = database.session.scalar(sa.select(sa.func.count()).select_from(OrderLine))
        sold = database.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(OrderLine.quantity), 0)))
        assert orders_count == lines == sold
        assert stock_of(eggs) + sold == 500
        # A backend killed during COMMIT leaves the client unsure (503) whether its order exists: that is what
        # Idempotency-Key retries are for. Never fewer orders than 201s, never more than attempts.
        created = sum(1 for code, _ in statuses if code == 201) + 1
        assert created <= orders_count <= len(statuses) + 1


def test_pooled_connections_the_server_ended_are_replaced_before_a_request_uses_them(
    app, committed_db, make_user, make_resident, join
):
    """No ``SELECT 1`` on checkout (``refuse_hung_up_connections``), yet a request never gets a connection whose
    backend was terminated while it sat in the pool: every request after the kill answers 200."""
    tree = build_tree()
    market = build_market(make_user, make_resident, join, tree)
    headers = {"Authorization": f"Bearer {issue_access_token(market.user)}"}
    database_name = database.engine.url.database
    database.session.remove()
    client = app.test_client()

    def backend_pids() -> set[int]:
        with killer_engine.connect() as connection:
            return set(
                connection.scalars(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = :name AND application_name = 'linli'"
                        " AND pid <> pg_backend_pid()"
                    ),
                    {"name": database_name},
                )
            )

    killer_engine = sa.create_engine(
        database.engine.url.set(query={"application_name": "linli-fault-killer"}), isolation_level="AUTOCOMMIT"
    )
    try:
        # Fill the pool with a few idle connections (threads hold them at once), then end every one of them.
        barrier = threading.Barrier(3)

        def read() -> None:
            with app.app_context():
                database.session.execute(sa.text("SELECT 1"))
                barrier.wait(timeout=10)
                database.session.remove()

        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in readers:
            thread.start()
        for thread in readers:
            thread.join(timeout=20)
        assert not any(thread.is_alive() for thread in readers)
        pooled = backend_pids()
        assert len(pooled) >= 3
        with killer_engine.connect() as connection:
            connection.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM unnest(:pids) AS pid"), {"pids": list(pooled)}
            )
        deadline = time.monotonic() + 10
        while backend_pids() & pooled and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not backend_pids() & pooled, "the terminated backends did not go away"

        refused: list[BaseException | None] = []

        def note_refused(_dbapi_connection, _record, error) -> None:
            refused.append(error)

        sa.event.listen(database.engine, "invalidate", note_refused)
        try:
            statuses = [client.get("/api/v1/marketplace/orders", headers=headers).status_code for _ in range(6)]
        finally:
            sa.event.remove(database.engine, "invalidate", note_refused)
        assert statuses == [200] * 6
        # The check refused the dead connections at checkout (not a failed statement, which would have been a 503).
        assert refused
        assert all(isinstance(error, sa.exc.DisconnectionError) for error in refused), refused
    finally:
        killer_engine.dispose()
