"""Residents browse what approved vendors serving their communities offer: filters, sorts, cursor pages, and a
statement count that does not grow with the page size."""

import pytest

from marketplace.models import VendorStatus
from tests.marketplace.fixtures import M, add_product, add_vendor


@pytest.fixture
def shelf(tree, make_user, make_resident, join):
    owner = make_user("王老板")
    vendor = add_vendor(owner, [tree.a])
    products = [add_product(vendor, f"青菜{i}", price_fen=100 + (i * 37) % 500, category="蔬菜") for i in range(30)]
    add_product(vendor, "下架的菜", on_shelf=False)
    add_product(add_vendor(make_user("远方老板"), [tree.c], name="远方超市"), "远方的菜")
    add_product(add_vendor(make_user("待审老板"), [tree.a], name="待审商户", status=VendorStatus.pending), "待审的菜")
    add_product(vendor, "苹果", category="水果", price_fen=800)
    user, resident = make_resident("李四")
    join(resident, tree.rooms_a["101"])
    return user, vendor, products


def all_pages(api, user, **params):
    seen, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = api(user, "get", f"{M}/products", query_string=query).json
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return seen


def test_only_on_shelf_products_of_approved_vendors_serving_my_community(shelf, api):
    user, _vendor, _products = shelf
    names = {p["name"] for p in all_pages(api, user, limit=7)}
    assert len(names) == 31
    assert not names & {"下架的菜", "远方的菜", "待审的菜"}


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc"])
def test_cursor_pages_cover_everything_once_in_order(shelf, api, sort):
    user, _vendor, _products = shelf
    items = all_pages(api, user, limit=4, sort=sort, category="蔬菜")
    assert len(items) == 30
    assert len({p["id"] for p in items}) == 30
    prices = [p["price_fen"] for p in items]
    if sort == "price_asc":
        assert prices == sorted(prices)
    if sort == "price_desc":
        assert prices == sorted(prices, reverse=True)


def test_keyword_search(shelf, api):
    user, _vendor, _products = shelf
    assert [p["name"] for p in all_pages(api, user, q="苹")] == ["苹果"]
    assert all_pages(api, user, q="%") == []


def test_statement_count_does_not_grow_with_page_size(shelf, api, auth_header, client, count_queries):
    user, _vendor, _products = shelf
    headers = auth_header(user)
    # An account's first request also reads the account and its communities (then kept in the process).
    client.get(f"{M}/products", query_string={"limit": 1}, headers=headers)
    counts = {}
    for limit in (2, 25):
        with count_queries() as statements:
            response = client.get(f"{M}/products", query_string={"limit": limit}, headers=headers)
        assert len(response.json["items"]) == limit
        assert all(item["vendor"]["name"] == "绿园生鲜" for item in response.json["items"])
        counts[limit] = len(statements)
    assert counts[2] == counts[25]


def test_a_bad_cursor_is_422(shelf, api):
    user, _vendor, _products = shelf
    response = api(user, "get", f"{M}/products", query_string={"cursor": "bm9wZQ", "sort": "price_asc"})
    assert response.status_code == 422
