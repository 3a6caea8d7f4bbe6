"""After-sales: a refund request per line of a completed order within the window, the vendor's approval (refund)
or refusal, escalation to community staff who refund or uphold (audited), never more than paid for the line, and
who may do what."""

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.audit import AuditEntry
from app.db import atomic
from app.extensions import db as database
from marketplace.models import Order, OrderEvent
from payments.models import RefundStatus
from tests.community.fixtures import make_delegation
from tests.marketplace.fixtures import M, add_role, add_vendor
from tests.marketplace.test_orders import order_row, refunds_of


def complete(api, owner, order_id: str) -> None:
    for step in ("accept", "prepare", "ready", "complete"):
        response = api(owner, "post", f"{M}/orders/{order_id}/{step}", json={})
        assert response.status_code == 200, response.json


@pytest.fixture
def completed(market, place, pay, api):
    """A completed, paid order of 3 斤 cabbage (900) and one 600 g pork (2160)."""
    order_id = place(market.user, market.vendor, [(market.cabbage, 3), (market.pork, 1)]).json["id"]
    payment_id = pay(market.user, order_id)
    complete(api, market.owner, order_id)
    return order_id, payment_id


def line_no(api, user, order_id: str, name: str) -> int:
    lines = api(user, "get", f"{M}/orders/{order_id}").json["lines"]
    return next(line["line_no"] for line in lines if line["name"] == name)


def ask(api, user, order_id, line="小白菜", **body):
    """Ask for a refund of the order's line named ``line`` (or the ``line_no`` given)."""
    if "line_no" not in body:
        body["line_no"] = line_no(api, user, order_id, line) if line else 1
    return api(user, "post", f"{M}/orders/{order_id}/aftersales", json={"reason": "菜叶发黄", **body})


def audit_actions(target_id: str) -> list[str]:
    return list(
        database.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.target_id == target_id).order_by(AuditEntry.id)
        )
    )


def test_the_vendor_approves_and_the_line_is_refunded(market, completed, api, run_jobs):
    from app.accounts.resident_models import Resident

    with atomic():  # push reaches residents: the owner has a resident profile
        database.session.add(Resident(real_name="王老板", user_id=market.owner.id))
    order_id, payment_id = completed
    asked = ask(api, market.user, order_id, amount_fen=300)
    assert asked.status_code == 201, asked.json
    body = asked.json
    assert (body["status"], body["amount_fen"], body["line"]["name"], body["order_id"]) == (
        "requested",
        300,
        "小白菜",
        order_id,
    )
    worklist = api(market.owner, "get", f"{M}/vendors/{market.vendor.public_id}/aftersales").json["items"]
    assert [item["id"] for item in worklist] == [body["id"]]
    approved = api(market.owner, "post", f"{M}/aftersales/{body['id']}/approve", json={})
    assert (approved.json["status"], approved.json["refunded_fen"]) == ("approved", 300)
    again = api(market.owner, "post", f"{M}/aftersales/{body['id']}/approve", json={})
    assert (again.status_code, again.json["code"]) == (409, "aftersale_state_conflict")
    run_jobs()
    [refund] = refunds_of(payment_id)
    assert (refund.amount_fen, refund.status) == (300, RefundStatus.succeeded)
    assert refund.key == f"marketplace.order:{order_id}:aftersale:{body['id']}"
    assert order_row(order_id).refunded_fen == 300
    titles = [item["title"] for item in api(market.user, "get", "/api/v1/me/inbox").json["items"]]
    assert "绿园生鲜售后：商户已同意，款项原路退回" in titles
    vendor_titles = [item["title"] for item in api(market.owner, "get", "/api/v1/me/inbox").json["items"]]
    assert "售后申请：小白菜" in vendor_titles
    assert audit_actions(body["id"]) == ["marketplace.aftersale.decide"]


def test_a_refusal_escalated_to_staff_is_refunded_by_arbitration(market, completed, api, run_jobs, make_staff, tree):
    order_id, payment_id = completed
    item_id = ask(api, market.user, order_id, line="五花肉").json["id"]  # the whole pork line: 2160
    no_reason = api(market.owner, "post", f"{M}/aftersales/{item_id}/refuse", json={})
    assert no_reason.status_code == 422
    refused = api(market.owner, "post", f"{M}/aftersales/{item_id}/refuse", json={"note": "已过保质期内正常损耗"})
    assert (refused.json["status"], refused.json["vendor_note"]) == ("refused", "已过保质期内正常损耗")
    escalated = api(market.user, "post", f"{M}/aftersales/{item_id}/escalate", json={"reason": "肉已变质"})
    assert escalated.json["status"] == "escalated"
    staff = make_staff(tree.a)
    queue = api(staff, "get", f"{M}/aftersales", query_string={"status": "escalated"}).json["items"]
    assert [item["id"] for item in queue] == [item_id]
    too_much = api(
        staff,
        "post",
        f"{M}/aftersales/{item_id}/arbitrate",
        json={"decision": "refund", "note": "x", "amount_fen": 2161},
    )
    assert too_much.status_code == 422
    settled = api(
        staff, "post", f"{M}/aftersales/{item_id}/arbitrate", json={"decision": "refund", "note": "照片显示变质"}
    )
    assert (settled.json["status"], settled.json["refunded_fen"]) == ("arbitrated_refund", 2160)
    run_jobs()
    assert [(r.amount_fen, r.status) for r in refunds_of(payment_id)] == [(2160, RefundStatus.succeeded)]
    assert audit_actions(item_id) == [
        "marketplace.aftersale.decide",
        "marketplace.aftersale.escalate",
        "marketplace.aftersale.arbitrate",
    ]
    entry = database.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "marketplace.aftersale.arbitrate")
    ).one()
    assert (entry.actor_user_id, entry.reason, entry.after["status"]) == (staff.id, "照片显示变质", "arbitrated_refund")


def test_staff_uphold_the_vendor_and_nothing_is_refunded(market, completed, api, run_jobs, make_staff, tree):
    order_id, payment_id = completed
    item_id = ask(api, market.user, order_id).json["id"]
    api(market.owner, "post", f"{M}/aftersales/{item_id}/refuse", json={"note": "无质量问题"})
    api(market.user, "post", f"{M}/aftersales/{item_id}/escalate", json={"reason": "不同意"})
    upheld = api(
        make_staff(tree.a), "post", f"{M}/aftersales/{item_id}/arbitrate", json={"decision": "uphold", "note": "无证据"}
    )
    assert (upheld.json["status"], upheld.json["refunded_fen"]) == ("arbitrated_upheld", None)
    run_jobs()
    assert refunds_of(payment_id) == []


def test_never_more_than_was_paid_for_the_line(market, completed, api, run_jobs):
    order_id, _ = completed
    over = ask(api, market.user, order_id, amount_fen=901)
    assert (over.status_code, over.json["code"]) == (409, "line_refund_exceeded")
    assert over.json["details"]["refundable_fen"] == 900
    first = ask(api, market.user, order_id, amount_fen=600).json["id"]
    api(market.owner, "post", f"{M}/aftersales/{first}/approve", json={})
    rest = ask(api, market.user, order_id)  # defaults to what is left on the line
    assert (rest.status_code, rest.json["amount_fen"]) == (201, 300)
    api(market.owner, "post", f"{M}/aftersales/{rest.json['id']}/approve", json={})
    nothing_left = ask(api, market.user, order_id)
    assert (nothing_left.status_code, nothing_left.json["code"]) == (409, "line_refund_exceeded")
    run_jobs()
    assert order_row(order_id).refunded_fen == 900


def test_one_open_request_per_line(market, completed, api):
    order_id, _ = completed
    first = ask(api, market.user, order_id).json["id"]
    second = ask(api, market.user, order_id)
    assert (second.status_code, second.json["code"]) == (409, "aftersale_open")
    assert ask(api, market.user, order_id, line="五花肉").status_code == 201  # another line is fine
    api(market.owner, "post", f"{M}/aftersales/{first}/refuse", json={"note": "无质量问题"})
    renewed = ask(api, market.user, order_id, reason="补充照片")
    assert renewed.status_code == 201
    # The refused one cannot be escalated while the new one waits: one open request per line.
    blocked = api(market.user, "post", f"{M}/aftersales/{first}/escalate", json={"reason": "不同意"})
    assert (blocked.status_code, blocked.json["code"]) == (409, "aftersale_open")


def test_requests_only_for_completed_orders_within_the_window(market, place, pay, api, completed):
    order_id, _ = completed
    with atomic():
        database.session.execute(
            sa.update(OrderEvent)
            .where(OrderEvent.order_id == order_row(order_id).id, OrderEvent.to_status == "completed")
            .values(at=OrderEvent.at - timedelta(days=8))
        )
    late = ask(api, market.user, order_id)
    assert (late.status_code, late.json["code"]) == (409, "aftersale_window_closed")
    open_order = place(market.user, market.vendor, [(market.cabbage, 1)]).json["id"]
    pay(market.user, open_order)
    early = ask(api, market.user, open_order)
    assert (early.status_code, early.json["code"]) == (409, "order_not_completed")
    bad_line = ask(api, market.user, order_id, line_no=3)
    assert bad_line.status_code in (404, 409)
    assert ask(api, market.user, order_id, line_no=0).status_code == 422


def test_photos_are_private_to_the_resident_the_vendor_and_staff(
    market, completed, api, client, auth_header, make_resident, make_staff, tree, app, monkeypatch, tmp_path
):
    from tests.core.test_files import PNG

    monkeypatch.setitem(app.config, "FILES_ROOT", str(tmp_path / "files"))
    order_id, _ = completed
    uploaded = client.post(
        "/api/v1/files",
        data={"file": (io.BytesIO(PNG), "leaf.png"), "visibility": "private"},
        content_type="multipart/form-data",
        headers=auth_header(market.user),
    )
    photo = uploaded.json["id"]
    item = ask(api, market.user, order_id, photo_ids=[photo]).json
    assert item["photo_ids"] == [photo]
    neighbour, _ = make_resident("邻居", sequence="941")
    assert api(market.owner, "get", f"/api/v1/files/{photo}").status_code == 200
    assert api(make_staff(tree.a), "get", f"/api/v1/files/{photo}").status_code == 200
    assert api(neighbour, "get", f"/api/v1/files/{photo}").status_code == 404
    assert api(make_staff(tree.c), "get", f"/api/v1/files/{photo}").status_code == 404


def test_who_may_do_what(market, completed, api, make_user, make_resident, make_staff, tree):
    order_id, _ = completed
    neighbour, _ = make_resident("邻居", sequence="941")
    assert ask(api, neighbour, order_id, line_no=1).status_code == 404
    item_id = ask(api, market.user, order_id).json["id"]
    other_owner, courier, clerk = make_user("赵老板"), make_user("配送员"), make_user("店员")
    add_vendor(other_owner, [tree.a], name="赵记水果")
    add_role(market.vendor, courier, "courier")
    add_role(market.vendor, clerk, "clerk")
    far_staff, staff = make_staff(tree.c), make_staff(tree.a)
    for user, status in ((neighbour, 404), (other_owner, 404), (far_staff, 404), (courier, 404), (staff, 200)):
        assert api(user, "get", f"{M}/aftersales/{item_id}").status_code == status, user.display_name
    assert api(other_owner, "post", f"{M}/aftersales/{item_id}/approve", json={}).status_code == 404
    assert api(courier, "post", f"{M}/aftersales/{item_id}/approve", json={}).status_code == 403
    assert api(staff, "post", f"{M}/aftersales/{item_id}/approve", json={}).status_code == 403
    assert api(market.user, "post", f"{M}/aftersales/{item_id}/approve", json={}).status_code == 404
    assert api(other_owner, "get", f"{M}/vendors/{market.vendor.public_id}/aftersales").status_code == 404
    assert api(courier, "get", f"{M}/vendors/{market.vendor.public_id}/aftersales").status_code == 403
    api(clerk, "post", f"{M}/aftersales/{item_id}/refuse", json={"note": "无质量问题"})
    assert api(neighbour, "post", f"{M}/aftersales/{item_id}/escalate", json={"reason": "x"}).status_code == 404
    api(market.user, "post", f"{M}/aftersales/{item_id}/escalate", json={"reason": "不同意"})
    body = {"decision": "uphold", "note": "x"}
    assert api(far_staff, "post", f"{M}/aftersales/{item_id}/arbitrate", json=body).status_code == 404
    assert api(market.owner, "post", f"{M}/aftersales/{item_id}/arbitrate", json=body).status_code == 403
    assert api(far_staff, "get", f"{M}/aftersales").json["items"] == []
    assert api(staff, "post", f"{M}/aftersales/{item_id}/arbitrate", json=body).status_code == 200


def test_a_marketplace_delegate_asks_for_the_elder(market, tree, make_resident, join, place, pay, api):
    _none, elder = make_resident("王奶奶", account=False, sequence="981")
    join(elder, tree.rooms_a["102"])
    daughter_user, daughter = make_resident("王女儿", sequence="971")
    make_delegation(daughter, elder, ["marketplace"])
    order_id = place(daughter_user, market.vendor, [(market.cabbage, 1)], for_resident_id=elder.public_id).json["id"]
    pay(daughter_user, order_id)
    complete(api, market.owner, order_id)
    asked = ask(api, daughter_user, order_id)
    assert asked.status_code == 201, asked.json
    mine = api(daughter_user, "get", f"{M}/orders/{order_id}/aftersales").json["items"]
    assert [item["id"] for item in mine] == [asked.json["id"]]
    item = database.session.scalar(sa.select(Order).where(Order.public_id == order_id))
    assert item.resident_id == elder.id


def test_list_statement_counts_do_not_grow_with_page_size(
    market, place, pay, api, client, auth_header, count_queries, make_staff, tree
):
    for _ in range(5):  # 5 units of pork in stock
        order_id = place(market.user, market.vendor, [(market.cabbage, 1), (market.pork, 1)]).json["id"]
        pay(market.user, order_id)
        complete(api, market.owner, order_id)
        for name in ("小白菜", "五花肉"):
            item = ask(api, market.user, order_id, line=name).json["id"]
            api(market.owner, "post", f"{M}/aftersales/{item}/refuse", json={"note": "无质量问题"})
            api(market.user, "post", f"{M}/aftersales/{item}/escalate", json={"reason": "不同意"})
    staff = make_staff(tree.a)
    lists = [
        (market.owner, f"{M}/vendors/{market.vendor.public_id}/aftersales"),
        (staff, f"{M}/aftersales"),
    ]
    for user, path in lists:
        counts = {}
        for limit in (2, 10):
            headers = auth_header(user)
            with count_queries() as statements:
                response = client.get(path, query_string={"limit": limit}, headers=headers)
            assert len(response.json["items"]) == limit, path
            counts[limit] = len(statements)
        assert counts[2] == counts[10], path
