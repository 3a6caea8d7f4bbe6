"""Grocery orders: server-computed totals, stock reserved at placement and released exactly once, expiry through the
outbox, payment through payments, cancellation and the vendor's steps with refunds, delegates, and who sees what."""

import time

import pytest
import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow
from marketplace import jobs, orders
from marketplace.models import Order, OrderEvent, OrderStatus, Product
from payments.models import Payment, Refund, RefundStatus
from tests.community.fixtures import make_delegation
from tests.marketplace.fixtures import M, add_role, stock_of


def order_row(public_id: str) -> Order:
    return database.session.scalar(
        sa.select(Order).where(Order.public_id == public_id).execution_options(populate_existing=True)
    )


def steps(public_id: str) -> list[str]:
    return list(
        database.session.scalars(
            sa.select(OrderEvent.to_status)
            .join(Order, Order.id == OrderEvent.order_id)
            .where(Order.public_id == public_id)
            .order_by(OrderEvent.id)
        )
    )


def refunds_of(payment_public_id: str) -> list[Refund]:
    return database.session.scalars(
        sa.select(Refund)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Payment.public_id == payment_public_id)
        .execution_options(populate_existing=True)
    ).all()


def make_due(order_public_id: str) -> None:
    """Move the order's deadline and its expiry row into the past instead of sleeping 15 minutes."""
    with atomic():
        order = order_row(order_public_id)
        order.expires_at = utcnow()
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.key == f"marketplace.expire:{order.id}").values(run_at=utcnow())
        )


def test_totals_are_computed_on_the_server_and_stock_is_reserved(market, place):
    response = place(market.user, market.vendor, [(market.cabbage, 3), (market.pork, 1)], fulfilment="locker")
    assert response.status_code == 201, response.json
    body = response.json
    # 3 斤 × 3.00 + 1 份 × 18.00/斤 × 600 g
    assert body["total_fen"] == 3 * 300 + 2160
    assert sorted((line["name"], line["amount_fen"]) for line in body["lines"]) == [("五花肉", 2160), ("小白菜", 900)]
    assert body["status"] == "pending_payment"
    assert body["expires_at"].endswith("+08:00")
    assert [s["to_status"] for s in body["steps"]] == ["pending_payment"]
    assert (stock_of(market.cabbage), stock_of(market.pork)) == (17, 4)


def test_not_enough_stock_reserves_nothing(market, place):
    response = place(market.user, market.vendor, [(market.cabbage, 2), (market.pork, 6)])
    assert (response.status_code, response.json["code"]) == (409, "stock_insufficient")
    assert response.json["details"]["available"] == 5
    assert (stock_of(market.cabbage), stock_of(market.pork)) == (20, 5)


def set_stock(product, stock: int) -> None:
    with atomic():
        database.session.execute(sa.update(Product).where(Product.id == product.id).values(stock=stock))


def test_a_product_found_sold_out_is_refused_from_redis_until_the_mark_lapses(
    app, market, place, count_queries, monkeypatch
):
    monkeypatch.setitem(app.config, "MARKETPLACE_SOLD_OUT_SECONDS", 1)
    set_stock(market.pork, 0)
    first = place(market.user, market.vendor, [(market.pork, 1)])
    assert (first.status_code, first.json["code"], first.json["details"]["available"]) == (409, "stock_insufficient", 0)
    set_stock(market.pork, 3)  # the vendor restocks at once
    _loaded = (market.vendor.public_id, market.cabbage.public_id, market.pork.public_id)  # the test's reads
    with count_queries() as statements:
        late = place(market.user, market.vendor, [(market.cabbage, 1), (market.pork, 1)])
    assert (late.status_code, late.json["code"]) == (409, "stock_insufficient")
    assert late.json["details"] == {"product_id": market.pork.public_id, "requested": 1, "available": 0}
    assert not [s for s in statements if s.startswith("UPDATE marketplace_products")]  # no stock row touched
    # Ordering for oneself, a late buyer's resident and the vendor are not even read.
    assert not [s for s in statements if "marketplace_vendors" in s or "accounts_residents" in s]
    assert (stock_of(market.cabbage), stock_of(market.pork)) == (20, 3)
    time.sleep(1.1)
    after = place(market.user, market.vendor, [(market.pork, 1)])
    assert after.status_code == 201, after.json
    assert stock_of(market.pork) == 2


def test_too_few_units_left_is_not_remembered_as_sold_out(app, market, place):
    short = place(market.user, market.vendor, [(market.pork, 6)])
    assert (short.status_code, short.json["details"]["available"]) == (409, 5)
    assert place(market.user, market.vendor, [(market.pork, 5)]).status_code == 201


def test_sold_out_orders_go_to_postgresql_when_redis_is_down(app, market, place, monkeypatch):
    from app.extensions import redis_client

    monkeypatch.setattr(redis_client, "is_down", lambda: True)
    monkeypatch.setitem(app.extensions["linli_redis"].__dict__, "down_until", time.monotonic() + 60)
    set_stock(market.pork, 0)
    assert place(market.user, market.vendor, [(market.pork, 1)]).status_code == 409
    set_stock(market.pork, 1)
    assert place(market.user, market.vendor, [(market.pork, 1)]).status_code == 201


def test_a_repeated_idempotency_key_places_one_order(market, api):
    body = {"vendor_id": market.vendor.public_id, "lines": [{"product_id": market.cabbage.public_id, "quantity": 2}]}
    headers = {"Idempotency-Key": "order-1"}
    first = api(market.user, "post", f"{M}/orders", json=body, headers=headers)
    again = api(market.user, "post", f"{M}/orders", json=body, headers=headers)
    assert first.json["id"] == again.json["id"]
    assert stock_of(market.cabbage) == 18


def test_unpaid_expiry_releases_stock_exactly_once_even_when_the_job_runs_twice(market, place, run_jobs):
    order_id = place(market.user, market.vendor, [(market.cabbage, 4)]).json["id"]
    assert stock_of(market.cabbage) == 16
    run_jobs()
    assert order_row(order_id).status is OrderStatus.pending_payment  # not due yet
    make_due(order_id)
    run_jobs()
    assert order_row(order_id).status is OrderStatus.expired
    assert stock_of(market.cabbage) == 20
    # A second delivery of the job (RQ at least once), and a direct second release, change nothing.
    internal_id = order_row(order_id).id
    with atomic():
        jobs.expire_unpaid_order(internal_id)
    with atomic():
        assert orders.release_stock(internal_id) is False
    assert stock_of(market.cabbage) == 20
    assert steps(order_id) == ["pending_payment", "expired"]


def test_money_arriving_after_expiry_is_refunded_not_applied(market, place, api, run_jobs):
    from payments import mark_paid

    order_id = place(market.user, market.vendor, [(market.cabbage, 1)]).json["id"]
    opened = api(
        market.user,
        "post",
        "/api/v1/payments",
        json={"kind": "marketplace.market_order", "ids": [order_id], "channel": "sandbox"},
    ).json
    make_due(order_id)
    run_jobs()
    payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == opened["id"]))
    with atomic():
        mark_paid(payment.out_trade_no, payment.amount_fen, "T-late", utcnow(), {}, channel="sandbox")
    run_jobs()
    assert order_row(order_id).status is OrderStatus.expired
    assert [r.status for r in refunds_of(payment.public_id)] == [RefundStatus.succeeded]
    assert stock_of(market.cabbage) == 20


def test_pay_through_the_sandbox_then_the_vendor_takes_it_to_completed(market, place, pay, api, make_user):
    order_id = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    payment_id = pay(market.user, order_id)
    paid = order_row(order_id)
    assert (paid.status, paid.payment_public_id) == (OrderStatus.paid, payment_id)
    clerk, courier = make_user("店员"), make_user("配送员")
    add_role(market.vendor, clerk, "clerk")
    add_role(market.vendor, courier, "courier")
    worklist = api(clerk, "get", f"{M}/vendors/{market.vendor.public_id}/orders", query_string={"status": "paid"})
    assert [o["id"] for o in worklist.json["items"]] == [order_id]
    assert api(courier, "post", f"{M}/orders/{order_id}/accept", json={}).status_code == 403
    assert api(clerk, "post", f"{M}/orders/{order_id}/accept", json={}).json["status"] == "accepted"
    assert api(clerk, "post", f"{M}/orders/{order_id}/complete", json={}).status_code == 409
    assert api(market.owner, "post", f"{M}/orders/{order_id}/prepare", json={}).json["status"] == "preparing"
    assert api(courier, "post", f"{M}/orders/{order_id}/ready", json={}).json["status"] == "ready"
    done = api(courier, "post", f"{M}/orders/{order_id}/complete", json={"note": "已放入3号柜"})
    assert done.json["status"] == "completed"
    assert [s["to_status"] for s in done.json["steps"]] == [
        "pending_payment",
        "paid",
        "accepted",
        "preparing",
        "ready",
        "completed",
    ]
    assert stock_of(market.cabbage) == 18  # sold, not released
    mine = api(market.user, "get", f"{M}/orders").json["items"]
    assert [(o["id"], o["status"]) for o in mine] == [(order_id, "completed")]


def test_the_vendor_rejects_a_paid_order_and_it_is_refunded(market, place, pay, api, run_jobs):
    order_id = place(market.user, market.vendor, [(market.cabbage, 5)]).json["id"]
    payment_id = pay(market.user, order_id)
    no_reason = api(market.owner, "post", f"{M}/orders/{order_id}/reject", json={})
    assert no_reason.status_code == 422
    rejected = api(market.owner, "post", f"{M}/orders/{order_id}/reject", json={"note": "今日缺货"})
    assert rejected.json["status"] == "rejected"
    assert stock_of(market.cabbage) == 20
    run_jobs()
    [refund] = refunds_of(payment_id)
    assert (refund.amount_fen, refund.status) == (1500, RefundStatus.succeeded)
    assert order_row(order_id).refunded_fen == 1500
    # Every step reached the resident's inbox through app.push.
    titles = [item["title"] for item in api(market.user, "get", "/api/v1/me/inbox").json["items"]]
    assert "绿园生鲜：商户已拒单，款项原路退回" in titles
    assert "绿园生鲜：已付款，等待商户接单" in titles


def test_the_resident_cancels_before_preparation_and_is_refunded(market, place, pay, api, run_jobs):
    order_id = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    payment_id = pay(market.user, order_id)
    api(market.owner, "post", f"{M}/orders/{order_id}/accept", json={})
    cancelled = api(market.user, "post", f"{M}/orders/{order_id}/cancel", json={"reason": "买多了"})
    assert cancelled.json["status"] == "cancelled"
    assert stock_of(market.cabbage) == 20
    run_jobs()
    assert [(r.amount_fen, r.status) for r in refunds_of(payment_id)] == [(600, RefundStatus.succeeded)]
    assert order_row(order_id).refunded_fen == 600


def test_no_cancellation_once_preparing(market, place, pay, api):
    order_id = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    pay(market.user, order_id)
    api(market.owner, "post", f"{M}/orders/{order_id}/accept", json={})
    api(market.owner, "post", f"{M}/orders/{order_id}/prepare", json={})
    refused = api(market.user, "post", f"{M}/orders/{order_id}/cancel", json={})
    assert (refused.status_code, refused.json["code"]) == (409, "order_state_conflict")


def test_cancelling_an_unpaid_order_releases_stock_without_a_refund(market, place, api):
    order_id = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    assert api(market.user, "post", f"{M}/orders/{order_id}/cancel", json={}).json["status"] == "cancelled"
    assert stock_of(market.cabbage) == 20
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0


def delegate(actor, subject, scopes):
    return make_delegation(actor, subject, scopes)


def test_a_delegate_with_marketplace_scope_orders_and_pays_for_the_elder(
    market, tree, make_resident, join, place, pay, api
):
    _none, elder = make_resident("王奶奶", account=False, sequence="981")
    join(elder, tree.rooms_a["102"])
    daughter_user, daughter = make_resident("王女儿", sequence="971")
    delegate(daughter, elder, ["marketplace"])
    response = place(daughter_user, market.vendor, [(market.cabbage, 1)], for_resident_id=elder.public_id)
    assert response.status_code == 201, response.json
    order = order_row(response.json["id"])
    assert (order.resident_id, order.placed_by_user_id) == (elder.id, daughter_user.id)
    pay(daughter_user, order.public_id)
    assert order_row(order.public_id).status is OrderStatus.paid


@pytest.fixture
def elder_and_son(tree, make_resident, join):
    """An elder without an account, and her son's account holding a delegation for bills only."""
    _none, elder = make_resident("王奶奶", account=False, sequence="981")
    join(elder, tree.rooms_a["102"])
    son_user, son = make_resident("王儿子", sequence="961")
    delegate(son, elder, ["bills"])
    return elder, son_user


def test_a_delegation_without_marketplace_scope_is_refused(market, elder_and_son, make_resident, place):
    elder, son_user = elder_and_son
    refused = place(son_user, market.vendor, [(market.cabbage, 1)], for_resident_id=elder.public_id)
    assert (refused.status_code, refused.json["code"]) == (403, "delegation_denied")
    stranger_user, _stranger = make_resident("路人", sequence="951")
    unknown = place(stranger_user, market.vendor, [(market.cabbage, 1)], for_resident_id=elder.public_id)
    assert unknown.status_code == 404
    assert stock_of(market.cabbage) == 20


def test_a_sold_out_product_still_answers_403_to_a_delegate_without_the_scope(
    app, market, elder_and_son, make_resident, place, monkeypatch
):
    monkeypatch.setitem(app.config, "MARKETPLACE_SOLD_OUT_SECONDS", 60)
    set_stock(market.pork, 0)
    assert place(market.user, market.vendor, [(market.pork, 1)]).status_code == 409  # remembered sold out
    elder, son_user = elder_and_son
    refused = place(son_user, market.vendor, [(market.pork, 1)], for_resident_id=elder.public_id)
    assert (refused.status_code, refused.json["code"]) == (403, "delegation_denied")
    daughter_user, daughter = make_resident("王女儿", sequence="971")
    delegate(daughter, elder, ["marketplace"])
    set_stock(market.pork, 3)  # restocked while the mark lasts: the mark, checked after the delegation, refuses
    late = place(daughter_user, market.vendor, [(market.pork, 1)], for_resident_id=elder.public_id)
    assert (late.status_code, late.json["code"], late.json["details"]["available"]) == (409, "stock_insufficient", 0)
    assert stock_of(market.pork) == 3


def test_others_see_404_for_an_order(market, place, make_resident, make_user, api, make_staff, tree):
    order_id = place(market.user, market.vendor, [(market.cabbage, 1)]).json["id"]
    neighbour_user, _neighbour = make_resident("邻居", sequence="941")
    assert api(neighbour_user, "get", f"{M}/orders/{order_id}").status_code == 404
    assert api(neighbour_user, "post", f"{M}/orders/{order_id}/cancel", json={}).status_code == 404
    from tests.marketplace.fixtures import add_vendor

    other_owner = make_user("赵老板")
    add_vendor(other_owner, [tree.a], name="赵记水果")
    assert api(other_owner, "get", f"{M}/orders/{order_id}").status_code == 404
    assert api(other_owner, "post", f"{M}/orders/{order_id}/accept", json={}).status_code == 404
    assert api(market.owner, "get", f"{M}/orders/{order_id}").status_code == 200
    assert api(market.user, "get", f"{M}/orders/{order_id}").status_code == 200


def test_a_suspended_vendor_takes_no_orders_and_unserved_communities_cannot_order(
    market, place, make_staff, tree, make_resident, join, api
):
    far_user, far = make_resident("远方人", sequence="931")
    join(far, tree.rooms_c["101"])
    refused = place(far_user, market.vendor, [(market.cabbage, 1)])
    assert (refused.status_code, refused.json["code"]) == (422, "community_not_served")
    api(make_staff(tree.a), "post", f"{M}/vendors/{market.vendor.public_id}/suspend", json={"note": "整改"})
    closed = place(market.user, market.vendor, [(market.cabbage, 1)])
    assert (closed.status_code, closed.json["code"]) == (409, "vendor_not_open")


def test_a_payment_of_another_amount_is_refunded_and_the_order_stays_unpaid(market, place, api, run_jobs):
    from payments import mark_paid

    order_id = place(market.user, market.vendor, [(market.cabbage, 1)]).json["id"]
    opened = api(
        market.user,
        "post",
        "/api/v1/payments",
        json={"kind": "marketplace.market_order", "ids": [order_id], "channel": "sandbox"},
    ).json
    payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == opened["id"]))
    with atomic():
        mark_paid(payment.out_trade_no, payment.amount_fen - 1, "T-short", utcnow(), {}, channel="sandbox")
    run_jobs()
    assert order_row(order_id).status is OrderStatus.pending_payment
    assert [r.status for r in refunds_of(payment.public_id)] == [RefundStatus.succeeded]


def test_a_sale_crossing_the_low_stock_threshold_alerts_the_vendor_once(market, place, api, run_jobs):
    from app.accounts.resident_models import Resident

    with atomic():
        database.session.add(Resident(real_name="王老板", user_id=market.owner.id))
    place(market.user, market.vendor, [(market.cabbage, 14)])  # 20 → 6, above the threshold of 5
    place(market.user, market.vendor, [(market.cabbage, 1)])  # 6 → 5: crosses it
    place(market.user, market.vendor, [(market.cabbage, 1)])  # 5 → 4: already below, no second alert
    run_jobs()
    titles = [item["title"] for item in api(market.owner, "get", "/api/v1/me/inbox").json["items"]]
    assert titles.count("库存预警：小白菜") == 1


def test_pay_with_the_sandbox_confirm_route_in_demo_mode(market, place, app, database_url, redis_url, auth_header):
    from app.extensions import redis_client
    from tests.conftest import extra_app

    order_id = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    with extra_app(database_url, redis_url, DEMO_MODE=True) as demo:
        client = demo.test_client()
        headers = auth_header(market.user)
        opened = client.post(
            "/api/v1/payments",
            json={"kind": "marketplace.market_order", "ids": [order_id], "channel": "sandbox"},
            headers=headers,
        )
        assert opened.status_code == 201, opened.json
        confirmed = client.post(f"/api/v1/payments/{opened.json['id']}/sandbox/confirm", json={}, headers=headers)
        assert confirmed.status_code == 200, confirmed.json
    redis_client.init_app(app)  # the demo app rebound the process-wide Redis client
    assert order_row(order_id).status is OrderStatus.paid


def test_a_ready_order_completes_itself_after_the_auto_confirm_days(market, place, pay, api, run_jobs):
    order_id = place(market.user, market.vendor, [(market.cabbage, 1)]).json["id"]
    pay(market.user, order_id)
    for step in ("accept", "prepare", "ready"):
        api(market.owner, "post", f"{M}/orders/{order_id}/{step}", json={})
    key = f"marketplace.autocomplete:{order_row(order_id).id}"
    row = database.session.scalar(sa.select(OutboxRow).where(OutboxRow.key == key))
    assert (row.run_at - utcnow()).days in (2, 3)  # due in 3 days
    run_jobs()
    assert order_row(order_id).status is OrderStatus.ready
    with atomic():
        database.session.execute(sa.update(OutboxRow).where(OutboxRow.key == key).values(run_at=utcnow()))
    run_jobs()
    assert order_row(order_id).status is OrderStatus.completed
    assert steps(order_id)[-1] == "completed"
    with atomic():
        jobs.auto_complete_order(order_row(order_id).id)  # a second delivery changes nothing
    assert steps(order_id).count("completed") == 1
