"""Tenancy of home-service bookings (issue #12): a family member bound to the resident without the ``marketplace``
scope is refused every resident-side act with 403 ``delegation_denied`` and sees nothing; a neighbour still gets 404;
a delegate holding the scope acts; the booking is left as it was."""

from __future__ import annotations

import pytest

from tests.community.fixtures import make_delegation
from tests.marketplace.test_services import S, booking_body, build_shop, row, to_quoted

ERROR_KEYS = {"code", "message", "details"}


@pytest.fixture
def quoted(tree, make_user, make_resident, join, api):
    """A repair shop, the resident's booking at the quote, and three people around the resident."""
    shop = build_shop(make_user, make_resident, join, tree)
    order_id = api(shop.user, "post", S, json=booking_body(shop.plumbing)).json["id"]
    to_quoted(api, shop, order_id)
    son_user, son = make_resident("李儿子", sequence="961")
    make_delegation(son, shop.resident, ["bills", "appointments"])
    daughter_user, daughter = make_resident("李女儿", sequence="971")
    make_delegation(daughter, shop.resident, ["marketplace"])
    neighbour_user, neighbour = make_resident("王邻居", sequence="951")
    join(neighbour, tree.rooms_a["102"])
    return shop, order_id, son_user, daughter_user, neighbour_user


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("get", "", None),
        ("post", "/cancel", {"reason": "不修了"}),
        ("post", "/accept-quote", {}),
        ("post", "/decline-quote", {"reason": "太贵"}),
        ("post", "/rate", {"rating": 1}),
        ("post", "/rework", {"reason": "又漏了"}),
    ],
)
def test_a_family_member_without_the_marketplace_scope_gets_403_and_a_neighbour_404(quoted, api, method, action, body):
    _shop, order_id, son_user, _daughter_user, neighbour_user = quoted
    kwargs = {"json": body} if body is not None else {}
    refused = api(son_user, method, f"{S}/{order_id}{action}", **kwargs)
    assert (refused.status_code, refused.json["code"]) == (403, "delegation_denied")
    assert set(refused.json) <= ERROR_KEYS
    hidden = api(neighbour_user, method, f"{S}/{order_id}{action}", **kwargs)
    assert (hidden.status_code, hidden.json["code"]) == (404, "service_order_not_found")
    assert set(hidden.json) <= ERROR_KEYS
    assert row(order_id).status.value == "quoted"


def test_a_delegate_with_the_scope_still_acts_for_the_resident(quoted, api):
    _shop, order_id, _son_user, daughter_user, _neighbour_user = quoted
    seen = api(daughter_user, "get", f"{S}/{order_id}")
    assert (seen.status_code, seen.json["status"]) == (200, "quoted")
    accepted = api(daughter_user, "post", f"{S}/{order_id}/accept-quote", json={})
    assert (accepted.status_code, accepted.json["status"]) == (200, "in_progress")
