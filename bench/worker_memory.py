"""A SimpleWorker's resident memory across many jobs, in a process of its own (``make bench`` runs it last).

The worker is the production one (``app.outbox.make_worker``: app context per job, session released after each);
the jobs are plain RQ no-ops, so what grows is the worker's machinery, not a job's data. The process enqueues
``--jobs`` (rounded up to whole batches) in batches of 1,000 (one Redis pipeline each), drains each batch with
``work(burst=True)`` and prints one JSON line: the RSS after the first batch and after each later tenth of the run.

    python -m bench.worker_memory --database-url … --redis-url redis://127.0.0.1:6379/15 --jobs 100000
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from pathlib import Path

BATCH = 1000


def rss_mb() -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def noop(number: int) -> None:
    """Does nothing: the run measures the machinery around a job."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    import redis
    from rq import Queue

    from app import create_app, outbox
    from bench.common import settings

    app = create_app(settings(args.database_url, args.redis_url))
    connection = redis.Redis.from_url(args.redis_url)
    # A queue of its own: the worker must not pick up leftover jobs of the run's other steps.
    queue = Queue("bench-worker-memory", connection=connection)
    worker = outbox.make_worker(app, ("bench-worker-memory",), connection=connection)
    every = max(1, args.jobs // BATCH // 10)
    done, samples, started = 0, [], time.perf_counter()
    while done < args.jobs:
        with connection.pipeline() as pipe:
            batch = range(done, done + BATCH)
            jobs = [Queue.prepare_data("bench.worker_memory.noop", (number,), result_ttl=0) for number in batch]
            queue.enqueue_many(jobs, pipeline=pipe)
            pipe.execute()
        worker.work(burst=True, logging_level="WARNING")
        done += BATCH
        if done == BATCH or done // BATCH % every == 0 or done >= args.jobs:
            samples.append((done, round(rss_mb(), 1)))
    print(json.dumps({"jobs": done, "seconds": time.perf_counter() - started, "samples": samples}))


if __name__ == "__main__":
    main()
