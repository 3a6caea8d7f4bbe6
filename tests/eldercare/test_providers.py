"""Providers: application, approval by staff of a served community (naming the payee), offers and the catalogue."""

from app.db import atomic
from app.extensions import db as database
from payments.models import Payee, PayeeKind
from tests.eldercare.fixtures import E


def test_provider_is_approved_by_staff_of_a_served_community_with_a_payee(api, tree, make_user, make_staff):
    applicant = make_user("申请人")
    applied = api(
        applicant,
        "post",
        f"{E}/providers",
        json={
            "name": "夕阳红助老服务社",
            "licence_no": "52110101MJ0000009X",
            "contact_phone": "010-66668888",
            "community_ids": [tree.a.public_id],
        },
    )
    assert applied.status_code == 201, applied.json
    provider_id = applied.json["id"]
    assert applied.json["status"] == "pending"

    other_staff = make_staff(tree.c)
    assert api(other_staff, "post", f"{E}/providers/{provider_id}/approve", json={}).status_code == 404
    staff = make_staff(tree.a)
    without_payee = api(staff, "post", f"{E}/providers/{provider_id}/approve", json={})
    assert without_payee.status_code == 422
    with atomic():
        payee = Payee(name="夕阳红助老服务社", kind=PayeeKind.vendor)
        database.session.add(payee)
    approved = api(staff, "post", f"{E}/providers/{provider_id}/approve", json={"payee_id": payee.public_id})
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved"
    assert api(applicant, "post", f"{E}/providers/{provider_id}/approve", json={}).status_code == 403

    admin = make_user("平台管理员", platform_roles=("admin",))
    item = api(admin, "post", f"{E}/items", json={"category": "meal", "name": "午餐送餐上门"})
    assert item.status_code == 201, item.json
    offered = api(
        applicant,
        "post",
        f"{E}/providers/{provider_id}/offers",
        json={
            "item_id": item.json["id"],
            "price_fen": 1500,
            "duration_minutes": 30,
            "community_ids": [tree.a.public_id],
        },
    )
    assert offered.status_code == 201, offered.json
    outside = api(
        applicant,
        "post",
        f"{E}/providers/{provider_id}/offers",
        json={
            "item_id": item.json["id"],
            "price_fen": 1500,
            "duration_minutes": 30,
            "community_ids": [tree.b.public_id],
        },
    )
    assert outside.status_code == 422
    twice = api(
        applicant,
        "post",
        f"{E}/providers/{provider_id}/offers",
        json={
            "item_id": item.json["id"],
            "price_fen": 1600,
            "duration_minutes": 30,
            "community_ids": [tree.a.public_id],
        },
    )
    assert twice.status_code == 409
    assert twice.json["code"] == "care_offer_exists"
    same_name = api(admin, "post", f"{E}/items", json={"category": "meal", "name": "午餐送餐上门"})
    assert same_name.status_code == 409

    meals = api(applicant, "get", f"{E}/offers", query_string={"category": "meal", "community_id": tree.a.public_id})
    assert [o["id"] for o in meals.json] == [offered.json["id"]]
    assert meals.json[0]["price_fen"] == 1500
    assert api(applicant, "get", f"{E}/offers", query_string={"category": "bath"}).json == []

    caregiver = make_user("护理员")
    added = api(
        applicant,
        "post",
        f"{E}/providers/{provider_id}/staff",
        json={"user_id": caregiver.public_id, "role": "caregiver"},
    )
    assert added.status_code == 201, added.json
    assert api(caregiver, "get", f"{E}/providers/{provider_id}").status_code == 200
    assert (
        api(
            caregiver,
            "post",
            f"{E}/providers/{provider_id}/staff",
            json={"user_id": applicant.public_id, "role": "caregiver"},
        ).status_code
        == 403
    )
