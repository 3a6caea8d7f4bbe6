"""Vendors: application, staff decisions within their communities (audited), vendor staff roles, listings."""

import sqlalchemy as sa

from app.audit import AuditEntry
from app.extensions import db as database
from marketplace.models import VendorStatus
from tests.marketplace.fixtures import M, add_product, add_role, add_vendor


def application(tree, **extra):
    return {
        "name": "绿园生鲜",
        "kind": "grocery",
        "licence_no": "91110101MA00000001",
        "food_licence_no": "JY11101010000001",
        "contact_name": "王老板",
        "contact_phone": "13800138000",
        "opening_hours": "07:00-21:00",
        "community_ids": [tree.a.public_id],
        "payee_identity": "1900000109",
        **extra,
    }


def test_apply_then_community_staff_approve_suspend_and_reinstate_audited(tree, make_user, make_staff, api):
    from app.db import atomic
    from payments.models import Payee, PayeeKind

    applicant = make_user("王老板")
    created = api(applicant, "post", f"{M}/vendors", json=application(tree))
    assert created.status_code == 201, created.json
    assert (created.json["status"], created.json["community_ids"]) == ("pending", [tree.a.public_id])
    vendor_id = created.json["id"]
    assert api(applicant, "get", f"{M}/my-vendors").json[0]["role"] == "owner"
    staff = make_staff(tree.a)
    refused = api(staff, "post", f"{M}/vendors/{vendor_id}/approve", json={})
    assert (refused.status_code, refused.json["code"]) == (422, "validation_failed")  # no payee named
    with atomic():
        payee = Payee(name="绿园生鲜", kind=PayeeKind.vendor)
        database.session.add(payee)
    approved = api(staff, "post", f"{M}/vendors/{vendor_id}/approve", json={"payee_id": payee.public_id})
    assert approved.json["status"] == "approved"
    assert api(staff, "post", f"{M}/vendors/{vendor_id}/suspend", json={"note": "食品抽检不合格"}).json["status"] == (
        "suspended"
    )
    again = api(staff, "post", f"{M}/vendors/{vendor_id}/suspend", json={})
    assert (again.status_code, again.json["code"]) == (409, "vendor_state_conflict")
    assert api(staff, "post", f"{M}/vendors/{vendor_id}/reinstate", json={}).json["status"] == "approved"
    actions = database.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.target_id == vendor_id).order_by(AuditEntry.id)
    ).all()
    assert actions == [
        "marketplace.vendor.apply",
        "marketplace.vendor.approve",
        "marketplace.vendor.suspend",
        "marketplace.vendor.reinstate",
    ]
    worklist = api(staff, "get", f"{M}/vendors").json["items"]
    assert [v["id"] for v in worklist] == [vendor_id]


def test_a_grocery_needs_a_food_licence(tree, make_user, api):
    response = api(make_user(), "post", f"{M}/vendors", json=application(tree, food_licence_no=None))
    assert response.status_code == 422


def test_staff_of_another_community_get_404(tree, make_user, make_staff, api):
    vendor = add_vendor(make_user("王老板"), [tree.a], status=VendorStatus.pending)
    outsider = make_staff(tree.c)
    response = api(outsider, "post", f"{M}/vendors/{vendor.public_id}/reject", json={"note": "x"})
    assert (response.status_code, response.json["code"]) == (404, "vendor_not_found")
    assert api(outsider, "get", f"{M}/vendors").json["items"] == []


def test_a_vendor_clerk_cannot_decide_on_vendors_403(tree, make_user, api):
    vendor = add_vendor(make_user("王老板"), [tree.a], status=VendorStatus.pending)
    clerk = make_user("店员")
    add_role(vendor, clerk, "clerk")
    response = api(clerk, "post", f"{M}/vendors/{vendor.public_id}/approve", json={})
    assert (response.status_code, response.json["code"]) == (403, "forbidden")


def test_only_the_owner_adds_staff(tree, make_user, api):
    owner = make_user("王老板")
    vendor = add_vendor(owner, [tree.a])
    clerk, courier = make_user("店员"), make_user("配送员")
    added = api(
        owner, "post", f"{M}/vendors/{vendor.public_id}/staff", json={"user_id": clerk.public_id, "role": "clerk"}
    )
    assert added.status_code == 201
    refused = api(
        clerk, "post", f"{M}/vendors/{vendor.public_id}/staff", json={"user_id": courier.public_id, "role": "courier"}
    )
    assert refused.status_code == 403
    twice = api(
        owner, "post", f"{M}/vendors/{vendor.public_id}/staff", json={"user_id": clerk.public_id, "role": "clerk"}
    )
    assert (twice.status_code, twice.json["code"]) == (409, "vendor_staff_exists")


def test_listing_weighed_goods_and_restocking_by_delta(tree, make_user, api):
    owner = make_user("王老板")
    vendor = add_vendor(owner, [tree.a])
    body = {
        "name": "五花肉",
        "category": "肉类",
        "unit": "斤",
        "price_fen": 1800,
        "stock": 3,
        "storage_zone": "frozen",
        "shelf_life_days": 90,
        "weighed": True,
        "estimated_weight_g": 600,
        "on_shelf": True,
    }
    created = api(owner, "post", f"{M}/vendors/{vendor.public_id}/products", json=body)
    assert created.status_code == 201, created.json
    assert created.json["unit_price_estimate_fen"] == 2160  # 18 元/斤 × 1.2 斤
    assert created.json["storage_zone"] == "frozen"
    bad = api(owner, "post", f"{M}/vendors/{vendor.public_id}/products", json={**body, "unit": "盒"})
    assert bad.status_code == 422
    product_id = created.json["id"]
    restocked = api(owner, "patch", f"{M}/vendor-products/{product_id}", json={"stock_delta": 7})
    assert restocked.json["stock"] == 10
    negative = api(owner, "patch", f"{M}/vendor-products/{product_id}", json={"stock_delta": -11})
    assert (negative.status_code, negative.json["code"]) == (409, "stock_would_go_negative")


def test_a_vendor_cannot_touch_another_vendors_listing(tree, make_user, api):
    mine = add_vendor(make_user("王老板"), [tree.a])
    theirs_owner = make_user("赵老板")
    add_vendor(theirs_owner, [tree.a], name="赵记水果")
    product = add_product(mine)
    response = api(theirs_owner, "patch", f"{M}/vendor-products/{product.public_id}", json={"on_shelf": False})
    assert response.status_code == 404
    listing = api(theirs_owner, "get", f"{M}/vendors/{mine.public_id}/products")
    assert listing.status_code == 404


def test_product_images_are_public_uploads_shown_by_plain_url(
    tree, make_user, make_resident, join, api, client, auth_header, app, tmp_path, monkeypatch
):
    import io

    from tests.core.test_files import PNG

    monkeypatch.setitem(app.config, "FILES_ROOT", str(tmp_path / "files"))
    owner = make_user("王老板")
    vendor = add_vendor(owner, [tree.a])

    def upload(visibility):
        response = client.post(
            "/api/v1/files",
            data={"file": (io.BytesIO(PNG), "cabbage.png"), "visibility": visibility},
            content_type="multipart/form-data",
            headers=auth_header(owner),
        )
        assert response.status_code == 201, response.json
        return response.json["id"]

    public, private = upload("public"), upload("private")
    body = {"name": "小白菜", "category": "蔬菜", "unit": "斤", "price_fen": 300, "stock": 5, "on_shelf": True}
    refused = api(owner, "post", f"{M}/vendors/{vendor.public_id}/products", json={**body, "image_ids": [private]})
    assert refused.status_code == 422
    created = api(owner, "post", f"{M}/vendors/{vendor.public_id}/products", json={**body, "image_ids": [public]})
    assert created.status_code == 201, created.json
    user, resident = make_resident("李四")
    join(resident, tree.rooms_a["101"])
    [item] = api(user, "get", f"{M}/products").json["items"]
    assert item["images"] == [f"http://localhost/api/v1/files/{public}/public"]
    content = client.get(item["images"][0])
    content.close()  # the body streams from disk
    assert content.status_code == 200


def test_the_owner_edits_the_profile_and_a_clerk_gets_403(tree, make_user, api):
    owner = make_user("王老板")
    vendor = add_vendor(owner, [tree.a])
    clerk = make_user("店员")
    add_role(vendor, clerk, "clerk")
    path = f"{M}/vendors/{vendor.public_id}"
    assert api(owner, "patch", path, json={"opening_hours": "06:30-22:00"}).json["opening_hours"] == "06:30-22:00"
    assert api(clerk, "patch", path, json={"opening_hours": "00:00-24:00"}).status_code == 403
    assert api(clerk, "get", path).json["opening_hours"] == "06:30-22:00"
    assert api(make_user("路人"), "get", path).status_code == 404
