"""WSGI entry point: ``granian --interface wsgi wsgi:app`` in production, ``make run`` for the embedded default."""

from app import create_app

app = create_app()
