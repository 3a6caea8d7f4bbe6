"""Fee items through the API, meter readings one by one and by CSV (checked; all rows or none)."""

from datetime import date

import sqlalchemy as sa

from app.extensions import db as database
from fees.models import MeterReading
from tests.fees.conftest import add_item, bills_of, generate

ITEMS = "/api/v1/fees/estates/{}/items"


def test_staff_create_list_and_edit_fee_items(place, make_staff, api):
    staff = make_staff(place.tree.a)
    body = {
        "name": "电费",
        "kind": "electricity",
        "formula": "metered",
        "rate_centifen": 4883,
        "unit_label": "kWh",
        "cycle": "monthly",
        "payee_id": place.payee.public_id,
        "late_fee_bps_per_day": 5,
        "late_fee_cap_bps": 10000,
    }
    created = api(staff, "post", ITEMS.format(place.estate.public_id), json=body)
    assert created.status_code == 201, created.json
    assert (created.json["rate_yuan"], created.json["payee_id"], created.json["due_days"]) == (
        "0.4883",
        place.payee.public_id,
        15,
    )
    duplicate = api(staff, "post", ITEMS.format(place.estate.public_id), json=body)
    assert (duplicate.status_code, duplicate.json["code"]) == (409, "fee_item_exists")
    unknown_payee = api(
        staff, "post", ITEMS.format(place.estate.public_id), json={**body, "name": "水费", "payee_id": "x"}
    )
    assert unknown_payee.status_code == 404
    fractional = api(
        staff, "post", ITEMS.format(place.estate.public_id), json={**body, "name": "水费", "rate_centifen": 1.5}
    )
    assert fractional.status_code == 422
    listed = api(staff, "get", ITEMS.format(place.estate.public_id)).json
    assert [i["name"] for i in listed] == ["物业费", "电费"]
    changed = api(staff, "patch", f"/api/v1/fees/items/{created.json['id']}", json={"rate_centifen": 5000})
    assert changed.json["rate_yuan"] == "0.5000"
    assert api(make_staff(place.tree.b), "get", ITEMS.format(place.estate.public_id)).status_code == 404
    grid = make_staff(place.tree.a, "grid_worker")
    assert api(grid, "post", ITEMS.format(place.estate.public_id), json={**body, "name": "燃气费"}).status_code == 403


def meter(place):
    return add_item(
        place.estate, place.payee, "电费", kind="electricity", formula="metered", rate=4883, unit_label="kWh"
    )


def test_a_reading_takes_the_previous_one_and_refuses_a_decrease_without_a_meter_change(place, person, make_staff, api):
    power = meter(place)
    room = place.rooms["101"]
    person(room)
    staff = make_staff(place.tree.a)
    path = f"/api/v1/fees/items/{power.public_id}/readings"
    first = api(
        staff,
        "post",
        path,
        json={
            "household_id": room.public_id,
            "period": "2026-10",
            "previous_reading": "1000.00",
            "current_reading": "1100.50",
        },
    )
    assert first.status_code == 201, first.json
    assert (first.json["usage"], first.json["period"]) == ("100.50", "2026-10")
    second = api(
        staff, "post", path, json={"household_id": room.public_id, "period": "2026-11", "current_reading": "1223.95"}
    )
    assert (second.json["previous_reading"], second.json["usage"]) == ("1100.50", "123.45")
    again = api(
        staff, "post", path, json={"household_id": room.public_id, "period": "2026-11", "current_reading": "1300"}
    )
    assert (again.status_code, again.json["code"]) == (409, "reading_exists")
    lower = api(
        staff, "post", path, json={"household_id": room.public_id, "period": "2026-12", "current_reading": "20.00"}
    )
    assert (lower.status_code, lower.json["code"]) == (422, "reading_invalid")
    assert "换表说明" in lower.json["details"]["fields"]["json"]["current_reading"][0]
    changed = api(
        staff,
        "post",
        path,
        json={
            "household_id": room.public_id,
            "period": "2026-12",
            "current_reading": "20.00",
            "meter_change_note": "12月5日换新表",
            "old_meter_end": "1250.00",
            "new_meter_start": "0.00",
        },
    )
    assert changed.status_code == 201, changed.json
    assert changed.json["usage"] == "46.05"  # (1250.00 − 1223.95) + (20.00 − 0)
    generate(place.estate, date(2026, 11, 1))
    [bill] = bills_of(room, item_id=power.id)
    assert bill.amount_fen == 6028  # 123.45 kWh × 0.4883 元
    listed = api(staff, "get", path, query_string={"period": "2026-11"})
    assert [r["usage"] for r in listed.json] == ["123.45"]
    assert listed.headers["X-Pagination"]
    assert (
        api(
            make_staff(place.tree.b),
            "post",
            path,
            json={"household_id": room.public_id, "period": "2026-09", "current_reading": "1"},
        ).status_code
        == 404
    )
    not_metered = api(
        staff,
        "post",
        f"/api/v1/fees/items/{place.item.public_id}/readings",
        json={"household_id": room.public_id, "period": "2026-11", "current_reading": "1"},
    )
    assert (not_metered.status_code, not_metered.json["code"]) == (422, "item_not_metered")


def test_the_database_refuses_a_decrease_without_a_note_too(place):
    import pytest
    from sqlalchemy.exc import IntegrityError

    from app.db import atomic

    power = meter(place)
    with pytest.raises(IntegrityError), atomic():
        database.session.add(
            MeterReading(
                item_id=power.id,
                household_id=place.rooms["101"].id,
                period=date(2026, 11, 1),
                previous_reading=100,
                current_reading=90,
                usage=0,
                read_on=date(2026, 11, 28),
            )
        )
        database.session.flush()


CSV_OK = (
    "楼栋,单元,房号,本期读数,上期读数,抄表日期,换表说明,旧表止数,新表起数\n"
    "1号楼,1单元,101,1123.45,1000.00,2026-11-28,,,\n"
    "1号楼,1单元,102,86.40,0,2026/11/28,,,\n"
    "1号楼,1单元,201,10.00,900.00,2026-11-28,换表,950.00,0\n"
)


def test_a_csv_of_readings_is_imported_whole(place, make_staff, api, person):
    power = meter(place)
    staff = make_staff(place.tree.a)
    path = f"/api/v1/fees/items/{power.public_id}/readings/import?period=2026-11"
    response = api(staff, "post", path, data=CSV_OK.encode("gb18030"), content_type="text/csv")
    assert response.status_code == 201, response.json
    assert response.json == {"imported": 3, "period": "2026-11"}
    usage = dict(list(database.session.execute(sa.select(MeterReading.household_id, MeterReading.usage))))
    assert {str(v) for v in usage.values()} == {"123.45", "86.40", "60.00"}


def test_a_csv_with_any_bad_row_imports_nothing(place, make_staff, api):
    power = meter(place)
    staff = make_staff(place.tree.a)
    path = f"/api/v1/fees/items/{power.public_id}/readings/import?period=2026-11"
    bad = (
        "楼栋,单元,房号,本期读数,上期读数\n"
        "1号楼,1单元,101,1123.45,1000.00\n"
        "1号楼,1单元,102,50.00,60.00\n"  # a decrease without a note
        "1号楼,1单元,999,1,0\n"  # no such room
        "1号楼,1单元,201,abc,0\n"  # not a number
        "1号楼,1单元,101,1,0\n"  # the same household twice
        "1号楼,1单元,201,\n"
    )
    response = api(staff, "post", path, data=bad.encode(), content_type="text/csv")
    assert (response.status_code, response.json["code"]) == (422, "import_failed")
    rows = {(e["row"], e["column"]) for e in response.json["details"]["errors"]}
    assert {(3, "current"), (4, "room"), (5, "current"), (6, "room")} <= rows
    assert database.session.scalar(sa.select(sa.func.count()).select_from(MeterReading)) == 0
    missing_column = api(staff, "post", path, data="楼栋,房号\n1号楼,101\n".encode(), content_type="text/csv")
    assert missing_column.status_code == 422
    assert "本期读数" in missing_column.json["message"]
    no_previous = api(
        staff, "post", path, data="楼栋,单元,房号,本期读数\n1号楼,1单元,101,5\n".encode(), content_type="text/csv"
    )
    assert no_previous.json["details"]["errors"] == [
        {"row": 2, "column": "previous", "message": "没有上期读数，请填写"}
    ]
