"""Staff worklists and one-off bills; a resident gives up an order; readings out of range."""

from tests.fees.conftest import add_item, billed, months_back, order, pay


def test_staff_issue_a_one_off_bill_once_per_idempotency_key(place, person, make_staff, api):
    room = place.rooms["101"]
    user, _resident = person(room)
    repair = add_item(place.estate, place.payee, "维修分摊", kind="other", formula="fixed", rate=0, cycle="one_off")
    staff = make_staff(place.tree.a)
    body = {
        "household_id": room.public_id,
        "item_id": repair.public_id,
        "title": "2026年电梯大修分摊",
        "amount_fen": 45000,
        "due_on": "2026-12-31",
    }
    headers = {"Idempotency-Key": "repair-101"}
    first = api(staff, "post", "/api/v1/fees/bills", json=body, headers=dict(headers))
    assert first.status_code == 201, first.json
    assert (first.json["title"], first.json["amount_fen"], first.json["one_off"], first.json["period"]) == (
        "2026年电梯大修分摊",
        45000,
        True,
        "2026-12",
    )
    again = api(staff, "post", "/api/v1/fees/bills", json=body, headers=dict(headers))
    assert again.json["id"] == first.json["id"]
    second = api(staff, "post", "/api/v1/fees/bills", json=body)  # another one-off of the same item is allowed
    assert second.json["id"] != first.json["id"]
    seen = api(user, "get", f"/api/v1/fees/households/{room.public_id}/bills").json["items"]
    assert len(seen) == 2
    other_estate = api(
        staff, "post", "/api/v1/fees/bills", json={**body, "household_id": place.tree.rooms_b["101"].public_id}
    )
    assert other_estate.status_code == 404
    assert api(make_staff(place.tree.b), "post", "/api/v1/fees/bills", json=body).status_code == 404


def test_staff_list_an_estates_bills_of_a_period_with_a_total(place, person, make_staff, api):
    for room in place.rooms.values():
        person(room, f"户主{room.room}")
    [period] = months_back(1)
    billed(place, place.rooms["101"], [period])
    staff = make_staff(place.tree.a)
    label = f"{period:%Y-%m}"
    response = api(staff, "get", f"/api/v1/fees/estates/{place.estate.public_id}/bills", query_string={"period": label})
    assert response.status_code == 200, response.json
    assert [b["household_id"] for b in response.json] == [place.rooms[r].public_id for r in ("101", "102", "201")]
    assert '"total": 3' in response.headers["X-Pagination"]
    paid = api(
        staff,
        "get",
        f"/api/v1/fees/estates/{place.estate.public_id}/bills",
        query_string={"period": label, "status": "paid"},
    )
    assert paid.json == []


def test_a_resident_gives_up_an_order_unless_a_payment_is_open(place, person, api):
    room = place.rooms["101"]
    user, _resident = person(room)
    bills = billed(place, room, months_back(2))
    first = order(api, user, room, bills[:1]).json
    cancelled = api(user, "post", f"/api/v1/fees/orders/{first['id']}/cancel")
    assert (cancelled.status_code, cancelled.json["status"]) == (200, "cancelled")
    second = order(api, user, room, bills[:1]).json
    pay(api, user, second["id"])
    refused = api(user, "post", f"/api/v1/fees/orders/{second['id']}/cancel")
    assert (refused.status_code, refused.json["code"]) == (409, "fee_order_not_cancellable")
    spouse, _r = person(room, "配偶", role="family")
    assert api(spouse, "post", f"/api/v1/fees/orders/{second['id']}/cancel").status_code == 404


def test_a_reading_out_of_range_is_refused(place, person, make_staff, api):
    power = add_item(place.estate, place.payee, "电费", kind="electricity", formula="metered", rate=4883)
    room = place.rooms["101"]
    response = api(
        make_staff(place.tree.a),
        "post",
        f"/api/v1/fees/items/{power.public_id}/readings",
        json={"household_id": room.public_id, "period": "2026-11", "current_reading": "-1", "previous_reading": "0"},
    )
    assert (response.status_code, response.json["code"]) == (422, "reading_invalid")
    assert "current_reading" in response.json["details"]["fields"]["json"]
