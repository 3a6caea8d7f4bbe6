"""The paid path: sandbox confirm end to end, late money refunded, handler failures kept as paid_unapplied and
retried, expiry, receipts and lists."""

import pytest
import sqlalchemy as sa

from app.audit import AuditEntry
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow
from payments import mark_paid
from payments.models import Capture, ItemState, Payment, PaymentStatus, Refund, RefundStatus
from tests.payments.conftest import make_due
from tests.payments.kinds import FAIL_ON_PAID, KIND

PAY = "/api/v1/payments"


@pytest.fixture
def resident(payables, make_resident):
    return make_resident("张三")


def open_payment(api, user, ids, channel="sandbox", client_call=None):
    response = (client_call or api)(user, "post", PAY, json={"kind": KIND, "ids": list(ids), "channel": channel})
    assert response.status_code == 201, response.json
    return response.json


def row(public_id: str) -> Payment:
    return database.session.scalar(
        sa.select(Payment).where(Payment.public_id == public_id).execution_options(populate_existing=True)
    )


def refunds_of(public_id: str) -> list[Refund]:
    return database.session.scalars(
        sa.select(Refund)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Payment.public_id == public_id)
        .order_by(Refund.id)
        .execution_options(populate_existing=True)
    ).all()


def confirm(public_id: str, **overrides) -> Payment:
    """What a channel callback does: one call of mark_paid."""
    payment = row(public_id)
    with atomic():
        return mark_paid(
            payment.out_trade_no,
            overrides.get("amount_fen", payment.amount_fen),
            overrides.get("txn", f"T{payment.id}"),
            utcnow(),
            {"test": True},
            channel=payment.channel.value,
        )


@pytest.fixture
def demo_api(demo_client, auth_header):
    def call(user, method, path, **kwargs):
        headers = kwargs.pop("headers", {})
        headers.update(auth_header(user))
        return getattr(demo_client, method)(path, headers=headers, **kwargs)

    return call


def test_sandbox_end_to_end_with_dev_login_and_only_documented_operations(payables, payee, resident, demo_client):
    user, person = resident
    bill = payables.add(payee, person, 12800)
    spec = demo_client.get("/openapi.json").json["paths"]
    assert "post" in spec["/api/v1/auth/dev-login"]
    assert "post" in spec["/api/v1/payments"]
    assert "post" in spec["/api/v1/payments/{payment_id}/sandbox/confirm"]
    assert "get" in spec["/api/v1/payments/{payment_id}/receipt"]
    token = demo_client.post("/api/v1/auth/dev-login", json={"user_public_id": user.public_id}).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    created = demo_client.post(PAY, json={"kind": KIND, "ids": [bill], "channel": "sandbox"}, headers=headers).json
    confirm_path = created["pay_params"]["confirm_path"]
    assert confirm_path == f"/api/v1/payments/{created['id']}/sandbox/confirm"

    def demo_api(_user, method, path, **kwargs):
        return getattr(demo_client, method)(path, headers=headers, **kwargs)

    confirmed = demo_api(user, "post", confirm_path, json={})
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["status"] == "paid"
    assert confirmed.json["paid_at"].endswith("+08:00")
    assert payables.get(bill)["status"] == "paid"
    assert payables.get(bill)["paid_by"] == created["id"]

    again = demo_api(user, "post", confirm_path, json={})  # the same notification again: recorded once
    assert again.status_code == 200
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Capture)) == 1
    assert payables.get(bill)["paid_count"] == 1

    receipt = demo_api(user, "get", f"{PAY}/{created['id']}/receipt")
    assert receipt.status_code == 200
    assert receipt.json["payee"]["name"] == "幸福物业"
    assert receipt.json["paid_fen"] == 12800
    assert receipt.json["receipt_no"] == created["out_trade_no"]
    assert receipt.json["items"][0]["title"] == f"测试款项 {bill}"
    assert receipt.json["paid_at"].endswith("+08:00")
    assert receipt.json["refunds"] == []


def test_sandbox_confirm_is_an_unknown_route_outside_demo_mode(payables, payee, resident, api, client):
    user, person = resident
    created = open_payment(api, user, [payables.add(payee, person, 100)])
    response = api(user, "post", f"{PAY}/{created['id']}/sandbox/confirm", json={})
    unknown = client.post("/api/v1/payments/x/no-such-route", json={})
    assert response.status_code == 404
    assert response.json == unknown.json == {"code": "not_found", "message": "资源不存在", "details": {}}
    paths = client.get("/openapi.json").json["paths"]
    assert not [path for path in paths if "sandbox" in path]
    assert row(created["id"]).status is PaymentStatus.created


def test_sandbox_confirm_only_for_the_payer(payables, payee, resident, make_user, demo_api):
    user, person = resident
    created = open_payment(None, user, [payables.add(payee, person, 100)], client_call=demo_api)
    stranger = demo_api(make_user("路人"), "post", f"{PAY}/{created['id']}/sandbox/confirm", json={})
    assert (stranger.status_code, stranger.json["code"]) == (404, "payment_not_found")


def test_a_success_for_a_closed_payment_is_recorded_then_refunded(payables, payee, resident, api, run_jobs):
    user, person = resident
    bill = payables.add(payee, person, 100)
    first = open_payment(api, user, [bill])
    payables.set(bill, amount_fen=150)
    second = open_payment(api, user, [bill])
    assert row(first["id"]).status is PaymentStatus.closed

    late = confirm(first["id"])
    assert (late.status, late.late_reason.value, late.paid_fen, late.refunded_fen) == (
        PaymentStatus.paid,
        "payment_closed",
        100,
        100,
    )
    assert payables.get(bill)["status"] == "open"  # the payable was not touched
    [refund] = refunds_of(first["id"])
    assert (refund.status, refund.amount_fen, refund.key) == (RefundStatus.pending, 100, f"late:{late.id}")
    run_jobs()
    assert refunds_of(first["id"])[0].status is RefundStatus.succeeded
    assert payables.get(bill)["refund_calls"] == 0  # late money never reached the domain

    paid = confirm(second["id"])
    assert (paid.status, paid.late_reason) == (PaymentStatus.paid, None)
    assert payables.get(bill)["status"] == "paid"


def test_a_success_after_the_payable_was_cancelled_is_refunded(payables, payee, resident, api, run_jobs):
    user, person = resident
    bill = payables.add(payee, person, 300)
    created = open_payment(api, user, [bill])
    payables.set(bill, status="cancelled")  # e.g. the order timed out and its stock went back
    late = confirm(created["id"])
    assert (late.status, late.late_reason.value) == (PaymentStatus.paid, "payable_unavailable")
    assert [item.state for item in late.items] == [ItemState.rejected]
    run_jobs()
    assert [r.status for r in refunds_of(created["id"])] == [RefundStatus.succeeded]
    assert payables.get(bill)["status"] == "cancelled"


def test_another_amount_than_asked_is_refunded(payables, payee, resident, api, run_jobs):
    user, person = resident
    bill = payables.add(payee, person, 300)
    created = open_payment(api, user, [bill])
    odd = confirm(created["id"], amount_fen=299)
    assert (odd.late_reason.value, odd.paid_fen, odd.refunded_fen) == ("amount_mismatch", 299, 299)
    assert payables.get(bill)["status"] == "open"


def test_a_handler_that_refuses_the_money_gets_it_refunded_at_once(payables, payee, resident, api, run_jobs):
    from tests.payments.kinds import REFUSE_ON_PAID

    user, person = resident
    bill = payables.add(payee, person, 300)
    created = open_payment(api, user, [bill])
    REFUSE_ON_PAID.add(bill)
    refused = confirm(created["id"])
    assert (refused.status, refused.late_reason.value, refused.refunded_fen) == (
        PaymentStatus.paid,
        "payable_unavailable",
        300,
    )
    run_jobs()
    assert [r.status for r in refunds_of(created["id"])] == [RefundStatus.succeeded]


def test_a_failing_handler_leaves_paid_unapplied_and_the_retry_job_applies_it(
    payables, payee, resident, api, run_jobs, make_user, auth_header, client
):
    user, person = resident
    bill = payables.add(payee, person, 500)
    created = open_payment(api, user, [bill])
    FAIL_ON_PAID[bill] = 1
    payment = confirm(created["id"])
    assert payment.status is PaymentStatus.paid_unapplied
    assert payment.paid_fen == 500  # the money stands
    assert "物业收费系统暂时不可用" in payment.apply_error
    assert [item.state for item in payment.items] == [ItemState.pending]
    assert payables.get(bill)["status"] == "open"
    alert = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "payment.apply_failed"))
    assert alert.target_id == created["id"]

    admin = make_user("管理员", platform_roles=("admin",))
    worklist = client.get("/api/v1/admin/payments", headers=auth_header(admin))
    assert worklist.status_code == 200
    assert [p["id"] for p in worklist.json] == [created["id"]]
    assert worklist.json[0]["apply_attempts"] == 1
    assert worklist.headers["X-Pagination"]

    # Money received and not applied still holds the payable: no second payment can be opened for it.
    locked = api(user, "post", PAY, json={"kind": KIND, "ids": [bill], "channel": "sandbox"})
    assert (locked.status_code, locked.json["code"]) == (409, "payable_locked")

    assert run_jobs()["pushed"] == 0  # the retry waits for its back-off
    make_due()
    run_jobs()
    payment = row(created["id"])
    assert (payment.status, payment.apply_error) == (PaymentStatus.paid, None)
    assert payables.get(bill)["status"] == "paid"
    assert client.get("/api/v1/admin/payments", headers=auth_header(admin)).json == []


def test_the_retry_refunds_when_the_payable_is_gone_meanwhile(payables, payee, resident, api, run_jobs):
    user, person = resident
    bill = payables.add(payee, person, 500)
    created = open_payment(api, user, [bill])
    FAIL_ON_PAID[bill] = 1
    confirm(created["id"])
    payables.set(bill, status="cancelled")
    make_due()
    run_jobs()
    payment = row(created["id"])
    assert (payment.status, payment.late_reason.value) == (PaymentStatus.paid, "payable_unavailable")
    assert [r.status for r in refunds_of(created["id"])] == [RefundStatus.succeeded]


def test_an_admin_reapplies_a_payment_at_once(payables, payee, resident, api, make_user, auth_header, client):
    user, person = resident
    bill = payables.add(payee, person, 500)
    created = open_payment(api, user, [bill])
    FAIL_ON_PAID[bill] = 2
    confirm(created["id"])
    admin = make_user("管理员", platform_roles=("admin",))
    path = f"/api/v1/admin/payments/{created['id']}/reapply"
    still = client.post(path, headers=auth_header(admin))
    assert (still.status_code, still.json["status"], still.json["apply_attempts"]) == (200, "paid_unapplied", 2)
    done = client.post(path, headers=auth_header(admin))
    assert done.json["status"] == "paid"
    again = client.post(path, headers=auth_header(admin))
    assert (again.status_code, again.json["code"]) == (409, "payment_not_unapplied")
    assert client.post(path, headers=auth_header(user)).status_code == 403


def test_automatic_reapplication_stops_after_its_last_back_off(payables, payee, resident, api, run_jobs):
    from payments.paid import APPLY_BACKOFF

    user, person = resident
    bill = payables.add(payee, person, 500)
    created = open_payment(api, user, [bill])
    FAIL_ON_PAID[bill] = 100
    confirm(created["id"])
    for _ in range(len(APPLY_BACKOFF) + 2):
        make_due()
        run_jobs()
    payment = row(created["id"])
    assert (payment.status, payment.apply_attempts) == (PaymentStatus.paid_unapplied, len(APPLY_BACKOFF) + 1)


def test_an_unknown_out_trade_no_is_refused(payables):
    from payments.errors import UnknownTrade

    with pytest.raises(UnknownTrade), atomic():
        mark_paid("LPnope", 100, "T1", utcnow(), {}, channel="sandbox")


def test_a_second_transaction_for_a_paid_payment_is_kept_for_reconciliation(payables, payee, resident, api):
    user, person = resident
    bill = payables.add(payee, person, 100)
    created = open_payment(api, user, [bill])
    confirm(created["id"], txn="FIRST")
    payment = confirm(created["id"], txn="SECOND")
    assert (payment.channel_txn_id, payment.paid_fen) == ("FIRST", 100)
    captures = database.session.scalars(sa.select(Capture).order_by(Capture.id)).all()
    assert [(c.channel_txn_id, c.counted) for c in captures] == [("FIRST", True), ("SECOND", False)]
    assert database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "payment.second_capture"))


def test_at_expiry_the_job_closes_an_unpaid_payment(payables, payee, resident, api, run_jobs):
    user, person = resident
    bill = payables.add(payee, person, 100)
    created = open_payment(api, user, [bill])
    assert run_jobs()["pushed"] == 0  # not before its time
    make_due()
    run_jobs()
    payment = row(created["id"])
    assert payment.status is PaymentStatus.closed
    assert [item.state for item in payment.items] == [ItemState.closed]
    again = open_payment(api, user, [bill])  # the payable is free again
    assert again["id"] != created["id"]


def test_at_expiry_a_success_the_channel_knows_of_is_taken(payables, payee, resident, api, run_jobs, monkeypatch):
    from payments.channels import SandboxChannel, TradeState

    user, person = resident
    bill = payables.add(payee, person, 100)
    created = open_payment(api, user, [bill])
    monkeypatch.setattr(
        SandboxChannel, "query", lambda self, payment: TradeState("paid", "LOSTNOTIFY1", payment.amount_fen, utcnow())
    )
    make_due()
    run_jobs()
    payment = row(created["id"])
    assert (payment.status, payment.channel_txn_id) == (PaymentStatus.paid, "LOSTNOTIFY1")
    assert payables.get(bill)["status"] == "paid"


def test_a_closed_payment_is_closed_at_the_channel_too(payables, payee, resident, api, run_jobs, monkeypatch):
    from payments.channels import SandboxChannel

    closed = []
    monkeypatch.setattr(SandboxChannel, "close", lambda self, payment: closed.append(payment.public_id))
    user, person = resident
    bill = payables.add(payee, person, 100)
    first = open_payment(api, user, [bill])
    payables.set(bill, amount_fen=200)
    open_payment(api, user, [bill])
    run_jobs()
    assert closed == [first["id"]]
    jobs = database.session.scalars(sa.select(OutboxRow.job)).all()
    assert "payments.jobs.close_at_channel" in jobs


def test_a_payment_and_its_receipt_are_404_for_others(payables, payee, resident, make_user, api):
    user, person = resident
    created = open_payment(api, user, [payables.add(payee, person, 100)])
    stranger = make_user("路人")
    for path in (f"{PAY}/{created['id']}", f"{PAY}/{created['id']}/receipt", f"{PAY}/nope"):
        response = api(stranger, "get", path)
        assert response.status_code == 404
    assert api(user, "get", f"{PAY}/{created['id']}").json["id"] == created["id"]
    unpaid = api(user, "get", f"{PAY}/{created['id']}/receipt")
    assert (unpaid.status_code, unpaid.json["code"]) == (404, "receipt_not_found")
    admin = make_user("管理员", platform_roles=("admin",))
    assert api(admin, "get", f"{PAY}/{created['id']}").status_code == 200


def test_the_resident_a_delegate_paid_for_sees_the_payment(payables, payee, resident, make_resident, api):
    from tests.payments.test_create import delegate

    user, daughter = resident
    mother_user, mother = make_resident("王秀兰", sequence="992")
    delegate(daughter, mother)
    created = open_payment(api, user, [payables.add(payee, mother, 100)])
    assert api(mother_user, "get", f"{PAY}/{created['id']}").status_code == 200


def test_my_payments_are_listed_newest_first_by_cursor(payables, payee, resident, make_user, api):
    user, person = resident
    ids = [open_payment(api, user, [payables.add(payee, person, 100 + n)])["id"] for n in range(3)]
    open_payment(api, other := make_user("别人"), [payables.add(payee, other, 100)])
    first = api(user, "get", f"{PAY}?limit=2").json
    assert [p["id"] for p in first["items"]] == ids[::-1][:2]
    rest = api(user, "get", f"{PAY}?limit=2&cursor={first['next_cursor']}").json
    assert ([p["id"] for p in rest["items"]], rest["next_cursor"]) == ([ids[0]], None)
    confirm(ids[1])
    paid = api(user, "get", f"{PAY}?status=paid").json
    assert [p["id"] for p in paid["items"]] == [ids[1]]
