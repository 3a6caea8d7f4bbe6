"""Formulas and rounding against bills computed by hand (area, fixed, metered), and the late fee with its cap."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.db import atomic
from app.extensions import db as database
from fees.models import Cycle, MeterReading
from fees.money import late_fee_fen, late_fee_sql, line_amount_fen, period_title
from tests.fees.conftest import add_item, bills_of, generate

NOV = date(2026, 11, 1)


def set_area(household, dm2):
    with atomic():
        household.floor_area_dm2 = dm2
        database.session.flush()


def reading(item, household, usage: str, period=NOV, previous: str = "1000.00"):
    with atomic():
        database.session.add(
            MeterReading(
                item_id=item.id,
                household_id=household.id,
                period=period,
                previous_reading=Decimal(previous),
                current_reading=Decimal(previous) + Decimal(usage),
                usage=Decimal(usage),
                read_on=period,
            )
        )


@pytest.mark.parametrize(
    ("quantity", "rate_centifen", "months", "fen"),
    [
        (Decimal("89.50"), 15000, 1, 13425),  # 89.50 m² × 1.50 元 = 134.25 元
        (Decimal("89.51"), 14567, 1, 13039),  # 130.389217 元 → 13038.9217 fen → 13039
        (Decimal("1.00"), 50, 1, 1),  # 0.5 fen: half-up gives 1 (banker's rounding would give 0)
        (Decimal("5.00"), 50, 1, 3),  # 2.5 fen → 3 (banker's: 2)
        (Decimal("1"), 80050, 3, 2402),  # 8.005 元 × 3 months = 2401.5 fen → 2402, rounded once, not per month
        (Decimal("123.45"), 4883, 1, 6028),  # 123.45 kWh × 0.4883 元 = 60.280635 元
        (Decimal("86.40"), 4883, 1, 4219),  # 4218.912 fen
        (Decimal("0.50"), 100, 1, 1),  # 0.5 fen → 1
    ],
)
def test_a_line_is_rounded_half_up_once(quantity, rate_centifen, months, fen):
    assert line_amount_fen(quantity, rate_centifen, months) == fen


def test_generated_per_area_bills_match_hand_computed_ones(place, person):
    rooms = place.rooms
    set_area(rooms["101"], 8950)
    set_area(rooms["102"], 100)
    set_area(rooms["201"], 500)
    for room in rooms.values():
        person(room, f"户主{room.room}")
    tiny = add_item(place.estate, place.payee, "公共能耗分摊", rate=50)  # 0.005 元/m²·月
    generate(place.estate, NOV)
    assert [b.amount_fen for b in bills_of(rooms["101"], item_id=place.item.id)] == [13425]
    assert [b.amount_fen for b in bills_of(rooms["101"], item_id=tiny.id)] == [45]  # 89.50 × 0.5 fen = 44.75
    assert [b.amount_fen for b in bills_of(rooms["102"], item_id=tiny.id)] == [1]  # 0.5 fen, half-up
    assert [b.amount_fen for b in bills_of(rooms["201"], item_id=tiny.id)] == [3]  # 2.5 fen, half-up
    [bill] = bills_of(rooms["101"], item_id=place.item.id)
    assert (bill.quantity, bill.months, bill.rate_centifen) == (Decimal("89.50"), 1, 15000)
    assert (bill.title, bill.period, bill.due_on) == ("2026年11月物业费", NOV, date(2026, 11, 16))


def test_generated_fixed_and_quarterly_bills_match_hand_computed_ones(place, person):
    room = place.rooms["101"]
    person(room)
    fixed = add_item(place.estate, place.payee, "垃圾处理费", kind="garbage", formula="fixed", rate=80050)
    quarterly = add_item(
        place.estate, place.payee, "电梯费", kind="elevator", formula="fixed", rate=80050, cycle="quarterly"
    )
    yearly = add_item(place.estate, place.payee, "物业费（年缴）", formula="per_area", rate=14567, cycle="yearly")
    generate(place.estate, NOV)
    assert [b.amount_fen for b in bills_of(room, item_id=fixed.id)] == [801]  # 800.5 fen → 801
    [q] = bills_of(room, item_id=quarterly.id)
    assert (q.amount_fen, q.months, q.period, q.title) == (2402, 3, date(2026, 10, 1), "2026年第4季度电梯费")
    [y] = bills_of(room, item_id=yearly.id)
    # 89.50 m² × 1.4567 元 × 12 = 1564.4958 元 → 156449.58 fen → 156450
    assert (y.amount_fen, y.months, y.period, y.title) == (156450, 12, date(2026, 1, 1), "2026年度物业费（年缴）")


def test_generated_metered_bills_use_the_periods_readings(place, person):
    rooms = place.rooms
    for room in rooms.values():
        person(room, f"户主{room.room}")
    power = add_item(
        place.estate, place.payee, "电费", kind="electricity", formula="metered", rate=4883, unit_label="kWh"
    )
    reading(power, rooms["101"], "123.45")
    reading(power, rooms["102"], "86.40")
    reading(power, rooms["201"], "0.00")  # no usage: no bill
    reading(power, rooms["201"], "50.00", period=date(2026, 10, 1))  # another month: not this bill
    stats = generate(place.estate, NOV)
    assert [b.amount_fen for b in bills_of(rooms["101"], item_id=power.id)] == [6028]
    [bill] = bills_of(rooms["102"], item_id=power.id)
    assert (bill.amount_fen, bill.quantity, bill.rate_centifen) == (4219, Decimal("86.40"), 4883)
    assert bill.meter_reading_id is not None
    assert bills_of(rooms["201"], item_id=power.id) == []
    assert stats[power.public_id] == {
        "name": "电费",
        "period": "2026-11-01",
        "created": 2,
        "billable": 3,
        "missing": 1,
    }


DUE = date(2026, 11, 16)


@pytest.mark.parametrize(
    ("on", "fee"),
    [
        (DUE - timedelta(days=3), 0),
        (DUE, 0),  # the due date itself is on time
        (DUE + timedelta(days=1), 7),  # 13425 × 0.0005 = 6.7125
        (DUE + timedelta(days=10), 67),  # 67.125
        (DUE + timedelta(days=100), 671),  # 671.25
        (DUE + timedelta(days=199), 1336),  # 1335.7875
        (DUE + timedelta(days=200), 1343),  # 1342.5 → 1343, reaching the cap (10 % of 13425 = 1342.5 → 1343)
        (DUE + timedelta(days=201), 1343),  # 1349.2125, capped
        (DUE + timedelta(days=800), 1343),  # capped for good
    ],
)
def test_the_late_fee_grows_daily_and_stops_at_its_cap(on, fee, db):
    assert late_fee_fen(13425, DUE, on, 5, 1000) == fee
    # The SQL used by lists and reminders says the same.
    sql = sa.select(late_fee_sql(sa.literal(13425), sa.literal(DUE, sa.Date), on, 5, 1000, sa.false()))
    assert database.session.scalar(sql) == fee


def test_a_waived_or_rule_free_late_fee_is_nothing(db):
    late = DUE + timedelta(days=30)
    assert late_fee_fen(13425, DUE, late, 0, 1000) == 0
    assert late_fee_fen(13425, DUE, late, 5, 0) == 0
    sql = sa.select(late_fee_sql(sa.literal(13425), sa.literal(DUE, sa.Date), late, 5, 1000, sa.true()))
    assert database.session.scalar(sql) == 0


def test_period_titles():
    assert period_title(Cycle.monthly, date(2026, 2, 1), "水费") == "2026年2月水费"
    assert period_title(Cycle.quarterly, date(2026, 1, 1), "物业费") == "2026年第1季度物业费"
