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


@outbox.job(queue="default", timeout=60)
def expire_locker_reservation(order_id: int) -> None:
    """The courier never deposited a dispatched order: free its reserved cells, fall back to the shop."""
    from marketplace import lockers_flow

    lockers_flow.expire_reservation(order_id)


@outbox.job(queue="default", timeout=60)
def remind_locker_pickup(order_id: int) -> None:
    """Before the pickup deadline, remind the resident of an order still in its locker cells."""
    from marketplace import lockers_flow

    lockers_flow.remind_pickup(order_id)


@outbox.job(queue="default", timeout=60)
def locker_deadline(order_id: int) -> None:
    """At the pickup deadline: cells await the vendor's retrieval, refund per the vendor's policy."""
    from marketplace import lockers_flow

    lockers_flow.pass_deadline(order_id)


@outbox.periodic("marketplace.locker_health", "*/2 * * * *")
def check_locker_health(slot: str) -> None:
    """Take silent cabinets and too-warm cold cells out of service and flag their contents."""
    from marketplace import lockers_flow

    lockers_flow.check_health(slot)


@outbox.periodic("marketplace.locker_nonce_purge", "23 * * * *")
def purge_locker_nonces(slot: str) -> None:
    """Forget device nonces past the signed-request window."""
    from marketplace import lockers_flow

    lockers_flow.purge_nonces(slot)
