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
