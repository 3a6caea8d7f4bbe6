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
