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
    from flask_migrate import upgrade

    from app import create_app, embedded

    embedded.prepare_environment(INSTANCE)
    server = os.environ.get("BENCH_DATABASE_URL") or embedded.start_postgres(INSTANCE, database="postgres")
    redis_url = os.environ.get("BENCH_REDIS_URL") or embedded.start_redis(INSTANCE, name="redis-bench")
    base = sa.engine.make_url(server)
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text('DROP DATABASE IF EXISTS "linli_bench" WITH (FORCE)'))
        connection.execute(sa.text('CREATE DATABASE "linli_bench"'))
    admin.dispose()
    app = create_app(
        {
            "DATABASE_URL": base.set(database="linli_bench").render_as_string(hide_password=False),
            "REDIS_URL": redis_url,
            "EMBEDDED": False,
            "DEMO_MODE": False,
            "INSTANCE_PATH": str(INSTANCE),
            "SECRET_KEY": SECRET_KEY,
            "FIELD_ENCRYPTION_KEYS": "b1:" + "A" * 43 + "=",
            "LOOKUP_HASH_KEY": "A" * 43 + "=",
        }
    )
    with app.app_context():
        upgrade(revision="heads")
    return app
