"""The production app plus the bench-only ceiling endpoints (``bench/ceilings.py``), served by the same server
config so that every scenario and its ceiling are measured alike: ``granian --interface wsgi bench.wsgi_bench:app``.

``BENCH_TRACEMALLOC=<frames>`` (set for the web server by ``python -m bench`` from its own variable of that name,
BENCH_ONLY runs only) traces every allocation made once the app is built (tracing the build itself makes start-up
~25 times slower), and dumps a snapshot whenever the label in
``instance/bench/run/trace-label`` changes (the bench writes a step's name after it):
``instance/bench/run/tracemalloc-<pid>-<label>.snap``, for ``tracemalloc.Snapshot.load`` and ``compare_to``.
``BENCH_TIMING=1`` likewise times each request inside the worker (wall and CPU milliseconds, from the WSGI call to
the body) and writes their percentiles per step to ``timing-<pid>-<label>.json``: what the server spent, apart from
the time a request waited in the server's queue.
"""

import os

from app import create_app, settle_for_serving
from bench.ceilings import blp

app = create_app(extra_blueprints=(blp,))
settle_for_serving()
if os.environ.get("BENCH_TRACEMALLOC"):
    from bench.tracing import start_tracing

    start_tracing(int(os.environ["BENCH_TRACEMALLOC"]))
if os.environ.get("BENCH_TIMING"):
    from app.extensions import db
    from bench.tracing import time_requests

    with app.app_context():
        app.wsgi_app = time_requests(app.wsgi_app, db.engine)
