"""The relay loop wakes on NOTIFY at commit, not on its poll timer."""

import threading
import time

import sqlalchemy as sa

from app import outbox
from app.db import atomic
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from tests.core import outbox_jobs


def status_of(row_id: int) -> OutboxStatus:
    with database.engine.connect() as connection:
        return OutboxStatus(connection.execute(sa.select(OutboxRow.status).where(OutboxRow.id == row_id)).scalar())


def test_the_relay_wakes_on_commit(app, committed_db, redis):
    stop = threading.Event()
    relay = threading.Thread(target=outbox.run_relay, args=(app,), kwargs={"stop": stop, "poll_seconds": 30})
    relay.start()
    try:
        time.sleep(0.5)  # let it LISTEN and finish its first pass
        with atomic():
            row_id = outbox.enqueue(outbox_jobs.increment, "woken")
        deadline = time.monotonic() + 10
        while status_of(row_id) is OutboxStatus.pending:
            assert time.monotonic() < deadline, "the relay did not wake on NOTIFY"
            time.sleep(0.05)
        assert status_of(row_id) is OutboxStatus.enqueued
        assert time.monotonic() < deadline - 5  # well before the 30 s poll
    finally:
        stop.set()
        with atomic():  # a last NOTIFY wakes the loop so it sees the stop flag
            outbox.enqueue(outbox_jobs.increment, "stop")
        relay.join(timeout=40)
    assert not relay.is_alive()


def notifications_after(commit) -> list:
    """The outbox NOTIFYs a listener receives for what ``commit()`` commits."""
    import psycopg

    from app.outbox import NOTIFY_CHANNEL, _libpq_url

    with psycopg.connect(_libpq_url(database.engine.url.render_as_string(hide_password=False)), autocommit=True) as c:
        c.execute(f"LISTEN {NOTIFY_CHANNEL}")
        commit()
        return list(c.notifies(timeout=0.5))


def test_only_a_row_due_now_wakes_the_relay(app, committed_db):
    from datetime import timedelta

    def later():
        with atomic():
            outbox.enqueue(outbox_jobs.increment, "later", delay=timedelta(minutes=15))

    def now():
        with atomic():
            outbox.enqueue(outbox_jobs.increment, "now")
            outbox.enqueue(outbox_jobs.increment, "now too")

    assert notifications_after(later) == []  # the poll finds it when due
    assert len(notifications_after(now)) == 1  # one per transaction


def test_the_relay_fires_periodic_slots_once_a_minute_not_once_a_pass(app, committed_db, redis, monkeypatch):
    passes: list[bool] = []
    busy, go = threading.Event(), threading.Event()
    real_relay_once = outbox.relay_once

    def relay_once(*args, **kwargs):
        passes.append(kwargs.get("periodic", True))
        if len(passes) == 2:  # the pass woken by the first commit: hold it while 20 more commit
            busy.set()
            go.wait(10)
        return real_relay_once(*args, **kwargs)

    monkeypatch.setattr(outbox, "relay_once", relay_once)
    stop = threading.Event()
    relay = threading.Thread(target=outbox.run_relay, args=(app,), kwargs={"stop": stop, "poll_seconds": 30})
    relay.start()
    try:
        time.sleep(0.5)  # first pass done, listening
        with atomic():
            outbox.enqueue(outbox_jobs.increment, "burst-trigger")
        assert busy.wait(10)
        for number in range(20):  # 20 commits, 20 NOTIFYs, while the relay is busy
            with atomic():
                last = outbox.enqueue(outbox_jobs.increment, f"burst-{number}")
        go.set()
        deadline = time.monotonic() + 10
        while status_of(last) is OutboxStatus.pending:
            assert time.monotonic() < deadline, "the relay did not push the burst"
            time.sleep(0.05)
        time.sleep(1)
        # The held pass pushes all 20; their NOTIFYs (read together) wake it once more. Periodic slots fire on the
        # first pass only (twice if a minute turned meanwhile): each firing inserts a row per task.
        assert len(passes) in (3, 4), passes
        assert passes[0] is True
        assert passes.count(True) <= 2, passes
    finally:
        stop.set()
        go.set()
        with atomic():
            outbox.enqueue(outbox_jobs.increment, "stop")
        relay.join(timeout=40)
    assert not relay.is_alive()
