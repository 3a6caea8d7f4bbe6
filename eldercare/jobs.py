"""Eldercare jobs: ID arguments, safe to run twice (their database effects happen once)."""

from app import outbox
from eldercare import orders


@outbox.job(queue="default", timeout=60)
def expire_unpaid_care_order(order_id: int) -> None:
    """At the due time, close an order whose copay is still unpaid and release its subsidy hold (a no-op otherwise)."""
    orders.expire_order(order_id)


@outbox.job(queue="default", timeout=60)
def late_check_in_alert(order_id: int) -> None:
    """N minutes after the start: alert the provider and the family if nobody checked in (a no-op otherwise)."""
    from eldercare import visits_alerts

    visits_alerts.late_check_in_alert(order_id)


@outbox.job(queue="default", timeout=60)
def auto_confirm_visit(order_id: int) -> None:
    """N hours after check-out: deliver a visit the family did not confirm (a no-op otherwise)."""
    from eldercare import visits

    visits.auto_confirm(order_id)


@outbox.job(queue="push", timeout=60)
def sms_emergency_contact(order_id: int, index: int) -> None:
    """One SMS to one emergency contact after "no answer at the door" (retried by the outbox when SMS fails)."""
    from eldercare import visits_alerts

    visits_alerts.sms_emergency_contact(order_id, index)


@outbox.job(queue="push", timeout=60)
def sms_provider_contact(order_id: int, what: str) -> None:
    """An alert by SMS to the provider's contact phone when none of its admins can be reached by push."""
    from eldercare import visits_alerts

    visits_alerts.sms_provider_contact(order_id, what)
