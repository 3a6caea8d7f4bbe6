"""Payment jobs on the ``payments`` queue. Each re-reads its rows under a lock and exits when the work is done, so a
second delivery changes nothing; the logic lives in the service modules (imported here when the job runs)."""

from __future__ import annotations

from app.outbox import job


@job(queue="payments", timeout=60)
def expire_payment(payment_id: int) -> str:
    """At a payment's expiry: take a success the gateway knows of, else close the payment here and there."""
    from payments.services import expire_payment as expire

    return expire(payment_id)


@job(queue="payments", timeout=60)
def close_at_channel(payment_id: int) -> None:
    """Close at its gateway a payment we closed (replaced by a new one)."""
    from payments.services import close_at_channel as close

    close(payment_id)


@job(queue="payments", timeout=120)
def reapply_payment(payment_id: int) -> None:
    """Apply a ``paid_unapplied`` payment again (or refund it when its payable is gone)."""
    from payments.paid import reapply

    reapply(payment_id)


@job(queue="payments", timeout=60)
def run_refund(refund_id: int) -> str:
    """Send a pending refund to its channel; failures are counted on the refund and retried with a back-off."""
    from payments.refunds import run_refund as run

    return run(refund_id)


@job(queue="payments", timeout=120, max_attempts=10)
def notify_refunded(refund_id: int) -> None:
    """Call the kinds' ``on_refunded``; an error makes the outbox retry it (and, in the end, list it as dead)."""
    from payments.refunds import notify_refunded as notify

    notify(refund_id)
