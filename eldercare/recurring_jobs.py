"""Jobs of recurring orders and the care balance: ID arguments, safe to run twice (their effects happen once)."""

from __future__ import annotations

from datetime import date, datetime

from app import outbox
from app.api import SHANGHAI
from app.db import atomic
from eldercare import balances, recurring


@outbox.periodic("eldercare.series_occurrences", "10 0 * * *")
def create_series_occurrences(slot: str) -> None:
    """Every day at 00:10 Asia/Shanghai: one job per active series creates its occurrences two weeks ahead."""
    on = datetime.fromisoformat(slot).astimezone(SHANGHAI).date()
    with atomic():
        for series_id in recurring.active_series_ids():
            outbox.enqueue(extend_series, series_id, on.isoformat(), key=f"eldercare.series:{series_id}:{on}")


@outbox.job(queue="default", timeout=120)
def extend_series(series_id: int, on: str) -> None:
    """Create the series' missing occurrences of ``[on, on + 14 days]`` (each (series, day) at most once)."""
    recurring.extend_one(series_id, date.fromisoformat(on))


@outbox.periodic("eldercare.balance_refunds", "*/10 * * * *")
def refund_cancelled_draws(slot: str) -> None:
    """Every ten minutes: copays drawn from a care balance for orders since cancelled or declined go back to it."""
    with atomic():
        balances.refund_due()
