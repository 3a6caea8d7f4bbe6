"""Reviews: one rating per completed order with comment and public photos, one vendor reply, averages on products
and vendors, who may do what, and a page of reviews in a fixed number of statements."""

import io

import pytest

from tests.marketplace.fixtures import M, add_role, add_vendor
from tests.marketplace.test_aftersales import complete


@pytest.fixture
def done(market, place, pay, api):
    """``done(lines)`` → the id of a completed, paid order of the resident."""

    def make(lines):
        order_id = place(market.user, market.vendor, lines).json["id"]
        pay(market.user, order_id)
        complete(api, market.owner, order_id)
        return order_id

    return make


def rate(api, user, order_id, rating, **body):
    return api(user, "post", f"{M}/orders/{order_id}/review", json={"rating": rating, **body})


def test_one_review_per_completed_order_and_one_reply(market, done, api, make_user):
    order_id = done([(market.cabbage, 1)])
    created = rate(api, market.user, order_id, 4, comment="很新鲜")
    assert created.status_code == 201, created.json
    assert (created.json["rating"], created.json["comment"], created.json["reply"]) == (4, "很新鲜", None)
    again = rate(api, market.user, order_id, 5)
    assert (again.status_code, again.json["code"]) == (409, "review_exists")
    review_id = created.json["id"]
    clerk = make_user("店员")
    add_role(market.vendor, clerk, "clerk")
    replied = api(clerk, "post", f"{M}/reviews/{review_id}/reply", json={"reply": "谢谢惠顾"})
    assert (replied.status_code, replied.json["reply"]) == (200, "谢谢惠顾")
    second = api(market.owner, "post", f"{M}/reviews/{review_id}/reply", json={"reply": "再次感谢"})
    assert (second.status_code, second.json["code"]) == (409, "review_already_replied")
    listed = api(market.user, "get", f"{M}/vendors/{market.vendor.public_id}/reviews").json["items"]
    assert [(r["id"], r["rating"], r["reply"], r["order_id"]) for r in listed] == [(review_id, 4, "谢谢惠顾", order_id)]


@pytest.mark.parametrize("rating", [0, 6, "5", None])
def test_a_rating_outside_one_to_five_is_422(market, done, api, rating):
    order_id = done([(market.cabbage, 1)])
    response = rate(api, market.user, order_id, rating)
    assert (response.status_code, response.json["code"]) == (422, "validation_failed")


def test_only_completed_orders_are_rated(market, place, pay, api):
    order_id = place(market.user, market.vendor, [(market.cabbage, 1)]).json["id"]
    pay(market.user, order_id)
    response = rate(api, market.user, order_id, 5)
    assert (response.status_code, response.json["code"]) == (409, "order_not_completed")


def test_averages_show_on_products_and_vendors(market, done, api, make_staff, tree):
    rate(api, market.user, done([(market.cabbage, 1), (market.pork, 1)]), 5)
    rate(api, market.user, done([(market.cabbage, 1)]), 2)
    items = {p["name"]: p for p in api(market.user, "get", f"{M}/products").json["items"]}
    assert items["小白菜"]["rating"] == {"average": 3.5, "count": 2}
    assert items["五花肉"]["rating"] == {"average": 5.0, "count": 1}
    assert items["小白菜"]["vendor_rating"] == {"average": 3.5, "count": 2}
    one = api(market.user, "get", f"{M}/products/{market.pork.public_id}").json
    assert one["rating"] == {"average": 5.0, "count": 1}
    vendor = api(make_staff(tree.a), "get", f"{M}/vendors/{market.vendor.public_id}").json
    assert vendor["rating"] == {"average": 3.5, "count": 2}


def test_an_unrated_product_shows_no_average(market, api):
    items = api(market.user, "get", f"{M}/products").json["items"]
    assert {p["name"]: p["rating"] for p in items} == {
        "小白菜": {"average": None, "count": 0},
        "五花肉": {"average": None, "count": 0},
    }


def test_who_may_rate_and_reply(market, done, api, make_resident, make_user, tree):
    order_id = done([(market.cabbage, 1)])
    neighbour, _ = make_resident("邻居", sequence="941")
    assert rate(api, neighbour, order_id, 1).status_code == 404
    review_id = rate(api, market.user, order_id, 3).json["id"]
    other_owner, courier = make_user("赵老板"), make_user("配送员")
    add_vendor(other_owner, [tree.a], name="赵记水果")
    add_role(market.vendor, courier, "courier")
    assert api(other_owner, "post", f"{M}/reviews/{review_id}/reply", json={"reply": "x"}).status_code == 404
    assert api(courier, "post", f"{M}/reviews/{review_id}/reply", json={"reply": "x"}).status_code == 403
    assert api(market.user, "post", f"{M}/reviews/{review_id}/reply", json={"reply": "x"}).status_code == 404


def test_review_photos_must_be_public_uploads(market, done, api, client, auth_header, app, monkeypatch, tmp_path):
    from tests.core.test_files import PNG

    monkeypatch.setitem(app.config, "FILES_ROOT", str(tmp_path / "files"))
    order_id = done([(market.cabbage, 1)])

    def upload(visibility):
        return client.post(
            "/api/v1/files",
            data={"file": (io.BytesIO(PNG), "dish.png"), "visibility": visibility},
            content_type="multipart/form-data",
            headers=auth_header(market.user),
        ).json["id"]

    refused = rate(api, market.user, order_id, 5, photo_ids=[upload("private")])
    assert refused.status_code == 422
    public = upload("public")
    created = rate(api, market.user, order_id, 5, photo_ids=[public])
    assert created.json["photos"] == [f"http://localhost/api/v1/files/{public}/public"]


def test_a_page_of_reviews_costs_the_same_statements_whatever_its_size(
    market, done, api, client, auth_header, count_queries
):
    for rating in (1, 2, 3, 4, 5, 5):
        rate(api, market.user, done([(market.cabbage, 1)]), rating)
    headers = auth_header(market.user)
    counts = {}
    for limit in (2, 6):
        with count_queries() as statements:
            response = client.get(
                f"{M}/vendors/{market.vendor.public_id}/reviews", query_string={"limit": limit}, headers=headers
            )
        assert len(response.json["items"]) == limit
        counts[limit] = len(statements)
    assert counts[2] == counts[6]
