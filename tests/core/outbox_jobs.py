"""Jobs used by the outbox tests; importable so a worker in another process can run them."""

import time

import redis
import sqlalchemy as sa
from flask import current_app

from app import outbox
from app.extensions import db

COUNTERS_DDL = "CREATE TABLE IF NOT EXISTS test_counters (name text PRIMARY KEY, value integer NOT NULL)"


def counter(name: str) -> int:
    return db.session.execute(sa.text("SELECT value FROM test_counters WHERE name = :n"), {"n": name}).scalar() or 0


def _increment(name: str) -> None:
    # Deliberately not idempotent: only the outbox's claim-and-mark-done makes it run once.
    db.session.execute(
        sa.text(
            "INSERT INTO test_counters (name, value) VALUES (:n, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = test_counters.value + 1"
        ),
        {"n": name},
    )


@outbox.job()
def increment(name: str) -> None:
    _increment(name)


@outbox.job(timeout=120)
def slow_increment(name: str, seconds: float) -> None:
    # Tell the test we are inside the job (the transaction is not committed yet, so say it through Redis).
    redis.Redis.from_url(current_app.config["REDIS_URL"]).set(f"started:{name}", "1")
    time.sleep(seconds)
    _increment(name)


@outbox.job(max_attempts=3)
def always_fail(name: str) -> None:
    raise RuntimeError(f"gateway said no for {name}")
