"""Opening payments: who may pay, one payee per payment, the amount snapshot and the reuse rules."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.resident_models import DelegationStatus
from app.audit import AuditEntry
from app.db import atomic, utcnow
from app.extensions import db as database
from payments.models import ItemState, Payment, PaymentItem, PaymentStatus
from tests.community.fixtures import make_delegation
from tests.payments.kinds import KIND

PAY = "/api/v1/payments"


def pay(api, user, ids, channel="sandbox", **extra):
    return api(user, "post", PAY, json={"kind": KIND, "ids": list(ids), "channel": channel, **extra})


def payment_row(public_id: str) -> Payment:
    return database.session.scalar(
        sa.select(Payment).where(Payment.public_id == public_id).execution_options(populate_existing=True)
    )


@pytest.fixture
def resident(payables, make_resident):
    user, person = make_resident("张三")
    return user, person


def delegate(actor, subject, scopes=("bills",), status=DelegationStatus.active):
    return make_delegation(actor, subject, scopes, status=status)


def test_paying_my_own_payables_snapshots_their_amount(payables, payee, resident, api):
    user, person = resident
    first = payables.add(payee, person, 12000)
    second = payables.add(payee, person, 3050)
    response = pay(api, user, [first, second])
    assert response.status_code == 201, response.json
    body = response.json
    assert body["amount_fen"] == 15050
    assert body["status"] == "created"
    assert body["payee"]["name"] == "幸福物业"
    assert [(i["payable_id"], i["amount_fen"], i["state"]) for i in body["items"]] == [
        (first, 12000, "open"),
        (second, 3050, "open"),
    ]
    assert body["expires_at"].endswith("+08:00")
    assert body["pay_params"] == {"sandbox": True, "out_trade_no": body["out_trade_no"], "amount_fen": 15050}
    assert len(body["out_trade_no"]) <= 32
    assert body["out_trade_no"].isalnum()


def test_a_payable_owed_by_my_account_can_be_paid(payables, payee, make_user, api):
    user = make_user()
    bill = payables.add(payee, user, 500)
    assert pay(api, user, [bill]).status_code == 201


def test_the_client_cannot_send_an_amount(payables, payee, resident, api):
    user, person = resident
    bill = payables.add(payee, person, 12000)
    response = pay(api, user, [bill], amount_fen=1)
    assert (response.status_code, response.json["code"]) == (422, "validation_failed")
    assert "amount_fen" in response.json["details"]["fields"]["json"]


def test_someone_elses_payable_is_404_like_one_that_does_not_exist(payables, payee, resident, make_resident, api):
    user, _person = resident
    _other_user, other = make_resident("李四", sequence="993")
    theirs = payables.add(payee, other, 100)
    refused = pay(api, user, [theirs])
    missing = pay(api, user, ["no-such-bill"])
    assert (refused.status_code, refused.json["code"]) == (404, "payable_not_found")
    assert (missing.status_code, missing.json["code"]) == (404, "payable_not_found")
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_a_delegate_with_the_bills_scope_pays_for_the_subject(payables, payee, resident, make_resident, api):
    user, daughter = resident
    _none, mother = make_resident("王秀兰", sequence="992", account=False)
    delegate(daughter, mother)
    bill = payables.add(payee, mother, 8800)
    response = pay(api, user, [bill])
    assert response.status_code == 201, response.json
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "acting_for"))
    assert (entry.actor_user_id, entry.subject_id, entry.after["scope"]) == (user.id, mother.id, "bills")
    item = database.session.scalar(sa.select(PaymentItem))
    assert item.subject_resident_id == mother.id


@pytest.mark.parametrize(
    ("scopes", "status", "reason"),
    [(("eldercare",), DelegationStatus.active, "scope_missing"), (("bills",), DelegationStatus.pending, "pending")],
)
def test_a_delegation_that_does_not_allow_paying_is_403(
    payables, payee, resident, make_resident, api, scopes, status, reason
):
    user, daughter = resident
    _none, mother = make_resident("王秀兰", sequence="992", account=False)
    delegate(daughter, mother, scopes, status)
    response = pay(api, user, [payables.add(payee, mother, 100)])
    assert (response.status_code, response.json["code"]) == (403, "delegation_denied")
    assert response.json["details"]["reason"] == reason


def test_payables_of_two_payees_are_refused(payables, make_payee, resident, api):
    user, person = resident
    fees = payables.add(make_payee("幸福物业"), person, 100)
    groceries = payables.add(make_payee("楼下菜店"), person, 200)
    response = pay(api, user, [fees, groceries])
    assert (response.status_code, response.json["code"]) == (422, "mixed_payees")


def test_an_inactive_payee_or_unknown_kind_or_channel_is_refused(payables, make_payee, resident, api):
    user, person = resident
    bill = payables.add(make_payee(is_active=False), person, 100)
    assert pay(api, user, [bill]).json["code"] == "payee_unavailable"
    unknown = api(user, "post", PAY, json={"kind": "nope.thing", "ids": [bill], "channel": "sandbox"})
    assert (unknown.status_code, unknown.json["code"]) == (422, "unknown_payable_kind")
    no_wechat = pay(api, user, [bill], channel="wechatpay")
    assert (no_wechat.status_code, no_wechat.json["code"]) == (422, "channel_unavailable")


def test_a_cancelled_or_expired_payable_is_not_payable(payables, payee, resident, api):
    user, person = resident
    cancelled = payables.add(payee, person, 100)
    payables.set(cancelled, status="cancelled")
    expired = payables.add(payee, person, 100, expires_at=utcnow() - timedelta(minutes=1))
    for bill in (cancelled, expired):
        response = pay(api, user, [bill])
        assert (response.status_code, response.json["code"]) == (409, "payable_not_payable")


def test_the_payment_expires_with_its_earliest_payable(payables, payee, resident, api):
    user, person = resident
    soon = utcnow() + timedelta(minutes=15)
    bill = payables.add(payee, person, 100, expires_at=soon)
    later = payables.add(payee, person, 100, expires_at=soon + timedelta(hours=1))
    created = payment_row(pay(api, user, [bill, later]).json["id"])
    assert abs((created.expires_at - soon).total_seconds()) < 1


def test_the_same_request_reuses_the_open_payment(payables, payee, resident, api):
    user, person = resident
    bill = payables.add(payee, person, 100)
    first = pay(api, user, [bill]).json
    again = pay(api, user, [bill]).json
    assert again["id"] == first["id"]
    assert again["out_trade_no"] == first["out_trade_no"]


def test_a_changed_amount_closes_the_open_payment_and_opens_a_new_one(payables, payee, resident, api):
    user, person = resident
    bill = payables.add(payee, person, 100)
    first = pay(api, user, [bill]).json
    payables.set(bill, amount_fen=120)  # e.g. a late fee was added
    second = pay(api, user, [bill]).json
    assert second["id"] != first["id"]
    assert second["amount_fen"] == 120
    old = payment_row(first["id"])
    assert old.status is PaymentStatus.closed
    assert [item.state for item in old.items] == [ItemState.closed]


def test_another_channel_closes_the_open_payment(payables, payee, resident, api, fake_alipay):
    user, person = resident
    bill = payables.add(payee, person, 100)
    first = pay(api, user, [bill]).json
    second = pay(api, user, [bill], channel="alipay").json
    assert second["id"] != first["id"]
    assert second["channel"] == "alipay"
    assert payment_row(first["id"]).status is PaymentStatus.closed


def test_a_different_set_of_payables_closes_the_open_payment(payables, payee, resident, api):
    user, person = resident
    bill, other = payables.add(payee, person, 100), payables.add(payee, person, 200)
    first = pay(api, user, [bill]).json
    second = pay(api, user, [bill, other]).json
    assert second["amount_fen"] == 300
    assert payment_row(first["id"]).status is PaymentStatus.closed


def test_an_open_payment_about_to_expire_is_not_reused(payables, payee, resident, api):
    user, person = resident
    bill = payables.add(payee, person, 100)
    first = pay(api, user, [bill]).json
    with atomic():
        database.session.execute(
            sa.update(Payment)
            .where(Payment.public_id == first["id"])
            .values(expires_at=utcnow() + timedelta(seconds=20))
        )
    second = pay(api, user, [bill]).json
    assert second["id"] != first["id"]
    assert payment_row(first["id"]).status is PaymentStatus.closed


def test_an_idempotency_key_replays_the_first_answer(payables, payee, resident, api):
    user, person = resident
    bill = payables.add(payee, person, 100)
    headers = {"Idempotency-Key": "pay-once-1"}
    first = api(user, "post", PAY, json={"kind": KIND, "ids": [bill], "channel": "sandbox"}, headers=dict(headers))
    again = api(user, "post", PAY, json={"kind": KIND, "ids": [bill], "channel": "sandbox"}, headers=dict(headers))
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json


def test_the_live_index_refuses_a_second_live_payment_for_a_payable(payables, payee, resident, api):
    """The partial unique index, not Python, keeps one live payment per payable: an item inserted for a payable
    that another live payment holds is refused even when the reuse logic is bypassed."""
    from sqlalchemy.exc import IntegrityError

    user, person = resident
    bill = payables.add(payee, person, 100)
    first = payment_row(pay(api, user, [bill]).json["id"])
    with pytest.raises(IntegrityError), atomic():
        copy = Payment(
            kind=KIND,
            payer_user_id=user.id,
            payee_id=payee.id,
            channel=first.channel,
            amount_fen=100,
            expires_at=first.expires_at,
        )
        copy.items = [PaymentItem(kind=KIND, payable_id=bill, title="x", amount_fen=100)]
        database.session.add(copy)
        database.session.flush()
