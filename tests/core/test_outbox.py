"""The outbox: durable, at-least-once delivery whose database effects happen once."""

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import redis as redis_lib
import sqlalchemy as sa
from rq import Queue

from app import outbox
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from tests.conftest import ROOT, race
from tests.core import outbox_jobs
from tests.core.outbox_jobs import COUNTERS_DDL, counter


@pytest.fixture
def counters(db):
    with atomic():  # committed to the test's savepoint, so a rolled-back unit of work keeps the table
        database.session.execute(sa.text(COUNTERS_DDL))
    return counter


@pytest.fixture
def committed_counters(committed_db):
    with database.engine.begin() as connection:
        connection.execute(sa.text(COUNTERS_DDL))
    yield counter
    database.session.remove()
    with database.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE test_counters"))


def rows() -> list[OutboxRow]:
    return database.session.scalars(sa.select(OutboxRow).order_by(OutboxRow.id)).all()


def make_due(row_id: int) -> None:
    with atomic():
        database.session.execute(sa.update(OutboxRow).where(OutboxRow.id == row_id).values(run_at=utcnow()))


def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(counters, run_jobs):
    with pytest.raises(RuntimeError), atomic():
        outbox.enqueue(outbox_jobs.increment, "rolled-back")
        raise RuntimeError("the order could not be placed")
    assert run_jobs()["pushed"] == 0
    assert rows() == []
    assert counters("rolled-back") == 0


def test_a_committed_job_runs_once(counters, run_jobs):
    with atomic():
        row_id = outbox.enqueue(outbox_jobs.increment, "committed")
    assert run_jobs()["pushed"] == 1
    assert counters("committed") == 1
    row = database.session.get(OutboxRow, row_id, populate_existing=True)
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.done, 1, None)
    # Running the relay again finds nothing to do.
    assert run_jobs()["pushed"] == 0
    assert counters("committed") == 1


def test_a_job_due_in_the_future_waits_until_due(counters, run_jobs):
    with atomic():
        row_id = outbox.enqueue(outbox_jobs.increment, "later", delay=timedelta(hours=1))
    assert run_jobs()["pushed"] == 0
    assert counters("later") == 0
    make_due(row_id)
    assert run_jobs()["pushed"] == 1
    assert counters("later") == 1


def test_a_dedup_key_enqueues_once(counters, run_jobs):
    with atomic():
        first = outbox.enqueue(outbox_jobs.increment, "keyed", key="reminder:order:1")
        second = outbox.enqueue(outbox_jobs.increment, "keyed", key="reminder:order:1")
    assert first is not None
    assert second is None
    run_jobs()
    assert counters("keyed") == 1


def test_enqueue_refuses_objects_and_unknown_jobs(db, make_user):
    user = make_user()
    with pytest.raises(TypeError, match="plain JSON"):
        outbox.enqueue(outbox_jobs.increment, user)
    with pytest.raises(ValueError, match="not a registered job"):
        outbox.enqueue(print, 1)


def test_a_job_that_keeps_failing_ends_dead_and_an_admin_can_retry_it(
    counters, run_jobs, client, make_user, auth_header
):
    with atomic():
        row_id = outbox.enqueue(outbox_jobs.always_fail, "doomed")
    for attempt in (1, 2, 3):
        make_due(row_id)
        run_jobs()
        row = database.session.get(OutboxRow, row_id, populate_existing=True)
        assert row.attempts == attempt
        assert "gateway said no for doomed" in row.last_error
    assert row.status is OutboxStatus.dead
    make_due(row_id)
    assert run_jobs()["pushed"] == 0  # dead rows are never pushed again by themselves

    admin = make_user("管理员", platform_roles=("admin",))
    listed = client.get("/api/v1/admin/jobs?status=dead", headers=auth_header(admin))
    assert listed.status_code == 200
    assert [job["id"] for job in listed.json] == [row_id]
    assert listed.json[0]["status"] == "dead"
    assert listed.json[0]["run_at"].endswith("+08:00")

    retried = client.post(f"/api/v1/admin/jobs/{row_id}/retry", headers=auth_header(admin))
    assert retried.status_code == 200
    assert (retried.json["status"], retried.json["attempts"]) == ("pending", 0)
    again = client.post(f"/api/v1/admin/jobs/{row_id}/retry", headers=auth_header(admin))
    assert again.status_code == 409  # a pending row with no new error is not "failed"
    assert client.post("/api/v1/admin/jobs/999999/retry", headers=auth_header(admin)).status_code == 404
    assert client.get("/api/v1/admin/jobs", headers=auth_header(make_user())).status_code == 403


def test_a_failed_attempt_is_retried_after_a_back_off(counters, run_jobs):
    with atomic():
        row_id = outbox.enqueue(outbox_jobs.always_fail, "backoff")
    run_jobs()
    row = database.session.get(OutboxRow, row_id, populate_existing=True)
    assert row.status is OutboxStatus.pending
    assert row.run_at > utcnow() + timedelta(seconds=5)
    assert run_jobs()["pushed"] == 0  # not before the back-off


def test_with_redis_stopped_at_commit_the_job_runs_once_redis_is_back(app, committed_counters, private_redis):
    connection = redis_lib.Redis.from_url(private_redis.url, socket_connect_timeout=0.2, socket_timeout=0.2)
    private_redis.stop()
    with atomic():  # the request's commit does not touch Redis at all
        row_id = outbox.enqueue(outbox_jobs.increment, "redis-down")
    result = outbox.relay_once(connection, periodic=False)
    assert result["redis_error"] == 1
    assert database.session.get(OutboxRow, row_id, populate_existing=True).status is OutboxStatus.pending

    private_redis.start()
    assert outbox.relay_once(connection, periodic=False)["pushed"] == 1
    outbox.make_worker(app, connection=connection).work(burst=True)
    assert committed_counters("redis-down") == 1
    assert database.session.get(OutboxRow, row_id, populate_existing=True).status is OutboxStatus.done
    connection.close()


def test_a_job_lost_with_a_redis_restart_is_pushed_again(app, committed_counters, private_redis):
    connection = redis_lib.Redis.from_url(private_redis.url, socket_connect_timeout=0.2, socket_timeout=0.2)
    with atomic():
        row_id = outbox.enqueue(outbox_jobs.increment, "restart")
    assert outbox.relay_once(connection, periodic=False)["pushed"] == 1
    private_redis.stop()  # the queued job is gone with the server (it keeps nothing on disk)
    private_redis.start()
    with atomic():
        database.session.execute(
            sa.update(OutboxRow).values(enqueued_at=utcnow() - timedelta(minutes=5)).where(OutboxRow.id == row_id)
        )
    assert outbox.relay_once(connection, periodic=False)["recovered"] == 1
    assert outbox.relay_once(connection, periodic=False)["pushed"] == 1
    outbox.make_worker(app, connection=connection).work(burst=True)
    row = database.session.get(OutboxRow, row_id, populate_existing=True)
    assert (row.status, row.attempts) == (OutboxStatus.done, 2)
    assert committed_counters("restart") == 1
    connection.close()


def test_a_job_delivered_to_two_workers_at_once_increments_once(app, committed_counters, redis):
    with atomic():
        row_id = outbox.enqueue(outbox_jobs.slow_increment, "twice", 0.3)
    outbox.push_due(redis)
    database.session.remove()
    outcomes = race(app, 2, lambda: outbox.execute_row(row_id, 1))
    # Without the row lock and the done check, both deliveries would increment.
    assert sorted(outcomes) == ["done", "skipped"]
    assert committed_counters("twice") == 1


def test_a_job_killed_mid_run_is_pushed_again_and_completes_once(app, committed_counters, redis, redis_url):
    with atomic():
        row_id = outbox.enqueue(outbox_jobs.slow_increment, "killed", 60)
    assert outbox.push_due(redis) == 1
    database.session.remove()
    config = {
        key: app.config[key]
        for key in (
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "FIELD_ENCRYPTION_KEYS",
            "LOOKUP_HASH_KEY",
            "INSTANCE_PATH",
        )
    }
    script = (
        "import json, os\n"
        "import tests.core.outbox_jobs\n"
        "from app import create_app\n"
        "from app.outbox import make_worker\n"
        "config = json.loads(os.environ['LINLI_TEST_CONFIG'])\n"
        "app = create_app({**config, 'EMBEDDED': False, 'DEMO_MODE': False, 'TESTING': True})\n"
        "make_worker(app).work(burst=True)\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "LINLI_TEST_CONFIG": json.dumps(config), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not redis.get("started:killed"):
            assert time.monotonic() < deadline, "the worker never started the job"
            assert worker.poll() is None, "the worker exited early"
            time.sleep(0.05)
    finally:
        worker.kill()
        worker.wait(timeout=10)

    # Its transaction died with it; once the row counts as lost, the relay pushes attempt 2.
    with atomic():
        database.session.execute(
            sa.update(OutboxRow).values(enqueued_at=utcnow() - timedelta(minutes=5)).where(OutboxRow.id == row_id)
        )
        # The second attempt need not sleep a minute: same job, same counter, no wait.
        database.session.execute(
            sa.text("UPDATE core_outbox SET args = CAST(:args AS jsonb) WHERE id = :id"),
            {"args": json.dumps(["killed", 0]), "id": row_id},
        )
    assert outbox.relay_once(redis, periodic=False)["recovered"] == 1
    assert outbox.relay_once(redis, periodic=False)["pushed"] == 1
    outbox.make_worker(app, connection=redis).work(burst=True)
    row = database.session.get(OutboxRow, row_id, populate_existing=True)
    assert (row.status, row.attempts) == (OutboxStatus.done, 2)
    assert committed_counters("killed") == 1


def test_two_relays_share_rows_without_double_pushes(app, committed_db, redis):
    with atomic():
        for number in range(300):
            outbox.enqueue(outbox_jobs.increment, f"share-{number}")
    database.session.remove()

    def relay() -> int:
        total = 0
        while count := outbox.push_due(redis, batch=50):
            total += count
        return total

    pushed = race(app, 2, relay)
    assert sum(pushed) == 300
    queue = Queue("default", connection=redis)
    assert queue.count == 300
    assert len(set(queue.job_ids)) == 300
    assert database.session.scalar(sa.select(sa.func.max(OutboxRow.attempts))) == 1


@pytest.fixture
def ticking_task(monkeypatch):
    # Alone in the registry: the domains' own periodic tasks would fire in these relays too.
    monkeypatch.setattr(outbox, "_periodic", {})

    @outbox.periodic("test_tick", "*/5 * * * *")
    def tick(slot: str) -> None:
        pass

    return tick


def test_a_periodic_task_fires_once_per_slot_with_two_relays(app, committed_db, ticking_task):
    from datetime import datetime

    from app.api import SHANGHAI

    now = datetime(2026, 11, 23, 9, 7, tzinfo=SHANGHAI)
    fired = race(app, 4, lambda: outbox.fire_periodic(now))
    assert sum(fired) == 1
    keys = database.session.scalars(sa.select(OutboxRow.key).where(OutboxRow.key.like("task:test_tick:%"))).all()
    assert keys == ["task:test_tick:2026-11-23T09:05:00+08:00"]
    assert outbox.fire_periodic(now + timedelta(minutes=1)) == 0  # same slot
    assert outbox.fire_periodic(now + timedelta(minutes=3)) == 1  # 09:10 slot
