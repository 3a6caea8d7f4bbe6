"""WSGI entry point: ``granian --interface wsgi wsgi:app`` in production, ``make run`` for the embedded default."""

from app import create_app, settle_for_serving

app = create_app()
settle_for_serving()
