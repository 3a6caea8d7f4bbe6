"""Diagnosis for the bench server, BENCH_ONLY runs only (see ``bench/wsgi_bench.py``): what a web worker allocated
(``BENCH_TRACEMALLOC``) and how long it spent on each request (``BENCH_TIMING``), dumped step by step by a watcher
thread whenever the bench writes a new label (the server's main thread runs the server's own loop, which a signal
handler would wait behind)."""

from __future__ import annotations

import json
import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

LABEL = Path(__file__).resolve().parent.parent / "instance" / "bench" / "run" / "trace-label"

_dumpers: list[Callable[[str], None]] = []


def start_tracing(frames: int) -> None:
    tracemalloc.start(frames)
    _on_label(lambda label: tracemalloc.take_snapshot().dump(str(_out(f"tracemalloc-{os.getpid()}-{label}.snap"))))


def time_requests(wsgi_app: Callable, engine) -> Callable:
    """``wsgi_app`` timed: per request, the wall and the thread's CPU milliseconds from the call until the body is
    produced, and the SQL statements it ran on ``engine``; percentiles since the last label, and what the slowest
    hundredth of the requests were, are written to ``timing-<pid>-<label>.json``."""
    import sqlalchemy as sa

    samples: list[tuple[float, float, int, str]] = []
    statements = threading.local()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args) -> None:
        texts = getattr(statements, "texts", None)
        if texts is None:  # a thread that serves no request (none in the web worker today)
            return
        statements.count += 1
        texts.append(" ".join(statement.split())[:60])

    def timed(environ, start_response):
        wall, cpu, statements.count = time.perf_counter(), time.thread_time(), 0
        statements.texts = []
        body = None
        try:
            body = wsgi_app(environ, start_response)
            return list(body)
        finally:
            if hasattr(body, "close"):  # as a WSGI server must (PEP 3333); the list is served instead
                body.close()
            samples.append(
                (
                    (time.perf_counter() - wall) * 1000,
                    (time.thread_time() - cpu) * 1000,
                    statements.count,
                    f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} {statements.texts}",
                )
            )

    def dump(label: str) -> None:
        taken = samples[:]
        del samples[: len(taken)]
        summary = _percentiles([(wall, cpu) for wall, cpu, _n, _path in taken])
        slowest = sorted(taken, key=lambda sample: -sample[1])[: max(1, len(taken) // 100)]
        kinds: dict[str, int] = {}
        for _wall, _cpu, count, path in slowest:
            kind = f"{path} with {count} statements"
            kinds[kind] = kinds.get(kind, 0) + 1
        summary["statements_per_request"] = round(sum(s[2] for s in taken) / max(1, len(taken)), 3)
        summary["slowest_cpu_hundredth"] = sorted(kinds.items(), key=lambda kv: -kv[1])[:8]
        _out(f"timing-{os.getpid()}-{label}.json").write_text(json.dumps(summary, ensure_ascii=False))

    _on_label(dump)
    return timed


def _percentiles(samples: list[tuple[float, float]]) -> dict:
    if not samples:
        return {"requests": 0}
    walls, cpus = sorted(s[0] for s in samples), sorted(s[1] for s in samples)

    def at(values: list[float], share: float) -> float:
        return round(values[min(len(values) - 1, int(share * len(values)))], 2)

    return {
        "requests": len(samples),
        **{f"wall_p{p}": at(walls, p / 100) for p in (50, 90, 99, 99.9)},
        "wall_max": round(walls[-1], 2),
        **{f"cpu_p{p}": at(cpus, p / 100) for p in (50, 90, 99, 99.9)},
        "cpu_max": round(cpus[-1], 2),
    }


def _out(name: str) -> Path:
    return LABEL.parent / name


def _on_label(dump: Callable[[str], None]) -> None:
    _dumpers.append(dump)
    if len(_dumpers) == 1:
        threading.Thread(target=_watch, name="bench-trace-dump", daemon=True).start()


def _watch() -> None:
    seen = ""
    while True:
        try:
            label = LABEL.read_text().strip()
        except OSError:
            label = ""
        if label and label != seen:
            seen = label
            for dump in _dumpers:
                dump(label)
        time.sleep(0.5)
