"""The production app plus the bench-only ceiling endpoints (``bench/ceilings.py``), served by the same server
config so that every scenario and its ceiling are measured alike: ``granian --interface wsgi bench.wsgi_bench:app``.

``BENCH_TRACEMALLOC=<frames>`` (set for the web server by ``python -m bench`` from its own variable of that name,
BENCH_ONLY runs only) traces every allocation made once the app is built (tracing the build itself makes start-up
~25 times slower), and dumps a snapshot whenever the label in
``instance/bench/run/tracemalloc-label`` changes (the bench writes a step's name after it):
``instance/bench/run/tracemalloc-<pid>-<label>.snap``, for ``tracemalloc.Snapshot.load`` and ``compare_to``.
"""

import os

from app import create_app, settle_for_serving
from bench.ceilings import blp

app = create_app(extra_blueprints=(blp,))
settle_for_serving()
if os.environ.get("BENCH_TRACEMALLOC"):
    from bench.tracing import start_tracing

    start_tracing(int(os.environ["BENCH_TRACEMALLOC"]))
