"""Eldercare jobs: ID arguments, safe to run twice (their database effects happen once)."""

from app import outbox
from eldercare import orders


@outbox.job(queue="default", timeout=60)
def expire_unpaid_care_order(order_id: int) -> None:
    """At the due time, close an order whose copay is still unpaid and release its subsidy hold (a no-op otherwise)."""
    orders.expire_order(order_id)
