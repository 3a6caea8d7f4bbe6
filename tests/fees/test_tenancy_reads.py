"""Tenancy of a household's bills, fee orders and receipts (issue #12): a delegate of a member without ``bills`` is
refused with 403 ``delegation_denied`` and a grid worker of the community with 403 (fees.read is for admin and staff),
where they used to get a 404 that the household bills list did not give; anyone with no tie still gets 404. A meter
reading import without CSV is refused after the scope check, so outsiders get 404. Found by
tests/fault/tenant/payments.py."""

from __future__ import annotations

from datetime import date

from tests.fees.conftest import billed, confirm, delegate, months_back, order, pay

FEES = "/api/v1/fees"


def test_a_delegate_without_bills_and_a_grid_worker_get_403_a_stranger_404(
    place, person, make_resident, make_staff, api
):
    owner_user, owner = person(place.rooms["101"], "户主")
    [bill] = billed(place, place.rooms["101"], months_back(1))
    made = order(api, owner_user, place.rooms["101"], [bill])
    assert made.status_code == 201, made.json
    opened = pay(api, owner_user, made.json["id"])
    confirm(owner_user, opened.json["id"])
    receipt_id = api(owner_user, "get", f"{FEES}/orders/{made.json['id']}").json["receipt_id"]
    son_user, son = make_resident("儿子", sequence="994", born=date(1975, 3, 3))
    delegate(son, owner, scopes=("eldercare", "appointments"))
    grid = make_staff(place.tree.a, "grid_worker")
    stranger, _resident = make_resident("路人", sequence="995")
    paths = [
        f"{FEES}/households/{place.rooms['101'].public_id}/bills",
        f"{FEES}/bills/{bill.public_id}",
        f"{FEES}/orders/{made.json['id']}",
        f"{FEES}/receipts/{receipt_id}",
        f"{FEES}/receipts/{receipt_id}/printable",
    ]
    for path in paths:
        refused = api(son_user, "get", path)
        assert (refused.status_code, refused.json["code"]) == (403, "delegation_denied"), (path, refused.json)
        below = api(grid, "get", path)
        assert below.status_code == 403, (path, below.json)
        assert set(below.json) == {"code", "message", "details"}
        assert api(stranger, "get", path).status_code == 404, path
        assert api(make_staff(place.tree.b), "get", path).status_code == 404, path
        assert api(owner_user, "get", path).status_code == 200, path


def test_a_reading_import_without_csv_is_404_outside_the_community_and_422_for_its_staff(place, make_staff, api):
    from tests.fees.conftest import add_item

    water = add_item(place.estate, place.payee, "水费", kind="water", formula="metered", rate=35000)
    path = f"{FEES}/items/{water.public_id}/readings/import?period=2026-11"
    assert api(make_staff(place.tree.b), "post", path, json={}).status_code == 404
    assert api(make_staff(place.tree.a, "grid_worker"), "post", path, json={}).status_code == 403
    refused = api(make_staff(place.tree.a), "post", path, json={})
    assert (refused.status_code, refused.json["code"]) == (422, "import_failed")
