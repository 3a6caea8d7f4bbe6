"""Tenancy of an elder's records (issue #12): a family member whose delegation lacks ``eldercare`` is refused with 403
``delegation_denied`` on every path naming the elder's orders, visits, series and care balances (as the lists and
the order's cancel already did), while anyone with no tie still gets 404; subsidy claims are 404 for a resident with
no tie to the provider and 403 for the provider's own people. Found by tests/fault/tenant/eldercare.py."""

from __future__ import annotations

from datetime import date, timedelta

from app.db import utcnow
from tests.eldercare.fixtures import E, add_provider, delegate
from tests.eldercare.test_meals import issue


def _place(api, care) -> str:
    body = {"offer_id": care.offer.public_id, "elder_id": care.elder.public_id, "scheduled_at": _tomorrow()}
    placed = api(care.daughter_user, "post", f"{E}/orders", json=body)
    assert placed.status_code == 201, placed.json
    return placed.json["id"]


def _tomorrow() -> str:
    return (utcnow() + timedelta(days=1)).isoformat()


def test_a_delegate_without_eldercare_is_refused_with_403_and_a_stranger_with_404(api, care, make_resident):
    son_user, son = make_resident("王强", born=date(1970, 2, 2), sequence="985")
    delegate(son, care.elder, scopes=("bills", "appointments"))
    stranger, _resident = make_resident("路人", born=date(1990, 1, 1), sequence="986")
    order_id = _place(api, care)
    card = issue(care)
    lunch_day = (utcnow() + timedelta(days=2)).date()
    series = api(
        care.daughter_user,
        "post",
        f"{E}/series",
        json={
            "offer_id": care.offer.public_id,
            "elder_id": care.elder.public_id,
            "pattern": "weekly",
            "weekdays": [lunch_day.isoweekday()],
            "starts_on": lunch_day.isoformat(),
        },
    )
    assert series.status_code == 201, series.json
    calls = [
        ("get", f"{E}/orders/{order_id}", None),
        ("get", f"{E}/orders/{order_id}/visit", None),
        ("post", f"{E}/orders/{order_id}/pay-from-balance", None),
        ("get", f"{E}/series/{series.json['id']}", None),
        ("post", f"{E}/series/{series.json['id']}/pause", {"from": lunch_day.isoformat()}),
        ("get", f"{E}/balances/{card.public_id}", None),
        ("get", f"{E}/balances/{card.public_id}/ledger", None),
        ("post", f"{E}/balances/{card.public_id}/topups", {"amount_fen": 1000}),
    ]
    for method, path, body in calls:
        refused = api(son_user, method, path, json=body)
        assert (refused.status_code, refused.json["code"]) == (403, "delegation_denied"), (path, refused.json)
        assert set(refused.json) == {"code", "message", "details"}
        assert api(stranger, method, path, json=body).status_code == 404, path
    # Nothing the son or the stranger sent changed anything: the daughter still reads the order as it was placed.
    assert api(care.daughter_user, "get", f"{E}/orders/{order_id}").json["status"] == "pending_payment"


def test_subsidy_claims_are_404_for_a_resident_and_403_for_the_providers_own_people(api, care, make_user):
    path = f"{E}/providers/{care.provider.public_id}/claims"
    month = {"month": f"{utcnow():%Y-%m}"}
    assert api(care.daughter_user, "get", path, query_string=month).status_code == 404
    assert api(make_user("商户老板"), "get", f"{path}/export", query_string=month).status_code == 404
    assert api(care.admin, "get", path, query_string=month).status_code == 403
    assert api(care.caregiver, "get", f"{path}/export", query_string=month).status_code == 403
    # A provider that does not exist answers a resident the same 404 as one that exists.
    assert api(care.daughter_user, "get", f"{E}/providers/nope/claims", query_string=month).status_code == 404


def test_another_providers_admin_gets_404_on_this_providers_work(api, care, make_user):
    other_admin = make_user("别家管理员")
    add_provider(other_admin, [care.tree.a], name="福寿护理站")
    order_id = _place(api, care)
    provider = f"{E}/providers/{care.provider.public_id}"
    calls = [
        ("get", provider, None),
        ("get", f"{provider}/orders", None),
        ("get", f"{provider}/caregivers", None),
        ("put", f"{provider}/cancellation-fee", {"cancellation_fee_fen": 100}),
        ("put", f"{E}/offers/{care.offer.public_id}/cancellation-fee", {"cancellation_fee_fen": 100}),
        ("post", f"{provider}/balances", {"elder_id": care.elder.public_id}),
        ("get", f"{E}/orders/{order_id}", None),
        ("post", f"{E}/orders/{order_id}/decline", {"reason": "x"}),
        ("post", f"{E}/orders/{order_id}/no-show", {"reason": "x"}),
    ]
    for method, path, body in calls:
        answer = api(other_admin, method, path, json=body)
        assert answer.status_code == 404, (path, answer.json)
        assert set(answer.json) == {"code", "message", "details"}
