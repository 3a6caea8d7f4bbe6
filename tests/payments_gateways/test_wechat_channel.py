"""WeChat Pay as a payment channel end to end: prepay through POST /payments, notifications to our callback,
lost callbacks, expiry, refunds with their notification, and profit sharing once per order."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from app import outbox
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from payments import refund as refund_payment
from payments.gateways import jobs
from payments.gateways.models import GatewayNotification, ProfitShare, ShareStatus, Verdict
from payments.gateways.profit_sharing import request_profit_sharing
from payments.models import Capture, Payment, PaymentStatus, Refund, RefundStatus
from tests.fakes.wechatpay import new_rsa_key
from tests.payments_gateways.conftest import NOTIFY_WECHAT, SUB_MCHID, payment_row


@pytest.fixture
def paying(configured, payables, make_payee, resident, open_payment, fake_wechatpay):
    """A resident's open WeChat Pay payment of 32.50 to a payee; returns (payment body, payable id)."""

    def start(amount_fen: int = 3250, **payee_columns):
        payee = make_payee(**payee_columns)
        payable_id = payables.add(payee, resident, amount_fen)
        return open_payment(resident, [payable_id], "wechatpay"), payable_id

    return start


def notify(client, headers, body):
    return client.post(NOTIFY_WECHAT, data=body, headers=headers)


def captures() -> int:
    return database.session.scalar(sa.select(sa.func.count()).select_from(Capture))


def make_due() -> None:
    with atomic():
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.status == OutboxStatus.pending).values(run_at=utcnow())
        )


def test_mini_program_payment_end_to_end(paying, fake_wechatpay, wechatpay_keys, client, payables):
    body, payable_id = paying()

    params = body["pay_params"]
    assert params["appId"] == wechatpay_keys.mini_appid
    assert params["signType"] == "RSA"
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    wechatpay_keys.merchant.public_key().verify(
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    order = fake_wechatpay.orders[body["out_trade_no"]]
    assert order["request"]["payer"] == {"sp_openid": "o_resident_zhangsan"}
    assert order["request"]["sub_mchid"] == SUB_MCHID
    assert order["amount"]["total"] == 3250

    fake_wechatpay.pay(body["out_trade_no"])
    response = notify(client, *fake_wechatpay.transaction_notification(body["out_trade_no"]))

    assert response.status_code == 204
    payment = payment_row(body["id"])
    assert payment.status is PaymentStatus.paid
    assert payment.paid_fen == 3250
    assert payment.channel_txn_id == fake_wechatpay.orders[body["out_trade_no"]]["transaction_id"]
    assert payables.get(payable_id)["status"] == "paid"
    stored = database.session.scalar(sa.select(GatewayNotification))
    assert stored.verdict is Verdict.accepted
    assert stored.payload["resource"]["amount"]["total"] == 3250


def test_the_same_notification_again_is_acted_on_once(paying, fake_wechatpay, client, payables):
    body, payable_id = paying()
    fake_wechatpay.pay(body["out_trade_no"])
    headers, raw = fake_wechatpay.transaction_notification(body["out_trade_no"])

    assert [notify(client, headers, raw).status_code for _ in range(3)] == [204, 204, 204]
    assert captures() == 1
    assert payables.get(payable_id)["paid_count"] == 1
    assert database.session.scalar(sa.select(sa.func.count()).select_from(GatewayNotification)) == 1


def _forged(fake, headers, body):
    signed = fake.signed_headers(body.decode(), signing_key=new_rsa_key())
    return {
        **headers,
        "Wechatpay-Signature": signed["Wechatpay-Signature"],
        "Wechatpay-Nonce": signed["Wechatpay-Nonce"],
        "Wechatpay-Timestamp": signed["Wechatpay-Timestamp"],
    }, body


def _tampered(fake, headers, body):
    changed = body.replace(b'"event_type":"TRANSACTION.SUCCESS"', b'"event_type":"TRANSACTION.SUCCEED"')
    assert changed != body  # ASCII content, so the signed bytes really changed (deps.md trap 19)
    return headers, changed


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda f, no: _forged(f, *f.transaction_notification(no)), 401, "bad_signature"),
        (
            lambda f, no: (
                {**f.transaction_notification(no)[0], "Wechatpay-Serial": "PUB_KEY_ID_OTHER"},
                f.transaction_notification(no)[1],
            ),
            401,
            "unknown_serial",
        ),
        (
            lambda f, no: (lambda h, b: (f.signed_headers(b.decode(), timestamp=int(time.time()) - 360), b))(
                *f.transaction_notification(no)
            ),
            401,
            "stale_timestamp",
        ),
        (lambda f, no: _tampered(f, *f.transaction_notification(no)), 401, "bad_signature"),
        (lambda f, no: f.transaction_notification(no, sp_mchid="1900000999"), 400, "wrong_mchid"),
        (lambda f, no: f.transaction_notification(no, sub_mchid="1900000888"), 400, "wrong_sub_mchid"),
        (
            lambda f, no: f.transaction_notification(no, amount={"total": 1, "payer_total": 1, "currency": "CNY"}),
            400,
            "amount_mismatch",
        ),
        (
            lambda f, no: f.transaction_notification(no, amount={"total": 3250, "currency": "USD"}),
            400,
            "wrong_currency",
        ),
        (lambda f, no: f.transaction_notification(no, out_trade_no="LP_NOT_OURS"), 404, "unknown_trade"),
    ],
    ids=[
        "forged_signature",
        "unknown_serial",
        "stale_timestamp",
        "tampered_body",
        "wrong_mchid",
        "wrong_sub_mchid",
        "wrong_amount",
        "wrong_currency",
        "unknown_order",
    ],
)
def test_a_bad_notification_changes_nothing_and_is_kept_for_admins(
    paying, fake_wechatpay, client, payables, make, status, reason
):
    body, payable_id = paying()
    fake_wechatpay.pay(body["out_trade_no"])

    response = notify(client, *make(fake_wechatpay, body["out_trade_no"]))

    assert response.status_code == status
    assert response.json == {"code": "FAIL", "message": reason}
    assert payment_row(body["id"]).status is PaymentStatus.created
    assert captures() == 0
    assert payables.get(payable_id)["status"] == "open"
    kept = database.session.scalars(sa.select(GatewayNotification)).all()
    assert [(n.verdict, n.reason) for n in kept] == [(Verdict.rejected, reason)]
    assert not fake_wechatpay.calls("/v3/certificates")


def test_a_notification_without_headers_or_with_junk_answers_401_not_500(configured, db, client):
    assert client.post(NOTIFY_WECHAT, data=b"{}").status_code == 401
    assert client.post(NOTIFY_WECHAT, data=b"\xff\xfe", headers={"Wechatpay-Serial": "x"}).status_code == 401


def test_unconfigured_wechat_pay_refuses_notifications(db, client):
    response = client.post(NOTIFY_WECHAT, data=b"{}")
    assert response.status_code == 404
    assert response.json["code"] == "FAIL"


def test_admins_list_rejected_notifications(paying, fake_wechatpay, client, make_user, auth_header):
    body, _ = paying()
    fake_wechatpay.pay(body["out_trade_no"])
    notify(client, *fake_wechatpay.transaction_notification(body["out_trade_no"], sp_mchid="1900000999"))
    admin = make_user("管理员", platform_roles=("admin",))

    response = client.get("/api/v1/admin/payment-gateways/notifications", headers=auth_header(admin))

    assert response.status_code == 200
    assert [(n["reason"], n["out_trade_no"]) for n in response.json] == [("wrong_mchid", body["out_trade_no"])]
    assert (
        client.get("/api/v1/admin/payment-gateways/notifications", headers=auth_header(make_user("居民"))).status_code
        == 403
    )


def test_a_lost_callback_is_settled_by_the_query_job(paying, fake_wechatpay, run_jobs, payables):
    body, payable_id = paying()
    fake_wechatpay.pay(body["out_trade_no"])  # the money arrived; the notification never does
    with atomic():
        database.session.execute(sa.update(Payment).values(created_at=utcnow() - timedelta(minutes=11)))
        outbox.enqueue(jobs.settle_open_payments, utcnow().isoformat())

    run_jobs()

    payment = payment_row(body["id"])
    assert payment.status is PaymentStatus.paid
    assert payment.paid_fen == 3250
    assert payables.get(payable_id)["status"] == "paid"
    assert fake_wechatpay.calls(f"/v3/pay/partner/transactions/out-trade-no/{body['out_trade_no']}", "GET")


def test_the_query_job_leaves_young_and_unpaid_payments_alone(paying, fake_wechatpay, run_jobs):
    young, _ = paying()
    with atomic():
        outbox.enqueue(jobs.settle_open_payments, utcnow().isoformat())
    run_jobs()
    assert payment_row(young["id"]).status is PaymentStatus.created
    assert not fake_wechatpay.calls("/v3/pay/partner/transactions/out-trade-no/", "GET")


def test_the_query_job_closes_a_payment_the_gateway_closed(paying, fake_wechatpay, run_jobs):
    body, _ = paying()
    fake_wechatpay.orders[body["out_trade_no"]].update(trade_state="CLOSED")
    with atomic():
        database.session.execute(sa.update(Payment).values(created_at=utcnow() - timedelta(minutes=11)))
        outbox.enqueue(jobs.settle_open_payments, utcnow().isoformat())
    run_jobs()
    assert payment_row(body["id"]).status is PaymentStatus.closed


def test_an_expired_payment_is_closed_at_wechat_pay_too(paying, fake_wechatpay, run_jobs):
    body, _ = paying()
    make_due()
    run_jobs()
    assert payment_row(body["id"]).status is PaymentStatus.closed
    assert fake_wechatpay.orders[body["out_trade_no"]]["trade_state"] == "CLOSED"


def test_money_arriving_before_the_close_is_taken_not_lost(paying, fake_wechatpay, run_jobs, monkeypatch):
    body, _payable_id = paying()
    fake_wechatpay.pay(body["out_trade_no"])
    # The expiry's query answers "not paid" (the payment raced it); the close then meets ORDERPAID.
    from payments.gateways import channels

    real = channels.WeChatPayChannel.query
    calls = []

    def first_unpaid(self, payment):
        calls.append(1)
        if len(calls) == 1:
            return channels.TradeState("open")
        return real(self, payment)

    monkeypatch.setattr(channels.WeChatPayChannel, "query", first_unpaid)
    make_due()
    run_jobs()
    assert payment_row(body["id"]).status is PaymentStatus.paid


def test_a_refund_and_its_notification(paying, fake_wechatpay, client, run_jobs):
    body, _ = paying()
    fake_wechatpay.pay(body["out_trade_no"])
    notify(client, *fake_wechatpay.transaction_notification(body["out_trade_no"]))
    fake_wechatpay.refund_status = "PROCESSING"
    with atomic():
        refund = refund_payment(body["id"], 1000, "居民申请退款", "test:refund-1")
    run_jobs()
    refund = database.session.get(Refund, refund.id, populate_existing=True)
    assert refund.status is RefundStatus.pending
    assert refund.channel_refund_id
    sent = fake_wechatpay.refunds[refund.out_refund_no]
    assert sent["sub_mchid"] == SUB_MCHID
    assert sent["amount"] == {"refund": 1000, "total": 3250, "currency": "CNY"}

    fake_wechatpay.finish_refund(refund.out_refund_no)
    response = notify(client, *fake_wechatpay.refund_notification(refund.out_refund_no))
    assert response.status_code == 204
    run_jobs()

    refund = database.session.get(Refund, refund.id, populate_existing=True)
    assert refund.status is RefundStatus.succeeded
    events = database.session.scalars(sa.select(GatewayNotification.event_type).order_by(GatewayNotification.id))
    assert list(events) == ["TRANSACTION.SUCCESS", "REFUND.SUCCESS"]


def test_a_refund_notification_with_another_amount_is_rejected(paying, fake_wechatpay, client, run_jobs):
    body, _ = paying()
    fake_wechatpay.pay(body["out_trade_no"])
    notify(client, *fake_wechatpay.transaction_notification(body["out_trade_no"]))
    fake_wechatpay.refund_status = "PROCESSING"
    with atomic():
        refund = refund_payment(body["id"], 1000, "退款", "test:refund-2")
    run_jobs()
    fake_wechatpay.finish_refund(refund.out_refund_no)
    headers, raw = fake_wechatpay.refund_notification(
        refund.out_refund_no, amount={"total": 3250, "refund": 3250, "payer_total": 3250, "payer_refund": 3250}
    )
    assert notify(client, headers, raw).status_code == 400


def test_profit_sharing_is_requested_once_per_order(paying, fake_wechatpay, client, run_jobs, wechatpay_keys):
    body, _ = paying(amount_fen=3250, commission_bps=600)
    assert fake_wechatpay.orders[body["out_trade_no"]]["profit_sharing"] is True  # frozen until shared
    fake_wechatpay.pay(body["out_trade_no"])
    notify(client, *fake_wechatpay.transaction_notification(body["out_trade_no"]))

    first = request_profit_sharing(body["id"])
    again = request_profit_sharing(body["id"])
    run_jobs()
    request_profit_sharing(body["id"])
    run_jobs()

    assert first.id == again.id
    assert len(fake_wechatpay.profit_sharing) == 1
    (sent,) = fake_wechatpay.profit_sharing.values()
    assert sent["receivers"][0]["account"] == wechatpay_keys.sp_mchid
    assert sent["receivers"][0]["amount"] == 195  # 6 % of 32.50, rounded down
    assert len(fake_wechatpay.calls("/v3/profitsharing/orders", "POST")) == 1
    share = database.session.scalar(sa.select(ProfitShare).execution_options(populate_existing=True))
    assert share.status is ShareStatus.finished
    assert share.amount_fen == 195


def test_no_profit_sharing_without_a_commission(paying, fake_wechatpay, client):
    body, _ = paying()
    assert fake_wechatpay.orders[body["out_trade_no"]]["profit_sharing"] is False
    fake_wechatpay.pay(body["out_trade_no"])
    notify(client, *fake_wechatpay.transaction_notification(body["out_trade_no"]))
    assert request_profit_sharing(body["id"]) is None


def test_paying_without_a_wechat_openid_is_refused(configured, payables, make_payee, make_user, client, auth_header):
    phone_user = make_user("手机用户")
    payable_id = payables.add(make_payee(), phone_user, 100)
    response = client.post(
        "/api/v1/payments",
        headers=auth_header(phone_user),
        json={"kind": "test.item", "ids": [payable_id], "channel": "wechatpay"},
    )
    assert response.status_code == 422
    assert response.json["code"] == "wechat_openid_missing"


def test_a_payee_without_a_sub_merchant_cannot_take_wechat_pay(
    configured, payables, make_payee, resident, client, auth_header
):
    payable_id = payables.add(make_payee(sub_mchid=None), resident, 100)
    response = client.post(
        "/api/v1/payments",
        headers=auth_header(resident),
        json={"kind": "test.item", "ids": [payable_id], "channel": "wechatpay"},
    )
    assert response.status_code == 409
    assert response.json["code"] == "payee_unavailable"


def test_wechat_pay_is_unavailable_until_configured(payables, make_payee, resident, client, auth_header):
    payable_id = payables.add(make_payee(), resident, 100)
    response = client.post(
        "/api/v1/payments",
        headers=auth_header(resident),
        json={"kind": "test.item", "ids": [payable_id], "channel": "wechatpay"},
    )
    assert response.status_code == 422
    assert response.json["code"] == "channel_unavailable"


def test_a_gateway_error_at_prepay_answers_502_and_opens_nothing(paying, fake_wechatpay):
    fake_wechatpay.fail_next = 1
    with pytest.raises(AssertionError, match="502"):
        paying()
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_the_phone_app_pays_with_wechat_app_and_the_open_platform_app_id(
    configured, payables, make_payee, resident, open_payment, fake_wechatpay, wechatpay_keys
):
    payee = make_payee()
    body = open_payment(resident, [payables.add(payee, resident, 1880)], "wechat_app")

    params = body["pay_params"]
    assert params["appid"] == wechatpay_keys.open_appid
    assert params["partnerid"] == wechatpay_keys.sp_mchid
    assert params["package"] == "Sign=WXPay"
    message = f"{params['appid']}\n{params['timestamp']}\n{params['noncestr']}\n{params['prepayid']}\n"
    wechatpay_keys.merchant.public_key().verify(
        base64.b64decode(params["sign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert fake_wechatpay.orders[body["out_trade_no"]]["trade_type"] == "APP"
    assert payment_row(body["id"]).channel.value == "wechat_app"


def test_the_issue_channel_names_are_accepted(configured, payables, make_payee, resident, open_payment):
    payee = make_payee()
    jsapi = open_payment(resident, [payables.add(payee, resident, 100)], "wechat_jsapi")
    assert "paySign" in jsapi["pay_params"]


def test_a_refund_sent_while_the_gateway_answers_5xx_is_retried_until_it_settles_once(
    paying, fake_wechatpay, client, run_jobs
):
    """Fault matrix: WeChat Pay answers 500 to the first two refund attempts. Nothing is lost: each failure is
    recorded and a retry is due after the back-off; the third attempt succeeds; the gateway holds one refund (the
    out_refund_no is its idempotency key) and the money moves once."""
    body, _ = paying()
    fake_wechatpay.pay(body["out_trade_no"])
    notify(client, *fake_wechatpay.transaction_notification(body["out_trade_no"]))
    with atomic():
        refund = refund_payment(body["id"], 1250, "居民申请退款", "test:refund-5xx")

    fake_wechatpay.fail_next = 2
    for attempt in (1, 2):
        run_jobs()
        row = database.session.get(Refund, refund.id, populate_existing=True)
        assert (row.status, row.attempts) == (RefundStatus.pending, attempt)
        assert row.last_error == "ChannelError: 支付渠道暂时不可用，请稍后再试"
        assert run_jobs()["pushed"] == 0  # the next attempt waits for its back-off
        make_due()

    run_jobs()
    row = database.session.get(Refund, refund.id, populate_existing=True)
    assert (row.status, row.attempts, row.last_error) == (RefundStatus.succeeded, 3, None)
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values()] == [1250]
    make_due()
    run_jobs()
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 1
