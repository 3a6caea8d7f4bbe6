"""Marketplace jobs: ID arguments, safe to run twice (their database effects happen once)."""

from app import outbox
from marketplace import fulfilment, orders


@outbox.job(queue="default", timeout=60)
def expire_unpaid_order(order_id: int) -> None:
    """At the due time, close an order still unpaid and give its stock back (a no-op otherwise)."""
    orders.expire_order(order_id)


@outbox.job(queue="default", timeout=60)
def auto_complete_order(order_id: int) -> None:
    """N days after an order became ready, complete it if nobody did (a no-op otherwise)."""
    fulfilment.auto_complete(order_id)
