"""Memory diagnosis for the bench server (``BENCH_TRACEMALLOC``, see ``bench/wsgi_bench.py``): what a web worker
allocated, step by step, traced by ``tracemalloc`` and dumped on request by a watcher thread (the server's main
thread runs the server's own loop, which a signal handler would wait behind)."""

import os
import threading
import time
import tracemalloc
from pathlib import Path

LABEL = Path(__file__).resolve().parent.parent / "instance" / "bench" / "run" / "tracemalloc-label"


def start_tracing(frames: int) -> None:
    tracemalloc.start(frames)
    threading.Thread(target=_dump_on_label, name="tracemalloc-dump", daemon=True).start()


def _dump_on_label() -> None:
    seen = ""
    while True:
        try:
            label = LABEL.read_text().strip()
        except OSError:
            label = ""
        if label and label != seen:
            seen = label
            tracemalloc.take_snapshot().dump(str(LABEL.parent / f"tracemalloc-{os.getpid()}-{label}.snap"))
        time.sleep(0.5)
