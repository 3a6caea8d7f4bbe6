"""Jobs of the gateway channels, on the ``payments`` queue; the logic lives in the service modules (imported when the
job runs). Each re-reads its rows and exits when the work is done, so a second delivery changes nothing."""

from __future__ import annotations

from app.outbox import job, periodic


@periodic("payments.gateways.settle_open", "*/5 * * * *", queue="payments", timeout=240)
def settle_open_payments(slot: str) -> dict[str, int]:
    """Ask the gateway about payments still open 10 minutes after creation: a lost notification never loses money."""
    from payments.gateways.settlement import settle_open_payments as settle

    return settle()


@periodic("payments.gateways.reconcile", "30 10 * * *", queue="payments", timeout=600)
def reconcile_yesterday(slot: str) -> list[int]:
    """Download yesterday's statements (ready after 10:00) and match them with our records."""
    from datetime import datetime, timedelta

    from payments.gateways.reports import reconcile_day

    return reconcile_day(datetime.fromisoformat(slot).date() - timedelta(days=1))


@job(queue="payments", timeout=600)
def reconcile_date(bill_date: str) -> list[int]:
    """Reconcile one day now (an admin asked)."""
    from datetime import date

    from payments.gateways.reports import reconcile_day

    return reconcile_day(date.fromisoformat(bill_date))


@job(queue="payments", timeout=60)
def share_profit(share_id: int) -> str:
    """Send one profit sharing to its gateway (WeChat Pay or Alipay); errors end in the share's own retry or
    ``failed`` state, never in a failed job."""
    from payments.gateways.profit_sharing import share_profit as share

    return share(share_id)
