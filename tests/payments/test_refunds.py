"""Refunds: idempotent by key, never more than paid, retried with a back-off, failed ones retried by admins, and
``on_refunded`` told when money went back."""

import contextlib

import pytest
import sqlalchemy as sa

from app.db import atomic
from app.extensions import db as database
from payments import refund
from payments.errors import PaymentNotPaid, PaymentUnapplied, RefundExceedsPaid, RefundKeyReused
from payments.models import ItemState, Payment, Refund, RefundStatus
from payments.refunds import REFUND_BACKOFF
from tests.payments.conftest import make_due
from tests.payments.test_paid import confirm, open_payment, refunds_of, row


@pytest.fixture
def paid(payables, payee, make_resident, api):
    """A paid and applied payment of 1000 fen: (payer, payment public id, payable id)."""
    user, person = make_resident("张三")
    bill = payables.add(payee, person, 1000)
    created = open_payment(api, user, [bill])
    confirm(created["id"])
    return user, created["id"], bill


def test_a_partial_then_the_rest_then_nothing_more(paid, payables, run_jobs):
    _user, payment_id, bill = paid
    with atomic():
        first = refund(payment_id, 300, "少送一份菜", key="order-1:item-3")
    assert (first.status, first.amount_fen) == (RefundStatus.pending, 300)
    assert row(payment_id).refunded_fen == 300
    with atomic():
        rest = refund(payment_id, 700, "取消订单", key="order-1:cancel")
    with pytest.raises(RefundExceedsPaid) as refused, atomic():
        refund(payment_id, 1, "再退一分", key="order-1:more")
    assert refused.value.details == {"refundable_fen": 0}
    run_jobs()
    assert [r.status for r in refunds_of(payment_id)] == [RefundStatus.succeeded] * 2
    assert rest.out_refund_no.startswith("LR")
    # on_refunded heard of each refund with the running total; the full refund frees the payable.
    assert (payables.get(bill)["refund_calls"], payables.get(bill)["refunded_fen"]) == (2, 1000)
    assert [item.state for item in row(payment_id).items] == [ItemState.refunded]


def test_the_same_key_returns_the_first_refund(paid):
    _user, payment_id, _bill = paid
    with atomic():
        first = refund(payment_id, 300, "退款", key="k1")
    with atomic():
        again = refund(payment_id, 300, "退款", key="k1")
    assert again.id == first.id
    assert row(payment_id).refunded_fen == 300
    with pytest.raises(RefundKeyReused), atomic():
        refund(payment_id, 400, "退款", key="k1")


def test_a_refused_refund_leaves_nothing_in_a_caller_that_goes_on(paid):
    _user, payment_id, _bill = paid
    with atomic(), contextlib.suppress(RefundExceedsPaid):
        refund(payment_id, 5000, "太多了", key="too-much")
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0


def test_an_unpaid_payment_cannot_be_refunded(payables, payee, make_resident, api):
    user, person = make_resident("张三")
    created = open_payment(api, user, [payables.add(payee, person, 100)])
    with pytest.raises(PaymentNotPaid), atomic():
        refund(created["id"], 100, "未付款", key="k")


def test_a_refund_failing_twice_then_succeeding(paid, flaky_sandbox, run_jobs, payables):
    _user, payment_id, bill = paid
    channel = flaky_sandbox(2)
    with atomic():
        refund(payment_id, 1000, "取消订单", key="cancel")
    run_jobs()
    [item] = refunds_of(payment_id)
    assert (item.status, item.attempts) == (RefundStatus.pending, 1)
    assert "模拟渠道退款失败 #1" in item.last_error
    assert run_jobs()["pushed"] == 0  # waiting for the back-off
    make_due()
    run_jobs()
    [item] = refunds_of(payment_id)
    assert (item.status, item.attempts) == (RefundStatus.pending, 2)
    make_due()
    run_jobs()
    [item] = refunds_of(payment_id)
    assert (item.status, item.attempts, item.last_error) == (RefundStatus.succeeded, 3, None)
    assert item.channel_refund_id.startswith("SBR")
    assert channel.refund_calls == 3
    assert payables.get(bill)["refunded_fen"] == 1000


def test_a_refund_that_keeps_failing_is_listed_and_an_admin_retries_it(
    paid, flaky_sandbox, run_jobs, make_user, auth_header, client
):
    _user, payment_id, _bill = paid
    flaky_sandbox(len(REFUND_BACKOFF) + 1)
    with atomic():
        refund(payment_id, 400, "取消订单", key="cancel")
    for _ in range(len(REFUND_BACKOFF) + 1):
        make_due()
        run_jobs()
    [item] = refunds_of(payment_id)
    assert (item.status, item.attempts) == (RefundStatus.failed, len(REFUND_BACKOFF) + 1)
    assert row(payment_id).refunded_fen == 400  # still reserved: the admin retries it, nobody refunds it twice

    admin = make_user("管理员", platform_roles=("admin",))
    listed = client.get("/api/v1/admin/refunds", headers=auth_header(admin))
    assert [r["id"] for r in listed.json] == [item.public_id]
    assert listed.json[0]["failed_at"].endswith("+08:00")
    retried = client.post(f"/api/v1/admin/refunds/{item.public_id}/retry", headers=auth_header(admin))
    assert (retried.status_code, retried.json["status"], retried.json["attempts"]) == (200, "pending", 0)
    run_jobs()
    assert refunds_of(payment_id)[0].status is RefundStatus.succeeded
    twice = client.post(f"/api/v1/admin/refunds/{item.public_id}/retry", headers=auth_header(admin))
    assert (twice.status_code, twice.json["code"]) == (409, "refund_not_failed")
    assert client.get("/api/v1/admin/refunds", headers=auth_header(make_user())).status_code == 403


def test_an_admin_refunds_part_of_a_payment_once_per_idempotency_key(paid, make_user, auth_header, client):
    _user, payment_id, _bill = paid
    admin = make_user("管理员", platform_roles=("admin",))
    headers = {**auth_header(admin), "Idempotency-Key": "refund-once"}
    path = f"/api/v1/admin/payments/{payment_id}/refunds"
    first = client.post(path, json={"amount_fen": 250, "reason": "服务未完成"}, headers=headers)
    again = client.post(path, json={"amount_fen": 250, "reason": "服务未完成"}, headers=headers)
    assert first.status_code == 201, first.json
    assert again.json["id"] == first.json["id"]
    assert row(payment_id).refunded_fen == 250
    too_much = client.post(path, json={"amount_fen": 751, "reason": "太多"}, headers=auth_header(admin))
    assert (too_much.status_code, too_much.json["code"]) == (409, "refund_exceeds_paid")
    bad = client.post(path, json={"amount_fen": "250", "reason": "字符串金额"}, headers=auth_header(admin))
    assert bad.status_code == 422
    receipt = client.get(f"/api/v1/payments/{payment_id}/receipt", headers=auth_header(admin)).json
    assert [r["amount_fen"] for r in receipt["refunds"]] == [250]


def test_refund_accepts_a_payment_object_too(paid):
    _user, payment_id, _bill = paid
    payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == payment_id))
    with atomic():
        assert refund(payment, 1000, "全额退款", key="all").amount_fen == 1000


def test_money_not_yet_applied_is_settled_by_the_paid_path_only(payables, payee, make_resident, api):
    from tests.payments.kinds import FAIL_ON_PAID

    user, person = make_resident("张三")
    bill = payables.add(payee, person, 100)
    created = open_payment(api, user, [bill])
    FAIL_ON_PAID[bill] = 1
    confirm(created["id"])
    with pytest.raises(PaymentUnapplied), atomic():
        refund(created["id"], 100, "管理员想退", key="early")
    assert row(created["id"]).refunded_fen == 0
