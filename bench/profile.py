"""Per-request cost in process: CPU ms and SQL statements per request for each scenario and its ceiling.

CPU time (``time.process_time``) of one process calling the app through the Flask test client does not depend on
what else runs on the machine the way wall-clock throughput does, so this is the figure to compare before and after
a change (``make bench`` gives the throughput ratios). It builds its own database ``linli_profile`` (dropped first),
a dataset at ``--scale`` (0.1), and calls, with real tokens for ``--users`` residents:

- ``ok``, ``read``, ``write``: the ceilings of ``bench/ceilings.py``;
- ``browse``, ``detail``: ``GET /marketplace/products`` and ``/products/<id>`` (repeat callers: the steady state);
- ``order``: ``POST /marketplace/orders`` (one line), and ``soldout``: the same for a product with no stock (409).

    python -m bench.profile --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python -m bench.profile … --only write,order --pyinstrument order  # profile: instance/bench/profile-order.txt

``--pyinstrument`` needs ``pip install pyinstrument`` (in requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable

import sqlalchemy as sa

from bench import dataset
from bench.common import INSTANCE, fresh_app

SCENARIOS = ("ok", "read", "write", "browse", "detail", "order", "soldout")
#: The ceiling each scenario is compared with (the ratio printed is ceiling CPU ms / scenario CPU ms).
CEILING = {"browse": "read", "detail": "read", "order": "write", "soldout": "write"}


def profile_app(server_url: str, redis_url: str):
    from bench.ceilings import SCHEMA_SQL, blp

    app = fresh_app(server_url, redis_url, "linli_profile", extra_blueprints=(blp,), TRUSTED_PROXY_HOPS=1)
    engine = sa.create_engine(app.config["DATABASE_URL"])
    with engine.begin() as connection:
        for statement in SCHEMA_SQL.split(";\n"):
            if statement.strip():
                connection.exec_driver_sql(statement)
    return app, engine


def requests_for(app, engine: sa.Engine, users: int) -> dict[str, Callable[[int], object]]:
    """One callable per scenario: ``call(i)`` sends the i-th request and checks its status."""
    from bench.run import issue_tokens, shoppers

    buyers = shoppers(engine, users)
    tokens = issue_tokens(app, [user for user, _v, _p in buyers])
    rows = [(tokens[user], vendor, product) for user, vendor, product in buyers]
    vendor, soldout = rows[0][1], rows[0][2]
    with engine.begin() as connection:  # plenty of stock for orders; one product sold out
        connection.exec_driver_sql("UPDATE marketplace_products SET stock = 1000000")
        connection.exec_driver_sql("UPDATE marketplace_products SET stock = 0 WHERE public_id = %s", (soldout,))
    same_vendor = [row for row in rows if row[1] == vendor]
    in_stock = [row for row in rows if row[2] != soldout]
    client = app.test_client()

    def headers(row, i: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {row[0]}", "X-Forwarded-For": f"10.1.{i // 250 % 250}.{i % 250}"}

    def expect(response, status: int, name: str):
        if response.status_code != status:
            raise RuntimeError(f"{name}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return response

    def browse(i: int):
        row = rows[i % len(rows)]
        return expect(client.get("/api/v1/marketplace/products?limit=20", headers=headers(row, i)), 200, "browse")

    def detail(i: int):
        row = rows[i % len(rows)]
        return expect(client.get(f"/api/v1/marketplace/products/{row[2]}", headers=headers(row, i)), 200, "detail")

    def order(i: int):
        row = in_stock[i % len(in_stock)]
        body = {"vendor_id": row[1], "lines": [{"product_id": row[2], "quantity": 1}]}
        return expect(client.post("/api/v1/marketplace/orders", json=body, headers=headers(row, i)), 201, "order")

    def sold_out(i: int):
        row = same_vendor[i % len(same_vendor)]
        body = {"vendor_id": vendor, "lines": [{"product_id": soldout, "quantity": 1}]}
        return expect(client.post("/api/v1/marketplace/orders", json=body, headers=headers(row, i)), 409, "soldout")

    return {
        "ok": lambda i: expect(client.get("/bench/ok"), 200, "ok"),
        "read": lambda i: expect(client.get("/bench/read"), 200, "read"),
        "write": lambda i: expect(client.post("/bench/write", json={}), 201, "write"),
        "browse": browse,
        "detail": detail,
        "order": order,
        "soldout": sold_out,
    }


def measure(app, call: Callable[[int], object], count: int, *, warm: int = 50, profiler=None) -> tuple[float, float]:
    """(CPU ms per request, statements per request) over ``count`` requests after ``warm`` unmeasured ones."""
    from app.extensions import db

    statements = [0]

    def counted(*_args) -> None:
        statements[0] += 1

    for i in range(warm):
        call(i)
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", counted)
    try:
        if profiler is not None:
            profiler.start()
        started = time.process_time()
        for i in range(warm, warm + count):
            call(i)
        cpu = time.process_time() - started
        if profiler is not None:
            profiler.stop()
    finally:
        sa.event.remove(engine, "before_cursor_execute", counted)
    return cpu / count * 1000, statements[0] / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a server URL; the database linli_profile is made")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/15")
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--pyinstrument", default=None, help="a scenario to profile with pyinstrument")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    app, engine = profile_app(args.database_url, args.redis_url)
    dataset.generate(engine, scale=args.scale)
    calls = requests_for(app, engine, args.users)
    results: dict[str, tuple[float, float]] = {}
    for name in args.only.split(","):
        profiler = None
        if name == args.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
        results[name] = measure(app, calls[name], args.requests, profiler=profiler)
        cpu, statements = results[name]
        ceiling = results.get(CEILING.get(name, ""))
        ratio = f"  {ceiling[0] / cpu:4.2f}× the {CEILING[name]} ceiling's CPU" if ceiling else ""
        print(f"{name:>8}: {cpu:6.2f} CPU ms/request, {statements:5.2f} statements/request{ratio}")
        if profiler is not None:
            path = INSTANCE / f"profile-{name}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(profiler.output_text(unicode=False, color=False))
            print(f"{'':>10}profile: {path}")


if __name__ == "__main__":
    main()
