"""The time govservice reads: one function, so tests can set the clock to a day the calendar makes interesting."""

from __future__ import annotations

from datetime import date, datetime

from app.api import SHANGHAI
from app.db import utcnow


def now() -> datetime:
    """The current time (UTC, aware)."""
    return utcnow()


def today() -> date:
    """Today in Asia/Shanghai, the business day."""
    return now().astimezone(SHANGHAI).date()
