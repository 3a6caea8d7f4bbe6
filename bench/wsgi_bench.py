"""The production app plus the bench-only ceiling endpoints (``bench/ceilings.py``), served by the same server
config so that every scenario and its ceiling are measured alike: ``granian --interface wsgi bench.wsgi_bench:app``.
"""

from app import create_app, settle_for_serving
from bench.ceilings import blp

app = create_app(extra_blueprints=(blp,))
settle_for_serving()
