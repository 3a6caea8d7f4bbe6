"""A benchmark app on its own database (created afresh, migrated), on the machine's or embedded servers."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance" / "bench"
#: Signs the tokens the runner issues in-process and the servers check: one value for both.
SECRET_KEY = "bench-" * 8


def bench_app():
    from app import embedded

    embedded.prepare_environment(INSTANCE)
    server = os.environ.get("BENCH_DATABASE_URL") or embedded.start_postgres(INSTANCE, database="postgres")
    redis_url = os.environ.get("BENCH_REDIS_URL") or embedded.start_redis(INSTANCE, name="redis-bench")
    return fresh_app(server, redis_url, "linli_bench")


def fresh_app(server_url: str, redis_url: str, database: str, *, extra_blueprints: tuple = (), **config):
    """An app on ``database`` of ``server_url``, dropped and created afresh, then migrated (production settings,
    the bench's keys; ``config`` adds or overrides settings)."""
    from flask_migrate import upgrade

    from app import create_app

    base = sa.engine.make_url(server_url)
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    app = create_app(
        {**settings(base.set(database=database).render_as_string(hide_password=False), redis_url), **config},
        extra_blueprints=extra_blueprints,
    )
    with app.app_context():
        upgrade(revision="heads")
    return app


def settings(database_url: str, redis_url: str) -> dict:
    """Production settings on the given servers, with the bench's keys (the runner signs tokens the servers check)."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMBEDDED": False,
        "DEMO_MODE": False,
        "INSTANCE_PATH": str(INSTANCE),
        "SECRET_KEY": SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": "b1:" + "A" * 43 + "=",
        "LOOKUP_HASH_KEY": "A" * 43 + "=",
    }
