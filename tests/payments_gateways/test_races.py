"""The same WeChat Pay notification delivered 20 times at once credits the payment once.

The guard under test: the verified notification is stored with ``INSERT … ON CONFLICT DO NOTHING`` on the unique
index of accepted (gateway, notify id), in the transaction that credits the payment. As "SELECT, then INSERT if
absent", the threads all pass the SELECT before the first commits and all but one fail on the unique index: they
answer 500, and this test asserts that every delivery answers 204 and exactly one notification row exists. (The
engine's capture guards the same money again by transaction id.)
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from app.extensions import db as database
from payments.gateways.models import GatewayNotification
from payments.models import Capture, PaymentStatus
from tests.payments_gateways.conftest import NOTIFY_WECHAT, payment_row

THREADS = 20


def test_twenty_concurrent_deliveries_credit_once(
    app, configured, committed_payables, make_payee, resident, open_payment, fake_wechatpay
):
    payee = make_payee()
    payable_id = committed_payables.add(payee, resident, 3250)
    body = open_payment(resident, [payable_id], "wechatpay")
    fake_wechatpay.pay(body["out_trade_no"])
    headers, raw = fake_wechatpay.transaction_notification(body["out_trade_no"])
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    lock = threading.Lock()

    def deliver() -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        status = client.post(NOTIFY_WECHAT, data=raw, headers=headers).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=deliver) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    database.session.remove()
    assert statuses == [204] * THREADS
    assert payment_row(body["id"]).status is PaymentStatus.paid
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Capture)) == 1
    assert database.session.scalar(sa.select(sa.func.count()).select_from(GatewayNotification)) == 1
    assert committed_payables.get(payable_id)["paid_count"] == 1


def test_two_refunds_run_at_once_return_the_commission_once_in_total(
    app, configured, committed_payables, make_payee, resident, open_payment, fake_wechatpay, client, run_jobs
):
    """Two refunds of one shared payment, their jobs run at the same moment: the commission (195 fen of 3250 at 6 %)
    goes back once in total, and neither refund waits out a back-off. The refund job locks its refund with its payment,
    and the share row while the return is computed; without those locks both jobs read "nothing returned yet", both
    record a return of all of it, and WeChat refuses the second (checked: 390 recorded, one refund stuck retrying)."""
    from app.db import atomic
    from payments import refund as refund_payment
    from payments.gateways.models import ShareReturn
    from payments.gateways.profit_sharing import request_profit_sharing
    from payments.models import Refund, RefundStatus
    from payments.refunds import run_refund
    from tests.conftest import race

    payee = make_payee(commission_bps=600)
    body = open_payment(resident, [committed_payables.add(payee, resident, 3250)], "wechatpay")
    fake_wechatpay.pay(body["out_trade_no"])
    headers, raw = fake_wechatpay.transaction_notification(body["out_trade_no"])
    assert client.post(NOTIFY_WECHAT, data=raw, headers=headers).status_code == 204
    request_profit_sharing(body["id"])
    run_jobs()
    with atomic():
        refund_ids = [refund_payment(body["id"], amount, "退款", f"race:return:{amount}").id for amount in (1000, 2250)]

    pending = list(refund_ids)
    race(app, 2, lambda: run_refund(pending.pop()))
    run_jobs()

    database.session.remove()
    returned = database.session.scalars(sa.select(ShareReturn.amount_fen)).all()
    assert sum(returned) == 195
    assert [r["amount"] for r in fake_wechatpay.returns.values()] == [195]
    refunds = database.session.execute(sa.select(Refund.status, Refund.attempts).where(Refund.id.in_(refund_ids)))
    # Both paid back at their first attempt: neither sent a return WeChat had to refuse and waited out a back-off.
    assert sorted(refunds) == [(RefundStatus.succeeded, 1), (RefundStatus.succeeded, 1)]
    assert sum(seen.path.endswith("/return-orders") for seen in fake_wechatpay.requests) == 1
