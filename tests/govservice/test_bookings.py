"""Window appointments: booking for oneself, the per-person rule, capacity, the booking window, cancel and
reschedule, delegated and staff bookings (代理预约), and tenancy (404 for another community's staff)."""

from datetime import date, timedelta

import sqlalchemy as sa

from app.accounts.resident_models import DelegationStatus
from app.audit import AuditEntry
from app.db import atomic
from app.extensions import db as database
from govservice import clock
from govservice.booking_models import Slot
from tests.community.fixtures import make_delegation
from tests.govservice.fixtures import at, body, build_centre, tomorrow


def _delegate(actor, subject, scopes=("appointments",), status=DelegationStatus.active):
    return make_delegation(actor, subject, scopes, status=status)


def test_a_resident_books_sees_and_lists_their_booking(setup, resident, api):
    user, person = resident
    made = api(user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, at(tomorrow(), 9)))
    assert made.status_code == 201, made.json
    assert made.json["status"] == "booked"
    assert made.json["via"] == "self"
    assert made.json["resident"] == {"id": person.public_id, "name": "张*", "document": None}
    assert made.json["starts_at"].endswith("+08:00")
    assert made.json["item"]["name"] == "社会保障卡申领"

    shown = api(user, "get", f"/api/v1/govservice/bookings/{made.json['id']}")
    assert shown.json["id"] == made.json["id"]
    listed = api(user, "get", "/api/v1/govservice/bookings")
    assert [b["id"] for b in listed.json["items"]] == [made.json["id"]]


def test_the_same_idempotency_key_books_once(setup, resident, api):
    user, _person = resident
    payload = body(setup.item, setup.window, at(tomorrow(), 9))
    first = api(user, "post", "/api/v1/govservice/bookings", json=payload, headers={"Idempotency-Key": "k-1"})
    again = api(user, "post", "/api/v1/govservice/bookings", json=payload, headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    assert database.session.scalar(sa.select(Slot.booked)) == 1


def test_one_active_booking_per_person_per_item_per_day(setup, resident, api):
    user, _person = resident
    day = tomorrow()
    first = api(user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, at(day, 9)))
    assert first.status_code == 201
    # Another slot, or another window, for the same item on the same day: refused.
    for window, hour in ((setup.window, 10), (setup.window2, 11)):
        again = api(user, "post", "/api/v1/govservice/bookings", json=body(setup.item, window, at(day, hour)))
        assert (again.status_code, again.json["code"]) == (409, "already_booked_that_day")
    # The place the refused booking took is given back: nothing half-done stays.
    assert database.session.scalar(sa.select(sa.func.sum(Slot.booked))) == 1
    # Another item the same day, and the same item the next day, are fine.
    other = api(user, "post", "/api/v1/govservice/bookings", json=body(setup.other, setup.window, at(day, 10)))
    assert other.status_code == 201
    next_day = api(
        user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, at(day + timedelta(days=1), 9))
    )
    assert next_day.status_code == 201
    # Once the first is cancelled, the same item that day may be booked again.
    assert api(user, "post", f"/api/v1/govservice/bookings/{first.json['id']}/cancel", json={}).status_code == 200
    again = api(user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, at(day, 11)))
    assert again.status_code == 201


def test_a_full_slot_refuses_and_a_cancellation_frees_a_place(tree, make_resident, api):
    setup = build_centre(tree.a, capacity=1)
    first_user, _ = make_resident("甲", sequence="991")
    second_user, _ = make_resident("乙", sequence="993")
    slot = at(tomorrow(), 9)
    first = api(first_user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, slot))
    full = api(second_user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, slot))
    assert (full.status_code, full.json["code"]) == (409, "slot_full")
    api(first_user, "post", f"/api/v1/govservice/bookings/{first.json['id']}/cancel", json={"reason": "有事"})
    retry = api(second_user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, slot))
    assert retry.status_code == 201


def test_the_booking_window_and_the_slots_offered(tree, resident, api):
    setup = build_centre(tree.a, earliest_days=1, latest_days=3)
    user, _person = resident
    today = clock.today()

    def book(day, hour, minute=0, item=setup.item):
        return api(user, "post", "/api/v1/govservice/bookings", json=body(item, setup.window, at(day, hour, minute)))

    assert book(today + timedelta(days=4), 9).json["code"] == "outside_booking_window"
    assert book(today + timedelta(days=1), 9, 15).json["code"] == "slot_not_offered"  # not a slot start
    assert book(today + timedelta(days=1), 13).json["code"] == "slot_not_offered"  # outside the session
    yesterday = book(today - timedelta(days=1), 9)
    assert (yesterday.status_code, yesterday.json["code"]) == (422, "outside_booking_window")
    assert book(today + timedelta(days=3), 11, 30).status_code == 201

    availability = api(user, "get", f"/api/v1/govservice/guides/{setup.item.public_id}/availability").json
    assert availability["first_day"] == (today + timedelta(days=1)).isoformat()
    assert [day["day"] for day in availability["days"]][-1] == (today + timedelta(days=3)).isoformat()
    last = availability["days"][-1]["slots"]
    taken = [
        s
        for s in last
        if s["starts_at"].startswith(f"{today + timedelta(days=3)}T11:30") and s["window"]["number"] == 1
    ]
    assert taken[0]["remaining"] == 1


def test_a_guide_that_is_not_bookable_refuses_bookings(tree, resident, api):
    from tests.govservice.fixtures import add_item

    setup = build_centre(tree.a)
    with atomic():
        item = add_item(setup.centre, setup.category, "SK-009", "社会保障卡临时挂失", bookable=False)
    user, _person = resident
    refused = api(user, "post", "/api/v1/govservice/bookings", json=body(item, setup.window, at(tomorrow(), 9)))
    assert (refused.status_code, refused.json["code"]) == (409, "not_bookable")


def test_cancel_after_the_cut_off_is_refused(setup, resident, api, freeze):
    user, _person = resident
    day = tomorrow()
    made = api(user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, at(day, 10)))
    freeze(at(day, 9, 30))  # the centre's cut-off is 60 minutes
    late = api(user, "post", f"/api/v1/govservice/bookings/{made.json['id']}/cancel", json={})
    assert (late.status_code, late.json["code"]) == (409, "cutoff_passed")


def test_reschedule_moves_the_place(setup, resident, api):
    user, _person = resident
    day = tomorrow()
    made = api(user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, at(day, 9)))
    moved = api(
        user,
        "post",
        f"/api/v1/govservice/bookings/{made.json['id']}/reschedule",
        json={"starts_at": at(day, 11).isoformat(), "window_id": setup.window2.public_id},
    )
    assert moved.status_code == 200, moved.json
    assert (moved.json["id"], moved.json["window"]["number"]) == (made.json["id"], 2)
    counts = dict(database.session.execute(sa.select(Slot.starts_at, Slot.booked)).all())
    assert sorted(counts.values()) == [0, 1]


def test_a_daughter_books_for_her_mother_through_an_appointments_delegation(tree, make_resident, api):
    setup = build_centre(tree.a)
    _none, mother = make_resident("王秀兰", sequence="992", account=False, community=tree.a)
    daughter_user, daughter = make_resident("王丽", sequence="994")
    _delegate(daughter, mother)
    made = api(
        daughter_user,
        "post",
        "/api/v1/govservice/bookings",
        json=body(setup.item, setup.window, at(tomorrow(), 9), for_resident_id=mother.public_id),
    )
    assert made.status_code == 201, made.json
    assert (made.json["via"], made.json["resident"]["id"]) == ("delegate", mother.public_id)
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "acting_for"))
    assert (entry.actor_user_id, entry.subject_id, entry.after["scope"]) == (
        daughter_user.id,
        mother.id,
        "appointments",
    )
    # She sees it in her list and may cancel it for her mother.
    listed = api(daughter_user, "get", "/api/v1/govservice/bookings").json["items"]
    assert [b["id"] for b in listed] == [made.json["id"]]
    assert (
        api(daughter_user, "post", f"/api/v1/govservice/bookings/{made.json['id']}/cancel", json={}).status_code == 200
    )


def test_a_delegation_without_appointments_or_no_delegation_is_refused(tree, make_resident, api):
    setup = build_centre(tree.a)
    _none, mother = make_resident("王秀兰", sequence="992", account=False, community=tree.a)
    daughter_user, daughter = make_resident("王丽", sequence="994")
    stranger_user, _stranger = make_resident("路人", sequence="995")
    _delegate(daughter, mother, scopes=("eldercare", "bills"))
    payload = body(setup.item, setup.window, at(tomorrow(), 9), for_resident_id=mother.public_id)
    refused = api(daughter_user, "post", "/api/v1/govservice/bookings", json=payload)
    assert (refused.status_code, refused.json["code"]) == (403, "delegation_denied")
    assert refused.json["details"] == {"reason": "scope_missing", "scope": "appointments"}
    nobody = api(stranger_user, "post", "/api/v1/govservice/bookings", json=payload)
    assert (nobody.status_code, nobody.json["code"]) == (404, "resident_not_found")
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Slot)) == 0


def test_staff_book_for_a_walk_in_with_a_reason_and_other_staff_see_nothing(tree, make_resident, staff_a, staff_b, api):
    setup = build_centre(tree.a)
    _none, caller = make_resident("李大爷", sequence="996", account=False, community=tree.a)
    centre = setup.centre.public_id
    payload = {**body(setup.item, setup.window, at(clock.today(), 11, 30)), "resident_id": caller.public_id}
    no_reason = api(staff_a, "post", f"/api/v1/govservice/manage/centres/{centre}/bookings", json=payload)
    assert no_reason.status_code == 422
    other = api(
        staff_b, "post", f"/api/v1/govservice/manage/centres/{centre}/bookings", json={**payload, "reason": "电话预约"}
    )
    assert (other.status_code, other.json["code"]) == (404, "centre_not_found")

    day = tomorrow()
    payload["starts_at"] = at(day, 9).isoformat()
    made = api(
        staff_a, "post", f"/api/v1/govservice/manage/centres/{centre}/bookings", json={**payload, "reason": "电话预约"}
    )
    assert made.status_code == 201, made.json
    assert (made.json["via"], made.json["reason"], made.json["resident"]["name"]) == ("staff", "电话预约", "李大爷")
    booking = made.json["id"]
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "acting_for"))
    assert (entry.after["via"], entry.reason) == ("staff", "电话预约")

    # Staff of another community: every door is a 404.
    for method, path in (
        ("get", f"/api/v1/govservice/bookings/{booking}"),
        ("get", f"/api/v1/govservice/manage/centres/{centre}/bookings"),
        ("post", f"/api/v1/govservice/manage/bookings/{booking}/no-show"),
        ("post", f"/api/v1/govservice/manage/bookings/{booking}/served"),
        ("get", f"/api/v1/govservice/manage/centres/{centre}/suspensions"),
        ("get", f"/api/v1/govservice/manage/centres/{centre}/closures"),
        ("get", f"/api/v1/govservice/manage/guides/{setup.item.public_id}"),
    ):
        assert api(staff_b, method, path).status_code == 404, path
    cancel = api(staff_b, "post", f"/api/v1/govservice/manage/bookings/{booking}/cancel", json={"reason": "x"})
    assert cancel.status_code == 404
    check_in = api(staff_b, "post", f"/api/v1/govservice/bookings/{booking}/check-in")
    assert check_in.status_code == 404
    closure = api(
        staff_b,
        "post",
        f"/api/v1/govservice/manage/centres/{centre}/closures",
        json={"day": day.isoformat(), "reason": "停电"},
    )
    assert closure.status_code == 404
    # Staff of the community see it, with the full name.
    assert api(staff_a, "get", f"/api/v1/govservice/bookings/{booking}").json["resident"]["name"] == "李大爷"
    worklist = api(staff_a, "get", f"/api/v1/govservice/manage/centres/{centre}/bookings?day={day}")
    assert worklist.status_code == 200
    assert [b["id"] for b in worklist.json] == [booking]
    assert "X-Pagination" in worklist.headers


def test_a_resident_cannot_see_another_residents_booking(setup, make_resident, api):
    owner, _ = make_resident("甲", sequence="991")
    other, _ = make_resident("乙", sequence="993")
    made = api(owner, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, at(tomorrow(), 9)))
    booking = made.json["id"]
    assert api(other, "get", f"/api/v1/govservice/bookings/{booking}").status_code == 404
    assert api(other, "post", f"/api/v1/govservice/bookings/{booking}/cancel", json={}).status_code == 404
    assert api(other, "get", "/api/v1/govservice/bookings").json["items"] == []


def test_the_business_day_is_the_date_in_shanghai(setup, resident, api, freeze):
    freeze(at(date(2026, 1, 31), 7, 0))
    user, _person = resident
    made = api(
        user, "post", "/api/v1/govservice/bookings", json={**body(setup.item, setup.window, at(date(2026, 2, 1), 9))}
    )
    assert made.status_code == 201, made.json
    assert made.json["day"] == "2026-02-01"


def test_staff_configure_the_rules_and_the_per_day_rule_can_be_turned_off(setup, resident, staff_a, api):
    path = f"/api/v1/govservice/manage/centres/{setup.centre.public_id}"
    wrong = api(staff_a, "patch", path, json={"earliest_days": 5, "latest_days": 2})
    assert wrong.status_code == 422
    changed = api(staff_a, "patch", path, json={"one_per_item_per_day": False, "latest_days": 30})
    assert (changed.status_code, changed.json["latest_days"]) == (200, 30)
    user, _person = resident
    day = tomorrow()
    for hour in (9, 10):
        made = api(user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, at(day, hour)))
        assert made.status_code == 201, made.json
    far = api(
        user,
        "post",
        "/api/v1/govservice/bookings",
        json=body(setup.item, setup.window, at(clock.today() + timedelta(days=30), 9)),
    )
    assert far.status_code == 201
