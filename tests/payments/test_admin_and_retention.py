"""Payees (admin CRUD), the access rule of every payments endpoint, and what account deletion keeps."""

import sqlalchemy as sa

from app.accounts import consent
from app.auth.linking import holds_data
from app.extensions import db as database
from payments.models import Payee, Payment
from payments.payees import alipay_app_auth_token
from tests.payments.test_paid import confirm, open_payment

PAYEES = "/api/v1/admin/payees"


def test_admins_create_list_change_and_delete_payees(db, make_user, api):
    admin = make_user("管理员", platform_roles=("admin",))
    created = api(
        admin,
        "post",
        PAYEES,
        json={
            "name": "阳光养老服务中心",
            "kind": "care_provider",
            "wechat_sub_mchid": "1900000109",
            "alipay_app_auth_token": "202611BBa1f2c3d4e5f6",
            "commission_bps": 300,
        },
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert body["has_alipay_app_auth"] is True
    assert "alipay_app_auth_token" not in body
    payee = database.session.scalar(sa.select(Payee).where(Payee.public_id == body["id"]))
    assert b"202611BB" not in payee.alipay_app_auth_token_ciphertext  # stored encrypted
    assert alipay_app_auth_token(payee) == "202611BBa1f2c3d4e5f6"

    duplicate = api(admin, "post", PAYEES, json={"name": "另一家", "kind": "vendor", "wechat_sub_mchid": "1900000109"})
    assert (duplicate.status_code, duplicate.json["code"]) == (409, "payee_exists")
    negative = api(admin, "post", PAYEES, json={"name": "负佣金", "kind": "vendor", "commission_bps": -1})
    assert negative.status_code == 422

    listed = api(admin, "get", PAYEES)
    assert [p["id"] for p in listed.json] == [body["id"]]
    assert listed.headers["X-Pagination"]
    changed = api(admin, "patch", f"{PAYEES}/{body['id']}", json={"is_active": False, "alipay_app_auth_token": None})
    assert (changed.json["is_active"], changed.json["has_alipay_app_auth"]) == (False, False)
    assert api(admin, "get", f"{PAYEES}/{body['id']}").json["commission_bps"] == 300
    assert api(admin, "delete", f"{PAYEES}/{body['id']}").status_code == 204
    assert api(admin, "get", f"{PAYEES}/{body['id']}").status_code == 404
    resident = make_user("居民")
    assert api(resident, "get", PAYEES).status_code == 403
    assert api(resident, "post", PAYEES, json={"name": "x", "kind": "vendor"}).status_code == 403


def test_a_payee_that_was_paid_cannot_be_deleted(payables, payee, make_resident, make_user, api):
    user, person = make_resident("张三")
    open_payment(api, user, [payables.add(payee, person, 100)])
    admin = make_user("管理员", platform_roles=("admin",))
    response = api(admin, "delete", f"{PAYEES}/{payee.public_id}")
    assert (response.status_code, response.json["code"]) == (409, "payee_in_use")


def test_every_payments_endpoint_declares_its_access_rule(client):
    paths = client.get("/openapi.json").json["paths"]
    operations = {
        (path, method): operation
        for path, item in paths.items()
        # The gateways' callbacks are public on purpose: their signature is the check (tests/payments_gateways).
        if ("/payments" in path or "/payees" in path or "/refunds" in path) and "/payments/notify/" not in path
        for method, operation in item.items()
        if method in ("get", "post", "patch", "put", "delete")
    }
    assert len(operations) == 15
    for (path, _method), operation in operations.items():
        access = operation["x-access"]
        assert access["public"] is False
        if path.startswith("/api/v1/admin/"):
            assert access["platform_roles"] == ["admin"]
        else:
            assert access["platform_roles"] == []


def test_account_deletion_keeps_payments_and_export_lists_them(payables, payee, make_resident, api):
    user, person = make_resident("要注销")
    bill = payables.add(payee, person, 2500)
    created = open_payment(api, user, [bill])
    confirm(created["id"])
    assert holds_data(user.id)  # linking two accounts treats one with payments as holding data

    exported = api(user, "get", "/api/v1/me/export")
    assert exported.status_code == 200
    assert [p["id"] for p in exported.json["domains"]["payments.records"]] == [created["id"]]
    assert exported.json["domains"]["payments.records"][0]["paid_fen"] == 2500

    erased = api(user, "delete", "/api/v1/me", query_string={"confirm": "true"})
    assert erased.status_code == 200, erased.json
    assert "payments.records" in [k["name"] for k in erased.json["kept"]]
    assert "payments.records" in consent.RETENTIONS
    database.session.expire_all()
    kept = database.session.scalar(sa.select(Payment).where(Payment.public_id == created["id"]))
    assert (kept.paid_fen, kept.payer_user_id, kept.items[0].subject_resident_id) == (2500, user.id, person.id)
