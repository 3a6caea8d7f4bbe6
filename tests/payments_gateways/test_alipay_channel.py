"""Alipay as a payment channel end to end: the order string through POST /payments, notifications to our callback,
lost callbacks and refunds."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa

from app import outbox
from app.db import atomic, utcnow
from app.extensions import db as database
from payments import refund as refund_payment
from payments.gateways import jobs
from payments.gateways.models import AlipaySeller, GatewayNotification, Verdict
from payments.models import Capture, Payment, PaymentStatus, Refund, RefundStatus
from tests.fakes.wechatpay import new_rsa_key
from tests.payments_gateways.conftest import NOTIFY_ALIPAY, payment_row


@pytest.fixture
def merchant(fake_alipay):
    return fake_alipay.add_merchant()


@pytest.fixture
def paying(configured, payables, make_payee, resident, open_payment, merchant):
    payee = make_payee(sub_mchid=None, alipay_token=merchant.app_auth_token)

    def start(amount_fen: int = 3250):
        payable_id = payables.add(payee, resident, amount_fen)
        return open_payment(resident, [payable_id], "alipay"), payable_id

    return start


def captures() -> int:
    return database.session.scalar(sa.select(sa.func.count()).select_from(Capture))


def test_app_payment_end_to_end(paying, fake_alipay, merchant, client, payables):
    body, payable_id = paying()

    order_string = body["pay_params"]["order_string"]
    params = dict(parse_qsl(order_string))
    assert params["app_auth_token"] == merchant.app_auth_token
    assert params["method"] == "alipay.trade.app.pay"
    trade = fake_alipay.accept_order_string(order_string)  # the Alipay app checks our signature
    assert trade["total_amount"] == "32.50"
    assert trade["timeout_express"] in ("119m", "120m")  # from the payment's expiry (2 hours by default)
    seller = database.session.get(AlipaySeller, payment_row(body["id"]).payee_id)
    assert seller.seller_id == merchant.seller_id

    fake_alipay.pay(body["out_trade_no"])
    response = client.post(NOTIFY_ALIPAY, data=fake_alipay.notification(body["out_trade_no"]))

    assert response.status_code == 200
    assert response.get_data(as_text=True) == "success"
    payment = payment_row(body["id"])
    assert payment.status is PaymentStatus.paid
    assert payment.paid_fen == 3250
    assert payables.get(payable_id)["status"] == "paid"
    stored = database.session.scalar(sa.select(GatewayNotification))
    assert stored.verdict is Verdict.accepted
    assert stored.payload["total_amount"] == "32.50"


def test_the_sellers_token_is_asked_about_once(paying, fake_alipay):
    paying()
    paying()
    assert len(fake_alipay.seen("alipay.open.auth.token.app.query")) == 1


def test_the_same_notification_again_is_acted_on_once(paying, fake_alipay, client, payables):
    body, payable_id = paying()
    fake_alipay.accept_order_string(body["pay_params"]["order_string"])
    fake_alipay.pay(body["out_trade_no"])
    fields = fake_alipay.notification(body["out_trade_no"])
    answers = [client.post(NOTIFY_ALIPAY, data=fields).get_data(as_text=True) for _ in range(3)]
    assert answers == ["success"] * 3
    assert captures() == 1
    assert payables.get(payable_id)["paid_count"] == 1


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda f, no: {**f.notification(no), "total_amount": "0.01"}, "bad_signature"),
        (lambda f, no: f.notification(no, signing_key=new_rsa_key()), "bad_signature"),
        (lambda f, no: {k: v for k, v in f.notification(no).items() if k != "sign"}, "bad_signature"),
        (lambda f, no: f.notification(no, app_id="2021999999999999"), "wrong_app"),
        (lambda f, no: f.notification(no, seller_id="2088999999999999"), "wrong_seller"),
        (lambda f, no: f.notification(no, total_amount="32.49"), "amount_mismatch"),
        (lambda f, no: f.notification(no, total_amount="32.5x"), "malformed"),
        (lambda f, no: f.notification(no, out_trade_no="LP_NOT_OURS"), "unknown_trade"),
    ],
    ids=[
        "tampered_amount",
        "forged_signature",
        "unsigned",
        "wrong_app",
        "wrong_seller",
        "wrong_amount",
        "junk_amount",
        "unknown_order",
    ],
)
def test_a_bad_notification_changes_nothing_and_is_kept_for_admins(paying, fake_alipay, client, payables, make, reason):
    body, payable_id = paying()
    fake_alipay.accept_order_string(body["pay_params"]["order_string"])
    fake_alipay.pay(body["out_trade_no"])

    response = client.post(NOTIFY_ALIPAY, data=make(fake_alipay, body["out_trade_no"]))

    assert response.get_data(as_text=True) == "failure"
    assert payment_row(body["id"]).status is PaymentStatus.created
    assert captures() == 0
    assert payables.get(payable_id)["status"] == "open"
    kept = database.session.scalars(sa.select(GatewayNotification)).all()
    assert [(n.verdict, n.reason) for n in kept] == [(Verdict.rejected, reason)]


def test_a_lost_callback_is_settled_by_the_query_job(paying, fake_alipay, run_jobs, payables):
    body, payable_id = paying()
    fake_alipay.accept_order_string(body["pay_params"]["order_string"])
    fake_alipay.pay(body["out_trade_no"])
    with atomic():
        database.session.execute(sa.update(Payment).values(created_at=utcnow() - timedelta(minutes=11)))
        outbox.enqueue(jobs.settle_open_payments, utcnow().isoformat())

    run_jobs()

    assert payment_row(body["id"]).status is PaymentStatus.paid
    assert payables.get(payable_id)["status"] == "paid"


def test_a_refund_goes_to_alipay_with_the_payees_token(paying, fake_alipay, merchant, client, run_jobs):
    body, _ = paying()
    fake_alipay.accept_order_string(body["pay_params"]["order_string"])
    fake_alipay.pay(body["out_trade_no"])
    client.post(NOTIFY_ALIPAY, data=fake_alipay.notification(body["out_trade_no"]))
    with atomic():
        refund = refund_payment(body["id"], 1000, "退款", "test:alipay-refund")
    run_jobs()

    refund = database.session.get(Refund, refund.id, populate_existing=True)
    assert refund.status is RefundStatus.succeeded
    sent = fake_alipay.refunds[refund.out_refund_no]
    assert sent["refund_amount"] == "10.00"
    assert fake_alipay.seen("alipay.trade.refund")[0].app_auth_token == merchant.app_auth_token

    # Alipay then notifies the partial refund (TRADE_SUCCESS with refund_fee): recorded, nothing credited again.
    fields = fake_alipay.notification(
        body["out_trade_no"], refund_fee="10.00", out_biz_no=refund.out_refund_no, gmt_refund="2026-11-23 10:05:00"
    )
    assert client.post(NOTIFY_ALIPAY, data=fields).get_data(as_text=True) == "success"
    assert captures() == 1


def test_a_payee_without_an_alipay_authorisation_cannot_take_alipay(
    configured, payables, make_payee, resident, client, auth_header
):
    payable_id = payables.add(make_payee(), resident, 100)
    response = client.post(
        "/api/v1/payments",
        headers=auth_header(resident),
        json={"kind": "test.item", "ids": [payable_id], "channel": "alipay"},
    )
    assert response.status_code == 409
    assert response.json["code"] == "payee_unavailable"


def test_an_invalid_token_fails_the_prepay_with_502(configured, payables, make_payee, resident, client, auth_header):
    payable_id = payables.add(make_payee(sub_mchid=None, alipay_token="202611BBrevoked"), resident, 100)
    response = client.post(
        "/api/v1/payments",
        headers=auth_header(resident),
        json={"kind": "test.item", "ids": [payable_id], "channel": "alipay"},
    )
    assert response.status_code == 502
    assert response.json["code"] == "channel_error"


def test_alipay_app_is_the_same_channel_under_the_issues_name(
    configured, payables, make_payee, resident, open_payment, merchant, fake_alipay, client
):
    payee = make_payee(sub_mchid=None, alipay_token=merchant.app_auth_token)
    payable_id = payables.add(payee, resident, 1200)
    body = open_payment(resident, [payable_id], "alipay_app")
    trade = fake_alipay.accept_order_string(body["pay_params"]["order_string"])
    assert trade["total_amount"] == "12.00"

    fake_alipay.pay(body["out_trade_no"])
    response = client.post(NOTIFY_ALIPAY, data=fake_alipay.notification(body["out_trade_no"]))
    assert response.get_data(as_text=True) == "success"
    payment = payment_row(body["id"])
    assert (payment.channel.value, payment.status) == ("alipay_app", PaymentStatus.paid)
    assert payables.get(payable_id)["status"] == "paid"
