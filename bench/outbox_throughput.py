"""The price of durability: jobs through the outbox (row, relay, claim, done) against plain RQ enqueue + run.

Both paths run the same no-op job with an in-process SimpleWorker on the same Redis; the ratio is what the
outbox costs per job on this machine.
"""

from __future__ import annotations

import time

import redis
from rq import Queue

from app import outbox
from app.db import atomic
from bench.common import bench_app

JOBS = 500


@outbox.job()
def noop(number: int) -> None:
    """Does nothing: the benchmark measures the machinery around a job."""


def plain_noop(number: int) -> None:
    """The same work for plain RQ."""


def run_outbox(app, connection) -> float:
    started = time.perf_counter()
    with atomic():
        for number in range(JOBS):
            outbox.enqueue(noop, number)
    while outbox.push_due(connection, batch=200):
        pass
    outbox.make_worker(app, connection=connection).work(burst=True, logging_level="WARNING")
    return time.perf_counter() - started


def run_plain_rq(app, connection) -> float:
    queue = Queue("default", connection=connection)
    started = time.perf_counter()
    for number in range(JOBS):
        queue.enqueue(plain_noop, number)
    outbox.make_worker(app, connection=connection).work(burst=True, logging_level="WARNING")
    return time.perf_counter() - started


def main() -> None:
    app = bench_app()
    with app.app_context():
        connection = redis.Redis.from_url(app.config["REDIS_URL"])
        connection.flushdb()
        outbox_seconds = run_outbox(app, connection)
        plain_seconds = run_plain_rq(app, connection)
    print(f"outbox: {JOBS / outbox_seconds:8.0f} jobs/s  ({outbox_seconds:.2f} s for {JOBS})")
    print(f"plain RQ: {JOBS / plain_seconds:6.0f} jobs/s  ({plain_seconds:.2f} s for {JOBS})")
    print(f"ratio outbox/plain time: {outbox_seconds / plain_seconds:.2f}x")


if __name__ == "__main__":
    main()
