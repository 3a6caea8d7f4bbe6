"""Application statistics per centre, item and period against hand-computed figures, on a fixture with mixed
outcomes: on time and late, paused, not accepted, returned, withdrawn, rated and unrated, still open and overdue."""

from __future__ import annotations

import json
from datetime import date

import pytest

from govservice import applications, applications_staff
from govservice.application_models import Outcome
from tests.govservice.fixtures import at
from tests.govservice.test_applications import build, uploads

API = "/api/v1/govservice"
MARCH = "start=2026-03-01&end=2026-03-31"


@pytest.fixture
def mixed(tree, resident, staff_a, freeze, make_resident):
    """Ten applications submitted on Monday 9 March 2026 (items A and B, 5 promised working days), read on
    Friday 20 March; plus one submitted on 28 February at 23:30 (outside March) and one at another centre."""
    gov = build(tree, promised_days=5)
    user, _ = resident
    other_tree_centre = build_other_centre(tree)

    def day(d: int, hour: int = 10):
        freeze(at(date(2026, 3, d), hour))

    def apply(item):
        return applications.submit(
            user, item_id=item.public_id, for_resident_id=None, form={}, materials=uploads(user, "hukou_book", "photo")
        )

    def staff(fn, application, **kwargs):
        return fn(staff_a, application.public_id, **kwargs)

    freeze(at(date(2026, 2, 28), 23, 30))
    apply(gov.item)  # outside the period (local date 28 February)
    day(9, 9)
    a = [apply(gov.item) for _ in range(6)]
    b = [apply(gov.other) for _ in range(4)]
    applications.submit(
        user,
        item_id=other_tree_centre.public_id,
        for_resident_id=None,
        form={},
        materials=uploads(user, "hukou_book", "photo"),
    )
    day(9)
    for application in (a[0], a[1], a[2], a[5], b[1], b[3]):
        staff(applications_staff.accept, application, note=None)  # due Monday 16 March
    applications.withdraw(user, a[3].public_id, reason=None)
    staff(applications_staff.refuse, a[4], reason="不符合受理条件")
    staff(applications_staff.return_application, b[0], reason="材料不清晰")
    day(10)
    staff(applications_staff.complete, b[1], outcome=Outcome.approved, result="准予")  # 1 working day
    staff(applications_staff.request_correction, a[1], reason="补", material_codes=["photo"])
    staff(applications_staff.request_correction, b[3], reason="补", material_codes=["photo"])  # still paused
    day(13)
    applications.supply_correction(user, a[1].public_id, materials=uploads(user, "photo"), note=None)  # 3 paused
    staff(applications_staff.complete, a[0], outcome=Outcome.approved, result="准予")  # 4 working days, on time
    day(17)
    staff(applications_staff.complete, a[2], outcome=Outcome.denied, result="不予批准")  # 6 days, due 16: late
    day(18)
    staff(applications_staff.complete, a[1], outcome=Outcome.approved, result="准予")  # 7 - 3 = 4 days, due 19
    day(20)
    applications.rate(user, a[0].public_id, score=5, comment="")
    applications.rate(user, a[1].public_id, score=3, comment="等得久")
    applications.rate(user, b[1].public_id, score=4, comment="")
    return gov


def build_other_centre(tree):
    """An online item of a centre of community B (its applications must not count for A's centre)."""
    from app.db import atomic
    from govservice.models import Category, Centre
    from govservice.search import search_key
    from tests.govservice.fixtures import add
    from tests.govservice.test_applications import add_online_item

    with atomic():
        centre = add(Centre(region_id=tree.b.id, name="和平社区党群服务中心"))
        category = add(Category(centre_id=centre.id, name="社会保障", search=search_key("社会保障")))
        return add_online_item(centre, category, "SB-101", "城乡居民养老保险参保登记")


def rate(numerator, denominator, value):
    return {"numerator": numerator, "denominator": denominator, "value": value}


def rates_of(figures):
    return {
        name: {key: entry[key] for key in ("numerator", "denominator", "value")}
        for name, entry in figures["rates"].items()
    }


def test_statistics_match_hand_computed_figures(api, mixed, staff_a):
    response = api(staff_a, "get", f"{API}/manage/centres/{mixed.centre.public_id}/application-stats?{MARCH}")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["period"] == {"start": "2026-03-01", "end": "2026-03-31"}
    totals = body["totals"]
    counts = {
        key: totals[key]
        for key in (
            "received",
            "withdrawn",
            "returned",
            "not_accepted",
            "awaiting",
            "accepted",
            "in_progress",
            "overdue_in_progress",
            "completed",
            "approved",
            "denied",
            "on_time",
            "rated",
            "satisfied",
        )
    }
    assert counts == {
        "received": 10,
        "withdrawn": 1,
        "returned": 1,
        "not_accepted": 1,
        "awaiting": 1,
        "accepted": 6,
        "in_progress": 2,  # A6 running (overdue), B4 paused in 补正 (not overdue)
        "overdue_in_progress": 1,
        "completed": 4,
        "approved": 3,
        "denied": 1,
        "on_time": 3,
        "rated": 3,
        "satisfied": 2,
    }
    assert rates_of(totals) == {
        "acceptance_rate": rate(6, 9, 0.6667),
        "completion_rate": rate(4, 6, 0.6667),
        "on_time_rate": rate(3, 4, 0.75),
        "average_workdays": rate(15, 4, 3.75),  # 4 + 4 + 6 + 1
        "satisfaction": rate(2, 3, 0.6667),
        "rating_rate": rate(3, 4, 0.75),
    }
    assert totals["average_score"] == 4.0
    assert totals["rates"]["completion_rate"]["denominator_label"] == "受理件数"

    by_item = {entry["item"]["name"]: entry for entry in body["items"]}
    pension, relief = by_item["城乡居民养老保险参保登记"], by_item["临时救助申请"]
    assert (pension["received"], pension["accepted"], pension["completed"], pension["on_time"]) == (6, 4, 3, 2)
    assert rates_of(pension)["average_workdays"] == rate(14, 3, 4.67)
    assert rates_of(pension)["satisfaction"] == rate(1, 2, 0.5)
    assert (relief["received"], relief["returned"], relief["awaiting"], relief["in_progress"]) == (4, 1, 1, 1)
    assert rates_of(relief)["on_time_rate"] == rate(1, 1, 1.0)

    one = api(
        staff_a,
        "get",
        f"{API}/manage/centres/{mixed.centre.public_id}/application-stats?{MARCH}&item_id={mixed.other.public_id}",
    )
    assert [entry["item"]["code"] for entry in one.json["items"]] == ["SJ-201"]
    assert one.json["totals"]["received"] == 4


def test_an_empty_period_has_rates_without_a_value(api, mixed, staff_a):
    response = api(
        staff_a,
        "get",
        f"{API}/manage/centres/{mixed.centre.public_id}/application-stats?start=2026-04-01&end=2026-04-30",
    )
    assert response.json["totals"]["received"] == 0
    assert response.json["totals"]["rates"]["completion_rate"] == {
        **response.json["totals"]["rates"]["completion_rate"],
        "numerator": 0,
        "denominator": 0,
        "value": None,
    }
    bad = api(
        staff_a,
        "get",
        f"{API}/manage/centres/{mixed.centre.public_id}/application-stats?start=2026-04-02&end=2026-04-01",
    )
    assert (bad.status_code, bad.json["code"]) == (422, "validation_failed")


def test_public_summary_carries_the_figures_and_no_personal_data(api, mixed, staff_a):
    public = api(None, "get", f"{API}/centres/{mixed.centre.public_id}/application-stats?{MARCH}")
    assert public.status_code == 200, public.json
    staff = api(staff_a, "get", f"{API}/manage/centres/{mixed.centre.public_id}/application-stats?{MARCH}")
    assert public.json["totals"] == staff.json["totals"]
    text = json.dumps(public.json, ensure_ascii=False)
    for personal in ("张三", "resident", "comment", "等得久", "phone", "document"):
        assert personal not in text


def test_staff_of_another_community_cannot_read_the_statistics(api, mixed, staff_b, make_staff, tree):
    assert api(staff_b, "get", f"{API}/manage/centres/{mixed.centre.public_id}/application-stats").status_code == 404
    grid = make_staff(tree.a, role="grid_worker")
    assert api(grid, "get", f"{API}/manage/centres/{mixed.centre.public_id}/application-stats").status_code == 403
