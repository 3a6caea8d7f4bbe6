"""Profit sharing (分账) through the real SDKs against the fake gateways: Alipay royalty settlement once per payment,
and the commission returned (分账回退) before refunds on both gateways, proportionally, once, with lost answers
asked about."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa

from app.audit import AuditEntry
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from payments import refund as refund_payment
from payments.gateways.models import AlipaySeller, ProfitShare, ReturnStatus, ShareReturn, ShareStatus
from payments.gateways.profit_sharing import request_profit_sharing
from payments.models import Payee, Refund, RefundStatus
from payments.refunds import REFUND_BACKOFF, WAIT_LIMIT
from tests.payments_gateways.conftest import NOTIFY_ALIPAY, NOTIFY_WECHAT, ROYALTY_ACCOUNT

#: Short enough for a test, shorter than the fakes' slow answers (1.5 s).
TIMEOUT = 0.5


def make_due() -> None:
    with atomic():
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.status == OutboxStatus.pending).values(run_at=utcnow())
        )


def share_row() -> ProfitShare:
    return database.session.scalar(sa.select(ProfitShare).execution_options(populate_existing=True))


def refund_row(refund_id: int) -> Refund:
    return database.session.get(Refund, refund_id, populate_existing=True)


# --- Alipay --------------------------------------------------------------------------------------------------------


@pytest.fixture
def merchant(fake_alipay):
    return fake_alipay.add_merchant()


@pytest.fixture
def alipay_paid(configured, payables, make_payee, resident, open_payment, merchant, fake_alipay, client):
    """``alipay_paid(amount_fen, commission_bps)`` → the paid payment's body: opened, paid and notified."""
    payees = {}

    def pay(amount_fen: int = 3250, commission_bps: int = 600) -> dict:
        if commission_bps not in payees:
            payees[commission_bps] = make_payee(
                sub_mchid=None, alipay_token=merchant.app_auth_token, commission_bps=commission_bps
            )
        body = open_payment(resident, [payables.add(payees[commission_bps], resident, amount_fen)], "alipay")
        fake_alipay.accept_order_string(body["pay_params"]["order_string"])
        fake_alipay.pay(body["out_trade_no"])
        assert client.post(NOTIFY_ALIPAY, data=fake_alipay.notification(body["out_trade_no"])).data == b"success"
        return body

    return pay


def test_an_alipay_commission_is_frozen_at_payment_and_settled_once(alipay_paid, fake_alipay, merchant, run_jobs):
    body = alipay_paid(3250, 600)
    order = dict(parse_qsl(body["pay_params"]["order_string"]))
    assert json.loads(order["biz_content"])["extend_params"] == {"royalty_freeze": "true"}
    assert fake_alipay.settlements == {}  # not before the payee confirms fulfilment

    first = request_profit_sharing(body["id"])
    again = request_profit_sharing(body["id"])
    run_jobs()
    request_profit_sharing(body["id"])
    run_jobs()

    assert first.id == again.id
    (settled,) = fake_alipay.settlements.values()
    assert settled["royalty_parameters"] == [
        {
            "royalty_type": "transfer",
            "trans_in_type": "userId",
            "trans_in": ROYALTY_ACCOUNT,
            "amount": "1.95",  # 6 % of 32.50, rounded down to the fen
            "desc": "平台服务费",
        }
    ]
    assert settled["royalty_finish"] is True  # the rest is unfrozen for the payee
    assert settled["out_request_no"] == first.out_order_no
    assert [call.app_auth_token for call in fake_alipay.seen("alipay.trade.order.settle")] == [merchant.app_auth_token]
    share = share_row()
    assert (share.status, share.amount_fen) == (ShareStatus.finished, 195)
    assert fake_alipay.royalty_receivers == {merchant.seller_id: {ROYALTY_ACCOUNT}}


def test_the_royalty_relation_is_bound_once_per_seller(alipay_paid, fake_alipay, run_jobs):
    for _ in range(2):
        request_profit_sharing(alipay_paid(1000, 600)["id"])
        run_jobs()
    assert len(fake_alipay.seen("alipay.trade.royalty.relation.bind")) == 1
    assert len(fake_alipay.settlements) == 2
    seller = database.session.scalar(sa.select(AlipaySeller).execution_options(populate_existing=True))
    assert seller.royalty_account == ROYALTY_ACCOUNT
    assert seller.royalty_bound_at is not None


def test_a_lost_settle_answer_is_asked_about_not_settled_again(alipay_paid, fake_alipay, run_jobs, app, monkeypatch):
    body = alipay_paid(3250, 600)
    monkeypatch.setitem(app.config, "PAYMENTS_GATEWAY_TIMEOUT", TIMEOUT)
    fake_alipay.fault_method, fake_alipay.slow_next = "alipay.trade.order.settle", 1
    request_profit_sharing(body["id"])
    run_jobs()
    share = share_row()
    assert (share.status, share.attempts) == (ShareStatus.pending, 1)
    assert "timeout" in share.last_error
    assert len(fake_alipay.settlements) == 1  # Alipay settled; we did not hear it

    make_due()
    run_jobs()

    assert (share_row().status, share_row().amount_fen) == (ShareStatus.finished, 195)
    assert len(fake_alipay.seen("alipay.trade.order.settle.query")) == 1
    assert len(fake_alipay.seen("alipay.trade.order.settle")) == 1
    assert len(fake_alipay.settlements) == 1


def test_a_commission_of_zero_fen_only_unfreezes(alipay_paid, fake_alipay, run_jobs):
    body = alipay_paid(100, 50)  # 0.5 % of 1.00 yuan rounds down to 0 fen
    request_profit_sharing(body["id"])
    run_jobs()
    (settled,) = fake_alipay.settlements.values()
    assert (settled["royalty_parameters"], settled["royalty_finish"]) == ([], True)
    assert not fake_alipay.seen("alipay.trade.royalty.relation.bind")
    assert (share_row().status, share_row().amount_fen) == (ShareStatus.finished, 0)


def test_no_alipay_for_a_commission_payee_without_a_royalty_account(
    configured, app, payables, make_payee, resident, client, auth_header, merchant, monkeypatch
):
    monkeypatch.setitem(app.config, "ALIPAY_ROYALTY_ACCOUNT", None)
    payee = make_payee(sub_mchid=None, alipay_token=merchant.app_auth_token, commission_bps=600)
    response = client.post(
        "/api/v1/payments",
        headers=auth_header(resident),
        json={"kind": "test.item", "ids": [payables.add(payee, resident, 100)], "channel": "alipay"},
    )
    assert (response.status_code, response.json["code"]) == (409, "payee_unavailable")


def test_alipay_refunds_take_the_commission_back_proportionally(alipay_paid, fake_alipay, run_jobs):
    body = alipay_paid(3250, 600)
    request_profit_sharing(body["id"])
    run_jobs()

    with atomic():
        first = refund_payment(body["id"], 1000, "部分退款", "test:part-1")
    run_jobs()
    with atomic():
        second = refund_payment(body["id"], 2250, "余额退款", "test:part-2")
    run_jobs()

    assert refund_row(first.id).status is RefundStatus.succeeded
    assert refund_row(second.id).status is RefundStatus.succeeded
    backs = [fake_alipay.refunds[row.out_refund_no]["royalty_back"] for row in (first, second)]
    # The platform keeps 6 % of what stays paid, rounded down: 135 fen of 2250, then 0: returns 60 and 135.
    assert backs == [[(ROYALTY_ACCOUNT, 60)], [(ROYALTY_ACCOUNT, 135)]]
    returns = database.session.scalars(sa.select(ShareReturn).order_by(ShareReturn.id)).all()
    assert [(r.amount_fen, r.status) for r in returns] == [(60, ReturnStatus.finished), (135, ReturnStatus.finished)]


def test_an_alipay_refund_before_sharing_takes_nothing_back_and_no_share_follows(alipay_paid, fake_alipay, run_jobs):
    body = alipay_paid(3250, 600)
    with atomic():
        refund = refund_payment(body["id"], 3250, "取消订单", "test:cancel")
    run_jobs()
    assert refund_row(refund.id).status is RefundStatus.succeeded
    assert fake_alipay.refunds[refund.out_refund_no]["royalty_back"] == []

    share = request_profit_sharing(body["id"])
    run_jobs()
    assert share.status is ShareStatus.skipped
    assert fake_alipay.settlements == {}


def test_a_lost_alipay_refund_answer_is_asked_about(alipay_paid, fake_alipay, run_jobs, app, monkeypatch):
    body = alipay_paid(3250, 600)
    request_profit_sharing(body["id"])
    run_jobs()
    monkeypatch.setitem(app.config, "PAYMENTS_GATEWAY_TIMEOUT", TIMEOUT)
    fake_alipay.fault_method, fake_alipay.slow_next = "alipay.trade.refund", 1
    with atomic():
        refund = refund_payment(body["id"], 1000, "部分退款", "test:lost")
    run_jobs()
    assert (refund_row(refund.id).status, refund_row(refund.id).attempts) == (RefundStatus.pending, 1)

    make_due()
    run_jobs()

    assert refund_row(refund.id).status is RefundStatus.succeeded
    assert len(fake_alipay.seen("alipay.trade.refund")) == 1
    assert fake_alipay.seen("alipay.trade.fastpay.refund.query")
    assert fake_alipay.refunds[refund.out_refund_no]["royalty_back"] == [(ROYALTY_ACCOUNT, 60)]
    assert database.session.scalar(sa.select(ShareReturn.status)) is ReturnStatus.finished


# --- WeChat Pay ----------------------------------------------------------------------------------------------------


@pytest.fixture
def wechat_paid(configured, payables, make_payee, resident, open_payment, fake_wechatpay, client):
    def pay(amount_fen: int = 3250, commission_bps: int = 600) -> dict:
        payee = make_payee(commission_bps=commission_bps)
        body = open_payment(resident, [payables.add(payee, resident, amount_fen)], "wechatpay")
        fake_wechatpay.pay(body["out_trade_no"])
        headers, raw = fake_wechatpay.transaction_notification(body["out_trade_no"])
        assert client.post(NOTIFY_WECHAT, data=raw, headers=headers).status_code == 204
        return body

    return pay


def paths(fake) -> list[tuple[str, str]]:
    return [(seen.method, seen.path) for seen in fake.requests if "profitsharing" in seen.path or "refund" in seen.path]


def test_wechat_refunds_return_the_commission_first_proportionally(
    wechat_paid, fake_wechatpay, run_jobs, wechatpay_keys
):
    body = wechat_paid(3250, 600)
    share = request_profit_sharing(body["id"])
    run_jobs()
    with atomic():
        first = refund_payment(body["id"], 1000, "部分退款", "test:wx-1")
    run_jobs()
    with atomic():
        second = refund_payment(body["id"], 2250, "余额退款", "test:wx-2")
    run_jobs()

    assert [r["amount"] for r in fake_wechatpay.returns.values()] == [60, 135]
    assert {r["return_mchid"] for r in fake_wechatpay.returns.values()} == {wechatpay_keys.sp_mchid}
    assert {r["out_order_no"] for r in fake_wechatpay.returns.values()} == {share.out_order_no}
    assert paths(fake_wechatpay) == [
        ("POST", "/v3/profitsharing/orders"),
        ("POST", "/v3/profitsharing/return-orders"),  # the commission part first …
        ("POST", "/v3/refund/domestic/refunds"),  # … then the refund
        ("POST", "/v3/profitsharing/return-orders"),
        ("POST", "/v3/refund/domestic/refunds"),
    ]
    assert refund_row(first.id).status is RefundStatus.succeeded
    assert refund_row(second.id).status is RefundStatus.succeeded


def test_a_lost_return_answer_is_asked_about_and_the_refund_follows_once(
    wechat_paid, fake_wechatpay, run_jobs, app, monkeypatch
):
    body = wechat_paid(3250, 600)
    request_profit_sharing(body["id"])
    run_jobs()
    monkeypatch.setitem(app.config, "PAYMENTS_GATEWAY_TIMEOUT", TIMEOUT)
    fake_wechatpay.slow_next = 1  # the return is made, its answer lost
    with atomic():
        refund = refund_payment(body["id"], 3250, "全额退款", "test:wx-lost")
    run_jobs()
    row = refund_row(refund.id)
    assert (row.status, row.attempts) == (RefundStatus.pending, 1)
    assert row.last_error.startswith("ChannelTimeout")
    assert not fake_wechatpay.refunds

    make_due()
    run_jobs()

    assert refund_row(refund.id).status is RefundStatus.succeeded
    assert [r["amount"] for r in fake_wechatpay.returns.values()] == [195]
    assert fake_wechatpay.calls("/v3/profitsharing/return-orders/", "GET")
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values()] == [3250]


def test_a_refund_waits_for_a_return_wechat_is_still_processing(wechat_paid, fake_wechatpay, run_jobs):
    body = wechat_paid(3250, 600)
    request_profit_sharing(body["id"])
    run_jobs()
    fake_wechatpay.return_result = "PROCESSING"
    with atomic():
        refund = refund_payment(body["id"], 1000, "部分退款", "test:wx-wait")
    run_jobs()
    row = refund_row(refund.id)
    assert (row.status, row.attempts) == (RefundStatus.pending, 0)  # waiting is not a failed attempt
    assert not fake_wechatpay.refunds

    (made,) = fake_wechatpay.returns.values()
    made["result"] = "SUCCESS"
    make_due()
    run_jobs()
    assert refund_row(refund.id).status is RefundStatus.succeeded
    assert len(fake_wechatpay.returns) == 1


def test_a_refund_waits_for_a_share_in_flight(wechat_paid, fake_wechatpay, run_jobs):
    body = wechat_paid(3250, 600)
    request_profit_sharing(body["id"])
    with atomic():
        refund = refund_payment(body["id"], 1000, "部分退款", "test:wx-inflight")
        # The refund job happens to run before the share's.
        database.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.job.like("%share_profit%"))
            .values(run_at=utcnow() + timedelta(hours=1))
        )
    run_jobs()
    assert refund_row(refund.id).status is RefundStatus.pending
    assert not fake_wechatpay.refunds

    make_due()
    run_jobs()  # the share first (commission on 3250 − 1000 = 135 fen), then the refund: nothing to return
    make_due()
    run_jobs()
    assert share_row().amount_fen == 135
    assert refund_row(refund.id).status is RefundStatus.succeeded
    assert fake_wechatpay.returns == {}


def test_a_failed_return_is_retried_under_a_new_number_before_any_money_goes_back(
    wechat_paid, fake_wechatpay, run_jobs
):
    body = wechat_paid(3250, 600)
    request_profit_sharing(body["id"])
    run_jobs()
    fake_wechatpay.return_result = "FAILED"
    with atomic():
        refund = refund_payment(body["id"], 3250, "全额退款", "test:wx-return-failed")
    run_jobs()
    row = refund_row(refund.id)
    assert (row.status, row.attempts) == (RefundStatus.pending, 1)
    assert "分账回退失败" in row.last_error
    assert not fake_wechatpay.refunds  # no money back to the payer while the commission is not back

    fake_wechatpay.return_result = "SUCCESS"
    make_due()
    run_jobs()

    assert refund_row(refund.id).status is RefundStatus.succeeded
    results = [(r["amount"], r["result"]) for r in fake_wechatpay.returns.values()]
    assert results == [(195, "FAILED"), (195, "SUCCESS")]
    assert len({r["out_return_no"] for r in fake_wechatpay.returns.values()}) == 2
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values()] == [3250]


# --- a refund between share attempts, and waits that end ---------------------------------------------------------


@pytest.mark.parametrize(("refund_fen", "returned"), [(1000, 60), (3250, 195)])
def test_a_refund_between_wechat_share_attempts_returns_what_wechat_took(
    wechat_paid, fake_wechatpay, run_jobs, app, monkeypatch, refund_fen, returned
):
    body = wechat_paid(3250, 600)
    monkeypatch.setitem(app.config, "PAYMENTS_GATEWAY_TIMEOUT", TIMEOUT)
    fake_wechatpay.slow_next = 1  # WeChat Pay shares 195 fen; we never hear it
    request_profit_sharing(body["id"])
    run_jobs()
    share = share_row()
    assert (share.status, share.attempts) == (ShareStatus.pending, 1)
    with atomic():
        refund = refund_payment(body["id"], refund_fen, "退款", "test:wx-between")
    run_jobs()
    assert refund_row(refund.id).status is RefundStatus.pending  # waits for the share
    assert not fake_wechatpay.refunds

    for _ in range(2):  # the share's second attempt, then the refund
        make_due()
        run_jobs()

    share = share_row()
    assert (share.status, share.amount_fen) == (ShareStatus.finished, 195)  # what WeChat Pay reports it took
    assert fake_wechatpay.calls("/v3/profitsharing/orders/", "GET")  # asked before deciding anything
    assert len(fake_wechatpay.calls("/v3/profitsharing/orders", "POST")) == 1
    assert [r["amount"] for r in fake_wechatpay.returns.values()] == [returned]
    assert refund_row(refund.id).status is RefundStatus.succeeded
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values()] == [refund_fen]


@pytest.mark.parametrize(("refund_fen", "returned"), [(1000, 60), (3250, 195)])
def test_a_refund_between_alipay_share_attempts_returns_what_alipay_took(
    alipay_paid, fake_alipay, run_jobs, app, monkeypatch, refund_fen, returned
):
    body = alipay_paid(3250, 600)
    monkeypatch.setitem(app.config, "PAYMENTS_GATEWAY_TIMEOUT", TIMEOUT)
    fake_alipay.fault_method, fake_alipay.slow_next = "alipay.trade.order.settle", 1
    request_profit_sharing(body["id"])
    run_jobs()
    assert (share_row().status, share_row().attempts) == (ShareStatus.pending, 1)
    with atomic():
        refund = refund_payment(body["id"], refund_fen, "退款", "test:ali-between")
    run_jobs()
    assert refund_row(refund.id).status is RefundStatus.pending

    for _ in range(2):
        make_due()
        run_jobs()

    assert (share_row().status, share_row().amount_fen) == (ShareStatus.finished, 195)
    assert len(fake_alipay.seen("alipay.trade.order.settle.query")) == 1
    assert len(fake_alipay.seen("alipay.trade.order.settle")) == 1
    assert refund_row(refund.id).status is RefundStatus.succeeded
    assert fake_alipay.refunds[refund.out_refund_no]["royalty_back"] == [(ROYALTY_ACCOUNT, returned)]


def test_a_share_whose_alipay_authorisation_was_withdrawn_fails_for_admins(alipay_paid, run_jobs):
    body = alipay_paid(3250, 600)
    with atomic():
        database.session.execute(sa.update(Payee).values(alipay_app_auth_token_ciphertext=None))
    request_profit_sharing(body["id"])
    run_jobs()

    share = share_row()
    assert share.status is ShareStatus.failed  # not pending for ever behind a dead job
    assert share.last_error.startswith("no_app_auth_token")
    rows = database.session.scalars(sa.select(OutboxRow).where(OutboxRow.job.like("%share_profit%"))).all()
    assert [row.status for row in rows] == [OutboxStatus.done]
    audited = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "payment.profit_sharing_failed"))
    assert audited.reason == "分账失败，需管理员处理"


def test_a_share_with_wechat_pay_unconfigured_fails_and_refunds_no_longer_wait(
    wechat_paid, fake_wechatpay, run_jobs, app, monkeypatch
):
    body = wechat_paid(3250, 600)
    monkeypatch.setitem(app.config, "WECHATPAY_SP_MCHID", None)
    request_profit_sharing(body["id"])
    run_jobs()
    share = share_row()
    assert (share.status, share.last_error) == (ShareStatus.failed, "not_configured: WeChat Pay is not configured")

    monkeypatch.undo()
    with atomic():
        refund = refund_payment(body["id"], 1000, "部分退款", "test:wx-after-failed")
    run_jobs()
    assert refund_row(refund.id).status is RefundStatus.succeeded
    assert not fake_wechatpay.calls("/v3/profitsharing")


def make_refunds_due() -> None:
    with atomic():
        database.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.status == OutboxStatus.pending, OutboxRow.job.like("%run_refund%"))
            .values(run_at=utcnow())
        )


def requested_ago(refund_id: int, ago: timedelta) -> None:
    with atomic():
        database.session.execute(sa.update(Refund).where(Refund.id == refund_id).values(created_at=utcnow() - ago))


def test_a_refund_stops_waiting_for_a_share_after_an_hour_and_fails_for_admins(
    wechat_paid, fake_wechatpay, run_jobs, make_user, auth_header, client
):
    body = wechat_paid(3250, 600)
    request_profit_sharing(body["id"])
    with atomic():
        refund = refund_payment(body["id"], 1000, "部分退款", "test:wx-stuck")
        # The share's job is stuck (its worker down): it will not run in this test.
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.job.like("%share_profit%")).values(run_at=utcnow() + timedelta(days=1))
        )
    run_jobs()
    requested_ago(refund.id, WAIT_LIMIT - timedelta(minutes=1))
    make_refunds_due()
    run_jobs()
    assert (refund_row(refund.id).status, refund_row(refund.id).attempts) == (RefundStatus.pending, 0)  # still waits

    requested_ago(refund.id, WAIT_LIMIT)
    make_refunds_due()
    run_jobs()
    row = refund_row(refund.id)
    assert (row.status, row.attempts) == (RefundStatus.pending, 1)  # now an attempt, with the back-off
    assert "profit_sharing_in_progress" in row.last_error

    for _ in range(len(REFUND_BACKOFF)):
        make_refunds_due()
        run_jobs()
    assert refund_row(refund.id).status is RefundStatus.failed
    assert not fake_wechatpay.refunds

    admin = make_user("管理员", platform_roles=("admin",))
    listed = client.get("/api/v1/admin/refunds", headers=auth_header(admin)).json
    assert [(r["id"], r["attempts"]) for r in listed] == [(refund.public_id, len(REFUND_BACKOFF) + 1)]
    assert listed[0]["last_error"] == "ChannelError: 退款等待渠道处理已超过1小时（profit_sharing_in_progress）"


def test_a_return_counts_refunds_still_in_flight_as_the_share_did(wechat_paid, fake_wechatpay, run_jobs):
    body = wechat_paid(3250, 600)
    fake_wechatpay.refund_status = "PROCESSING"
    with atomic():
        first = refund_payment(body["id"], 1000, "部分退款", "test:wx-r1")
    run_jobs()
    assert refund_row(first.id).status is RefundStatus.pending  # still processing at WeChat Pay
    request_profit_sharing(body["id"])
    run_jobs()
    assert share_row().amount_fen == 135  # 6 % of the 2250 that stay paid

    with atomic():
        second = refund_payment(body["id"], 2250, "余额退款", "test:wx-r2")
    run_jobs()
    # Nothing stays paid: the whole share goes back (not 135 − 6 % of the 1000 R1 has not finished refunding).
    assert [r["amount"] for r in fake_wechatpay.returns.values()] == [135]
    assert refund_row(second.id).status is RefundStatus.pending  # its refund is processing at WeChat Pay too
