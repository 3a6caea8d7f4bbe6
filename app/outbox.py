"""The durable job outbox: the outbox row is the schedule.

``enqueue(job, *args, run_at=…, key=…)`` inserts a row in the caller's transaction and NOTIFYs; nothing touches
Redis inside a request. The relay takes due rows with ``FOR UPDATE SKIP LOCKED``, pushes them to RQ as
``outbox-<id>-<attempt>`` and marks them ``enqueued``. A job claims its row ``FOR UPDATE``, does its work and
marks the row ``done`` in the same transaction, so a second delivery finds it done. Failed or lost rows go back
to ``pending`` with a back-off and end ``dead`` after ``max_attempts``. Periodic tasks are outbox rows keyed
``task:<name>:<slot>`` (slots in Asia/Shanghai), so two relays fire each slot once.
"""

from __future__ import annotations

import enum
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from croniter import croniter
from flask import Flask, current_app
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, mapped_column

from app.api import SHANGHAI
from app.db import atomic, created_at, intpk, utcnow
from app.extensions import db

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "linli_outbox"
QUEUES = ("default", "push", "payments")
#: Seconds to wait before attempt n+1 after attempt n failed.
BACKOFF = (10, 30, 60, 300, 900)


class OutboxStatus(enum.Enum):
    pending = "pending"
    enqueued = "enqueued"
    done = "done"
    dead = "dead"


class OutboxRow(db.Model):
    """One unit of background work, durable in PostgreSQL until done or dead."""

    __tablename__ = "core_outbox"
    __table_args__ = (
        sa.Index("ix_core_outbox_due", "run_at", postgresql_where=sa.text("status = 'pending'")),
        sa.Index("ix_core_outbox_enqueued", "enqueued_at", postgresql_where=sa.text("status = 'enqueued'")),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: Mapped[intpk]
    job: Mapped[str] = mapped_column(sa.String(200))
    args: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    queue: Mapped[str] = mapped_column(sa.String(32))
    run_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    key: Mapped[str | None] = mapped_column(sa.String(200), unique=True, comment="Deduplication key")
    status: Mapped[OutboxStatus] = mapped_column(default=OutboxStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[created_at]
    enqueued_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]

    @property
    def rq_job_id(self) -> str:
        return f"outbox-{self.id}-{self.attempts}"


# --- registries ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[..., Any]
    queue: str
    timeout: int
    max_attempts: int | None


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    cron: str
    job_name: str


_jobs: dict[str, JobSpec] = {}
_periodic: dict[str, PeriodicTask] = {}


def job(*, queue: str = "default", timeout: int = 60, max_attempts: int | None = None) -> Callable:
    """Register a job function. Arguments must be plain JSON values (ids), never ORM objects."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; known: {QUEUES}")

    def decorator(func: Callable) -> Callable:
        name = f"{func.__module__}.{func.__qualname__}"
        _jobs[name] = JobSpec(name, func, queue, timeout, max_attempts)
        func.job_name = name
        return func

    return decorator


def periodic(name: str, cron: str, *, queue: str = "default", timeout: int = 300) -> Callable:
    """Register a periodic task fired by the relay on a cron schedule in Asia/Shanghai time.

    The task function receives the slot (ISO datetime string, +08:00) it runs for.
    """
    if not croniter.is_valid(cron):
        raise ValueError(f"invalid cron expression {cron!r}")

    def decorator(func: Callable) -> Callable:
        func = job(queue=queue, timeout=timeout)(func)
        _periodic[name] = PeriodicTask(name, cron, func.job_name)
        return func

    return decorator


def registered_jobs() -> dict[str, JobSpec]:
    return dict(_jobs)


def registered_periodic() -> dict[str, PeriodicTask]:
    return dict(_periodic)


# --- enqueue -------------------------------------------------------------------------------------------------

_PLAIN = (str, int, float, bool, type(None))


def _check_plain(value: Any) -> None:
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_plain(item)
        return
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        for item in value.values():
            _check_plain(item)
        return
    raise TypeError(f"job arguments must be plain JSON values (pass ids, not objects), got {type(value).__name__}")


def enqueue(
    job_ref: Callable | str,
    *args: Any,
    run_at: datetime | None = None,
    delay: timedelta | None = None,
    key: str | None = None,
) -> int | None:
    """Schedule ``job_ref(*args)`` in the caller's transaction.

    :param key: deduplication key; a second enqueue with the same key is ignored (returns None).
    :return: the outbox row id, or None when ``key`` was already taken.
    """
    name = job_ref if isinstance(job_ref, str) else getattr(job_ref, "job_name", None)
    if name not in _jobs:
        raise ValueError(f"{job_ref!r} is not a registered job (decorate it with @outbox.job)")
    _check_plain(list(args))
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be timezone-aware")
    when = run_at or utcnow()
    if delay is not None:
        when += delay
    values = {"job": name, "args": list(args), "queue": _jobs[name].queue, "run_at": when, "key": key}
    if when > utcnow():
        # Not due yet: the relay's poll finds it when it is (it wakes every ``poll_seconds`` anyway); a NOTIFY now
        # would only wake it for nothing (an order's expiry, due in 15 minutes, woke it once per order).
        return db.session.execute(_INSERT, values).scalar()
    # Due now: insert and NOTIFY in one round trip. NOTIFY is delivered at commit only, so a rolled-back
    # transaction wakes nobody; a key already taken inserts no row and so wakes nobody either (the relay's own
    # pass enqueues every periodic task's slot again, and notifying for those woke it pass after pass).
    return db.session.execute(_INSERT_AND_NOTIFY, values).scalar()


def wake_relay() -> None:
    """NOTIFY the relay at commit, for outbox rows a statement inserted set-based rather than through ``enqueue``."""
    db.session.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))


def _insert_statements() -> tuple[sa.Executable, sa.Executable]:
    """Built once: a statement object built per call cost more Python (construction, cache key) than its run."""
    inserted = (
        pg_insert(OutboxRow.__table__)  # the table: an ORM-enabled INSERT ran the bulk-insert machinery per call
        .values(
            job=sa.bindparam("job"),
            args=sa.bindparam("args", type_=JSONB),
            queue=sa.bindparam("queue"),
            run_at=sa.bindparam("run_at"),
            key=sa.bindparam("key"),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxRow.__table__.c.id)
    )
    row = inserted.cte("inserted")
    return inserted, sa.select(row.c.id, sa.func.pg_notify(NOTIFY_CHANNEL, ""))


_INSERT, _INSERT_AND_NOTIFY = _insert_statements()


# --- execution (inside an RQ worker) -----------------------------------------------------------------------


def _max_attempts(row: OutboxRow) -> int:
    spec = _jobs.get(row.job)
    return (spec.max_attempts if spec and spec.max_attempts else None) or current_app.config["OUTBOX_MAX_ATTEMPTS"]


def _fail(row: OutboxRow, reason: str) -> None:
    """Send a row back to pending after a back-off, or to dead once its attempts are spent."""
    row.last_error = reason[-4000:]
    if row.attempts >= _max_attempts(row):
        row.status = OutboxStatus.dead
        log.error(
            "outbox row %s (%s) is dead after %s attempts: %s",
            row.id,
            row.job,
            row.attempts,
            reason.splitlines()[-1] if reason else "",
        )
    else:
        row.status = OutboxStatus.pending
        row.run_at = utcnow() + timedelta(seconds=BACKOFF[min(row.attempts, len(BACKOFF)) - 1])
        log.warning("outbox row %s (%s) attempt %s failed, retrying at %s", row.id, row.job, row.attempts, row.run_at)


def execute_row(row_id: int, attempt: int) -> str:
    """The RQ entry point for every outbox job: claim the row, run the job, mark it done, all in one transaction."""
    try:
        with atomic():
            row = db.session.get(OutboxRow, row_id, with_for_update=True, populate_existing=True)
            if row is None or row.status in (OutboxStatus.done, OutboxStatus.dead):
                return "skipped"
            if row.status is OutboxStatus.pending and row.run_at > utcnow():
                return "not_due"  # a stale delivery of an earlier attempt; the relay pushes it when due
            spec = _jobs.get(row.job)
            if spec is None:
                raise LookupError(f"no job registered as {row.job!r}")
            log.info("outbox row %s (%s) attempt %s running", row.id, row.job, attempt)
            spec.func(*row.args)
            row.status, row.done_at, row.last_error = OutboxStatus.done, utcnow(), None
            return "done"
    except Exception:
        reason = traceback.format_exc()
        with atomic():
            row = db.session.get(OutboxRow, row_id, with_for_update=True, populate_existing=True)
            if row is not None and row.status not in (OutboxStatus.done, OutboxStatus.dead):
                _fail(row, reason)
        raise


# --- the relay ---------------------------------------------------------------------------------------------


def _queue(name: str, connection):
    from rq import Queue

    return Queue(name, connection=connection)


def push_due(connection, *, batch: int = 200) -> int:
    """Push due pending rows to RQ. If Redis is down nothing changes: the rows stay pending."""
    now = utcnow()
    with atomic():
        rows = db.session.scalars(
            sa.select(OutboxRow)
            .where(OutboxRow.status == OutboxStatus.pending, OutboxRow.run_at <= now)
            .order_by(OutboxRow.run_at, OutboxRow.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        by_queue: dict[str, list] = {}
        for row in rows:
            if row.attempts >= _max_attempts(row):
                row.status = OutboxStatus.dead
                continue
            row.attempts += 1
            row.status, row.enqueued_at = OutboxStatus.enqueued, now
            spec = _jobs.get(row.job)
            timeout = spec.timeout if spec else 60
            by_queue.setdefault(row.queue, []).append(
                _queue(row.queue, connection).prepare_data(
                    execute_row,
                    args=(row.id, row.attempts),
                    job_id=row.rq_job_id,
                    timeout=timeout,
                    result_ttl=3600,
                    failure_ttl=7 * 86400,
                    description=f"{row.job}{tuple(row.args)}",
                )
            )
        db.session.flush()
        # Pushed before commit while the rows are locked: a worker that dequeues at once waits for our commit.
        # If the push fails the transaction rolls back and the rows stay pending.
        for queue_name, data in by_queue.items():
            _queue(queue_name, connection).enqueue_many(data)
        return sum(len(data) for data in by_queue.values())


def recover_lost(connection, *, batch: int = 200) -> int:
    """Push again enqueued rows whose RQ job is missing, failed, stopped or abandoned.

    A running job holds its row's lock, so ``SKIP LOCKED`` leaves it alone; an unlocked enqueued row older than
    ``OUTBOX_LOST_AFTER`` whose job is not waiting in a queue was lost (Redis restarted, worker killed).
    """
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    waiting = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
    cutoff = utcnow() - timedelta(seconds=current_app.config["OUTBOX_LOST_AFTER"])
    recovered = 0
    with atomic():
        rows = db.session.scalars(
            sa.select(OutboxRow)
            .where(OutboxRow.status == OutboxStatus.enqueued, OutboxRow.enqueued_at < cutoff)
            .order_by(OutboxRow.enqueued_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            try:
                status = Job.fetch(row.rq_job_id, connection=connection).get_status()
            except NoSuchJobError:
                status = None
            if status in waiting:
                continue
            _fail(row, f"lost: RQ job {row.rq_job_id} is {status.value if status else 'missing'}")
            if row.status is OutboxStatus.pending:
                row.run_at = utcnow()
            recovered += 1
    return recovered


def current_slot(cron: str, local_now: datetime) -> datetime:
    """The latest cron time at or before ``local_now`` (get_prev alone skips a slot that is exactly now)."""
    minute = local_now.replace(second=0, microsecond=0)
    if croniter.match(cron, minute):
        return minute
    return croniter(cron, minute).get_prev(datetime)


def fire_periodic(now: datetime | None = None) -> int:
    """Insert one outbox row per periodic task for its latest slot; the unique key makes this once per slot."""
    local_now = (now or utcnow()).astimezone(SHANGHAI)
    fired = 0
    with atomic():
        for task in _periodic.values():
            slot = current_slot(task.cron, local_now)
            if enqueue(task.job_name, slot.isoformat(), key=f"task:{task.name}:{slot.isoformat()}") is not None:
                fired += 1
    return fired


def relay_once(connection, *, periodic: bool = True) -> dict[str, int]:
    """One pass of the relay. Redis errors leave every row as it was and are reported, not raised.

    :param periodic: fire due periodic tasks first (tests turn it off to run only the rows they made).
    """
    import redis

    result = {"periodic": fire_periodic() if periodic else 0, "pushed": 0, "recovered": 0}
    try:
        result["pushed"] = push_due(connection)
        result["recovered"] = recover_lost(connection)
    except redis.RedisError as error:
        log.warning("relay: redis unavailable, rows stay pending: %s", error)
        result["redis_error"] = 1
    return result


def _libpq_url(sqlalchemy_url: str) -> str:
    return sa.engine.make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def run_relay(app: Flask, *, stop: threading.Event | None = None, poll_seconds: float = 2.0) -> None:
    """Relay loop: wakes on NOTIFY or every ``poll_seconds``; runs until ``stop`` is set."""
    import psycopg

    from app.redis_client import worker_connection

    stop = stop or threading.Event()
    connection = worker_connection(app.config["REDIS_URL"])
    listener = None
    fired_minute = None
    try:
        while not stop.is_set():
            try:
                if listener is None:
                    listener = psycopg.connect(_libpq_url(app.config["DATABASE_URL"]), autocommit=True)
                    listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
                # Periodic slots are whole minutes: firing them once a minute is enough (each pass used to insert
                # one row per task, and a busy relay makes many passes a minute).
                minute = utcnow().replace(second=0, microsecond=0)
                with app.app_context():
                    relay_once(connection, periodic=minute != fired_minute)
                    db.session.remove()
                fired_minute = minute
                for _ in listener.notifies(timeout=poll_seconds, stop_after=1):
                    pass
            except (psycopg.Error, sa.exc.OperationalError) as error:
                log.warning("relay: database unavailable, retrying: %s", error)
                if listener is not None:
                    listener.close()
                    listener = None
                stop.wait(poll_seconds)
    finally:
        if listener is not None:
            listener.close()
        connection.close()


# --- workers -----------------------------------------------------------------------------------------------


def make_worker(app: Flask, queues: tuple[str, ...] = QUEUES, *, connection=None, in_thread: bool = False):
    """An RQ SimpleWorker that runs jobs inside ``app``'s context and releases the session after each job."""
    from rq import SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    from app.redis_client import worker_connection

    connection = connection or worker_connection(app.config["REDIS_URL"])

    class OutboxWorker(SimpleWorker):
        if in_thread:
            # Signals and SIGALRM only work in the main thread; the embedded server runs us in a thread.
            death_penalty_class = TimerDeathPenalty

            def _install_signal_handlers(self) -> None:
                pass

        def execute_job(self, job, queue):
            with app.app_context():
                try:
                    return super().execute_job(job, queue)
                finally:
                    db.session.remove()

    return OutboxWorker([_queue(name, connection) for name in queues], connection=connection)


def init_app(app: Flask) -> None:
    """Import every module that registers jobs so the registry is complete in web, relay and worker alike."""
    app.extensions["linli_outbox"] = {"jobs": _jobs, "periodic": _periodic}
