"""The vendor dashboard: orders by status, sales by day, top products, refunds, after-sales and ratings, for the
owner and clerks only, in a number of statements that does not grow with the vendor's orders."""

from datetime import datetime

from app.api import SHANGHAI
from tests.marketplace.fixtures import M, add_role, add_vendor
from tests.marketplace.test_aftersales import ask, complete


def test_the_dashboard_shows_the_vendors_figures(market, place, pay, api, run_jobs, make_user):
    a = place(market.user, market.vendor, [(market.cabbage, 3), (market.pork, 1)]).json["id"]  # 900 + 2160
    pay(market.user, a)
    complete(api, market.owner, a)
    item = ask(api, market.user, a, line="五花肉", amount_fen=500).json["id"]
    api(market.owner, "post", f"{M}/aftersales/{item}/approve", json={})
    api(market.user, "post", f"{M}/orders/{a}/review", json={"rating": 4})
    b = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    pay(market.user, b)
    api(market.user, "post", f"{M}/orders/{b}/cancel", json={})
    place(market.user, market.vendor, [(market.cabbage, 1)])  # unpaid
    run_jobs()
    clerk = make_user("店员")
    add_role(market.vendor, clerk, "clerk")
    response = api(clerk, "get", f"{M}/vendors/{market.vendor.public_id}/dashboard", query_string={"days": 7})
    assert response.status_code == 200, response.json
    body = response.json
    assert {k: v for k, v in body["orders_by_status"].items() if v} == {
        "completed": 1,
        "cancelled": 1,
        "pending_payment": 1,
    }
    today = datetime.now(SHANGHAI).date().isoformat()
    assert body["sales_by_day"] == [{"date": today, "orders": 1, "gross_fen": 3060}]
    assert [(p["name"], p["quantity"], p["amount_fen"]) for p in body["top_products"]] == [
        ("五花肉", 1, 2160),
        ("小白菜", 3, 900),
    ]
    assert body["refunds"] == {"count": 2, "amount_fen": 1100, "by_cause": {"aftersales": 500, "cancel": 600}}
    assert body["aftersales_by_status"] == {"approved": 1}
    assert body["ratings"] == {
        "average": 4.0,
        "count": 1,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
    }
    assert body["since"].endswith("+08:00")
    assert body["lockers_today"] == []  # shop and delivery orders only here (see the locker flow test)


def test_only_the_vendors_owner_and_clerks_see_it(market, api, make_user, make_staff, tree):
    courier, other_owner = make_user("配送员"), make_user("赵老板")
    add_role(market.vendor, courier, "courier")
    add_vendor(other_owner, [tree.a], name="赵记水果")
    url = f"{M}/vendors/{market.vendor.public_id}/dashboard"
    assert api(market.owner, "get", url).status_code == 200
    assert api(courier, "get", url).status_code == 403
    assert api(make_staff(tree.a), "get", url).status_code == 403
    assert api(other_owner, "get", url).status_code == 404
    assert api(market.user, "get", url).status_code == 404
    assert api(market.owner, "get", url, query_string={"days": 0}).status_code == 422


def test_the_statement_count_does_not_grow_with_orders(market, place, pay, api, client, auth_header, count_queries):
    url = f"{M}/vendors/{market.vendor.public_id}/dashboard"
    headers = auth_header(market.owner)
    counts = []
    for orders in (1, 4):
        while len(api(market.user, "get", f"{M}/orders").json["items"]) < orders:
            order_id = place(market.user, market.vendor, [(market.cabbage, 1), (market.pork, 1)]).json["id"]
            pay(market.user, order_id)
            complete(api, market.owner, order_id)
            api(market.user, "post", f"{M}/orders/{order_id}/review", json={"rating": 5})
        with count_queries() as statements:
            assert client.get(url, headers=headers).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]
