"""Fault matrix, payment gateways: WeChat Pay and Alipay answering 5xx or too slowly (after
``PAYMENTS_GATEWAY_TIMEOUT``, set short here; the fakes carry the call out and only the answer is lost).

Whatever fails, nothing is lost and nothing is credited twice: a payment that cannot be opened leaves no record and
answers a clear error; jobs (refunds, expiry, the lost-callback query) retry after their back-off and settle once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import outbox
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from payments import refund as refund_payment
from payments.gateways import jobs
from payments.models import Capture, Payment, PaymentStatus, Refund, RefundStatus
from tests.payments_gateways import conftest as gateways
from tests.payments_gateways.conftest import NOTIFY_ALIPAY, NOTIFY_WECHAT, payment_row

# The fake gateways, their settings, payees and payables, as fixtures of this module.
wechatpay_keys, alipay_keys, key_dir = gateways.wechatpay_keys, gateways.alipay_keys, gateways.key_dir
fake_wechatpay, fake_alipay = gateways.fake_wechatpay, gateways.fake_alipay
gateway_settings, configured = gateways.gateway_settings, gateways.configured
payables, make_payee, resident = gateways.payables, gateways.make_payee, gateways.resident

#: Our read timeout in these tests; the fakes' slow answers come after 1.5 s.
TIMEOUT = 0.5
FAULTS = ["5xx", "slow"]


@pytest.fixture
def short_timeout(app, configured, monkeypatch):
    monkeypatch.setitem(app.config, "PAYMENTS_GATEWAY_TIMEOUT", TIMEOUT)


def break_gateway(fake, fault: str, times: int = 1, method: str | None = None) -> None:
    if method is not None:
        fake.fault_method = method
    if fault == "5xx":
        fake.fail_next = times
    else:
        fake.slow_next = times


def make_due() -> None:
    with atomic():
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.status == OutboxStatus.pending).values(run_at=utcnow())
        )


def count(model) -> int:
    return database.session.scalar(sa.select(sa.func.count()).select_from(model))


def pay_request(client, auth_header, user, payable_id, channel):
    return client.post(
        "/api/v1/payments",
        headers=auth_header(user),
        json={"kind": "test.item", "ids": [payable_id], "channel": channel},
    )


# --- creating a payment --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "code", "message"),
    [
        ("5xx", 502, "channel_error", "支付渠道暂时不可用，请稍后再试"),
        ("slow", 504, "channel_timeout", "支付渠道响应超时，请稍后再试"),
    ],
)
def test_opening_a_wechat_payment_while_wechat_fails_leaves_nothing_and_can_be_retried(
    short_timeout, payables, make_payee, resident, client, auth_header, fake_wechatpay, fault, status, code, message
):
    payable_id = payables.add(make_payee(), resident, 3250)
    break_gateway(fake_wechatpay, fault)

    failed = pay_request(client, auth_header, resident, payable_id, "wechatpay")

    assert (failed.status_code, failed.json["code"], failed.json["message"]) == (status, code, message)
    assert count(Payment) == 0  # no half-written record
    assert payables.get(payable_id)["status"] == "open"

    retried = pay_request(client, auth_header, resident, payable_id, "wechatpay")
    assert retried.status_code == 201
    assert count(Payment) == 1
    # A slow WeChat Pay opened the first order anyway; nobody holds its prepay_id, and it expires unpaid.
    assert len(fake_wechatpay.orders) == (2 if fault == "slow" else 1)
    assert retried.json["out_trade_no"] in fake_wechatpay.orders


@pytest.mark.parametrize("fault", FAULTS)
def test_opening_an_alipay_payment_while_alipay_fails_leaves_nothing(
    short_timeout, payables, make_payee, resident, client, auth_header, fake_alipay, fault
):
    """The order string is signed locally, but the payee's authorisation is asked about first (once per token)."""
    merchant = fake_alipay.add_merchant()
    payable_id = payables.add(make_payee(sub_mchid=None, alipay_token=merchant.app_auth_token), resident, 1200)
    break_gateway(fake_alipay, fault)

    failed = pay_request(client, auth_header, resident, payable_id, "alipay")

    assert failed.status_code == (504 if fault == "slow" else 502)
    assert failed.json["message"].startswith("支付渠道")
    assert count(Payment) == 0
    assert pay_request(client, auth_header, resident, payable_id, "alipay").status_code == 201


# --- refunds -------------------------------------------------------------------------------------------------------


@pytest.fixture
def alipay_paid(short_timeout, payables, make_payee, resident, fake_alipay, client, auth_header):
    merchant = fake_alipay.add_merchant()
    payee = make_payee(sub_mchid=None, alipay_token=merchant.app_auth_token)

    def pay(amount_fen: int = 3250, *, notify: bool = True) -> tuple[dict, str]:
        payable_id = payables.add(payee, resident, amount_fen)
        body = pay_request(client, auth_header, resident, payable_id, "alipay").json
        fake_alipay.accept_order_string(body["pay_params"]["order_string"])
        fake_alipay.pay(body["out_trade_no"])
        if notify:
            assert client.post(NOTIFY_ALIPAY, data=fake_alipay.notification(body["out_trade_no"])).data == b"success"
        return body, payable_id

    return pay


@pytest.mark.parametrize("fault", FAULTS)
def test_an_alipay_refund_is_retried_by_its_job_and_settles_once(alipay_paid, fake_alipay, run_jobs, payables, fault):
    body, payable_id = alipay_paid(3250)
    with atomic():
        refund = refund_payment(body["id"], 3250, "取消订单", "fault:alipay-refund")
    # 5xx twice: nothing happened at Alipay. Slow once: Alipay refunded, the answer was lost; the next attempt asks.
    failures = 2 if fault == "5xx" else 1
    break_gateway(fake_alipay, fault, times=failures, method="alipay.trade.refund")

    for attempt in range(1, failures + 1):
        run_jobs()
        row = database.session.get(Refund, refund.id, populate_existing=True)
        assert (row.status, row.attempts) == (RefundStatus.pending, attempt)
        assert run_jobs()["pushed"] == 0  # the next attempt waits for its back-off
        make_due()
    run_jobs()

    row = database.session.get(Refund, refund.id, populate_existing=True)
    assert (row.status, row.attempts) == (RefundStatus.succeeded, failures + 1)
    assert [r["refund_amount"] for r in fake_alipay.refunds.values()] == ["32.50"]  # the money moved once
    # Answered calls: once for the refund; after a lost answer the retry asked and found it done.
    assert len(fake_alipay.seen("alipay.trade.refund")) == 1
    make_due()
    run_jobs()
    assert payables.get(payable_id)["refund_calls"] == 1  # the domain heard of it once
    assert count(Refund) == 1
    payment = payment_row(body["id"])
    assert (payment.paid_fen, payment.refunded_fen) == (3250, 3250)


def test_a_wechat_refund_whose_answer_is_lost_is_asked_about_and_moves_money_once(
    short_timeout, payables, make_payee, resident, client, auth_header, fake_wechatpay, run_jobs
):
    payable_id = payables.add(make_payee(), resident, 3250)
    body = pay_request(client, auth_header, resident, payable_id, "wechatpay").json
    fake_wechatpay.pay(body["out_trade_no"])
    headers, raw = fake_wechatpay.transaction_notification(body["out_trade_no"])
    assert client.post(NOTIFY_WECHAT, data=raw, headers=headers).status_code == 204
    with atomic():
        refund = refund_payment(body["id"], 1250, "部分退款", "fault:wechat-refund")
    break_gateway(fake_wechatpay, "slow")

    run_jobs()
    row = database.session.get(Refund, refund.id, populate_existing=True)
    assert (row.status, row.attempts) == (RefundStatus.pending, 1)
    assert row.last_error.startswith("ChannelTimeout")
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values()] == [1250]  # WeChat Pay did it

    make_due()
    run_jobs()
    row = database.session.get(Refund, refund.id, populate_existing=True)
    assert (row.status, row.attempts) == (RefundStatus.succeeded, 2)
    assert fake_wechatpay.calls(f"/v3/refund/domestic/refunds/{row.out_refund_no}", "GET")
    assert len(fake_wechatpay.calls("/v3/refund/domestic/refunds", "POST")) == 1
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values()] == [1250]
    assert payment_row(body["id"]).refunded_fen == 1250


# --- expiry (query, then close) and the lost-callback query job ------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_expiry_while_alipay_fails_neither_closes_nor_loses_money_paid_meanwhile(
    alipay_paid, fake_alipay, run_jobs, payables, fault
):
    body, payable_id = alipay_paid(1880, notify=False)  # paid at Alipay, the notification lost
    break_gateway(fake_alipay, fault, method="alipay.trade.query")
    make_due()  # the payment's expiry
    run_jobs()
    assert payment_row(body["id"]).status is PaymentStatus.created  # not closed on a guess

    make_due()
    run_jobs()

    assert payment_row(body["id"]).status is PaymentStatus.paid
    assert payables.get(payable_id)["paid_count"] == 1
    assert count(Capture) == 1
    assert fake_alipay.trades[body["out_trade_no"]]["trade_status"] == "TRADE_SUCCESS"  # never closed there


@pytest.mark.parametrize("fault", FAULTS)
def test_expiry_closes_an_unpaid_alipay_trade_once_alipay_answers(alipay_paid, fake_alipay, run_jobs, payables, fault):
    body, _ = alipay_paid(1880, notify=False)
    fake_alipay.trades[body["out_trade_no"]].update(trade_status="WAIT_BUYER_PAY", buyer_id=None)
    break_gateway(fake_alipay, fault, method="alipay.trade.close")
    make_due()
    run_jobs()
    assert payment_row(body["id"]).status is PaymentStatus.created

    make_due()
    run_jobs()
    assert payment_row(body["id"]).status is PaymentStatus.closed
    assert fake_alipay.trades[body["out_trade_no"]]["trade_status"] == "TRADE_CLOSED"


@pytest.mark.parametrize("fault", FAULTS)
def test_the_lost_callback_query_job_works_through_gateway_faults(
    alipay_paid, fake_alipay, fake_wechatpay, payables, make_payee, resident, client, auth_header, run_jobs, fault
):
    first, first_payable = alipay_paid(1000, notify=False)
    second, second_payable = alipay_paid(2000, notify=False)
    wechat_payee = make_payee("绿园生鲜", sub_mchid=gateways.SUB_MCHID)
    wechat_payable = payables.add(wechat_payee, resident, 500)
    wechat = pay_request(client, auth_header, resident, wechat_payable, "wechatpay").json
    fake_wechatpay.pay(wechat["out_trade_no"])
    with atomic():
        database.session.execute(sa.update(Payment).values(created_at=utcnow() - timedelta(minutes=11)))

    def settle_run() -> None:
        with atomic():
            outbox.enqueue(jobs.settle_open_payments, utcnow().isoformat())
        run_jobs()

    break_gateway(fake_alipay, fault, method="alipay.trade.query")
    break_gateway(fake_wechatpay, fault)
    settle_run()
    statuses = {payment_row(p["id"]).status for p in (first, second, wechat)}
    assert PaymentStatus.created in statuses  # the failed queries left their payments for the next run
    assert PaymentStatus.paid in statuses  # one failure does not stop the others

    settle_run()
    settle_run()

    assert {payment_row(p["id"]).status for p in (first, second, wechat)} == {PaymentStatus.paid}
    assert [payables.get(p)["paid_count"] for p in (first_payable, second_payable, wechat_payable)] == [1, 1, 1]
    assert count(Capture) == 3

    # The notifications arrive late after all: recorded, nothing credited again.
    for body in (first, second):
        assert client.post(NOTIFY_ALIPAY, data=fake_alipay.notification(body["out_trade_no"])).data == b"success"
    headers, raw = fake_wechatpay.transaction_notification(wechat["out_trade_no"])
    assert client.post(NOTIFY_WECHAT, data=raw, headers=headers).status_code == 204
    assert count(Capture) == 3
    assert [payables.get(p)["paid_count"] for p in (first_payable, second_payable, wechat_payable)] == [1, 1, 1]
