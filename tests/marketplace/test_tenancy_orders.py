"""Tenancy of grocery orders (issue #12): a family member bound to the resident without the ``marketplace`` scope is
refused every resident-side act on the resident's order with 403 ``delegation_denied`` and sees nothing; a neighbour
still gets 404; a delegate holding the scope acts; the order is left as it was."""

from __future__ import annotations

import pytest

from tests.community.fixtures import make_delegation
from tests.marketplace.fixtures import M
from tests.marketplace.test_aftersales import complete

ERROR_KEYS = {"code", "message", "details"}


@pytest.fixture
def family(market, make_resident, join, tree):
    """The resident's son (bound with bills and appointments only), daughter (marketplace) and a neighbour."""
    son_user, son = make_resident("李儿子", sequence="961")
    make_delegation(son, market.resident, ["bills", "appointments"])
    daughter_user, daughter = make_resident("李女儿", sequence="971")
    make_delegation(daughter, market.resident, ["marketplace"])
    neighbour_user, neighbour = make_resident("王邻居", sequence="951")
    join(neighbour, tree.rooms_a["102"])
    return son_user, daughter_user, neighbour_user


def _refused_and_hidden(api, son_user, neighbour_user, method, url, body=None) -> None:
    kwargs = {"json": body} if body is not None else {}
    refused = api(son_user, method, url, **kwargs)
    assert (refused.status_code, refused.json["code"]) == (403, "delegation_denied")
    assert set(refused.json) <= ERROR_KEYS
    hidden = api(neighbour_user, method, url, **kwargs)
    assert hidden.status_code == 404
    assert set(hidden.json) <= ERROR_KEYS


def test_an_open_order_refuses_a_family_member_without_the_scope(market, place, pay, api, family):
    son_user, daughter_user, neighbour_user = family
    order_id = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    pay(market.user, order_id)
    for method, action, body in (
        ("get", "", None),
        ("get", "/locker", None),
        ("post", "/cancel", {"reason": "不要了"}),
    ):
        _refused_and_hidden(api, son_user, neighbour_user, method, f"{M}/orders/{order_id}{action}", body)
    assert api(market.user, "get", f"{M}/orders/{order_id}").json["status"] == "paid"
    assert api(daughter_user, "get", f"{M}/orders/{order_id}").status_code == 200


def test_a_completed_order_refuses_after_sales_and_reviews_to_a_family_member_without_the_scope(
    market, place, pay, api, family
):
    son_user, daughter_user, neighbour_user = family
    order_id = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    pay(market.user, order_id)
    complete(api, market.owner, order_id)
    asked = api(market.user, "post", f"{M}/orders/{order_id}/aftersales", json={"line_no": 1, "reason": "发黄"})
    assert asked.status_code == 201, asked.json
    for method, action, body in (
        ("get", f"/orders/{order_id}/aftersales", None),
        ("post", f"/orders/{order_id}/aftersales", {"line_no": 1, "reason": "发黄"}),
        ("get", f"/aftersales/{asked.json['id']}", None),
        ("post", f"/orders/{order_id}/review", {"rating": 1}),
    ):
        _refused_and_hidden(api, son_user, neighbour_user, method, f"{M}{action}", body)
    reviewed = api(daughter_user, "post", f"{M}/orders/{order_id}/review", json={"rating": 5})
    assert reviewed.status_code == 201, reviewed.json
