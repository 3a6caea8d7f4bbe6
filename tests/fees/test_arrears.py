"""The staff arrears list and its export, reminders (催缴) at most once in N days, and the collection dashboard."""

from datetime import date, timedelta

import sqlalchemy as sa

from app.audit import AuditEntry
from app.db import atomic
from app.extensions import db as database
from app.push.models import Delivery, InboxItem
from fees import arrears
from fees.models import ArrearsReminder, ReminderMark
from fees.money import late_fee_fen, shanghai_today
from tests.fees.conftest import billed, bills_of, confirm, delegate, generate, months_back, order, pay

ARREARS = "/api/v1/fees/estates/{}/arrears"


def test_the_arrears_list_shows_overdue_households_largest_first_masked(place, person, make_staff, api):
    rooms = place.rooms
    person(rooms["101"], "张大山")
    person(rooms["102"], "李小红")
    with atomic():
        rooms["102"].floor_area_dm2 = 12000
    periods = months_back(2)
    for period in periods:
        generate(place.estate, period)
    staff = make_staff(place.tree.a)
    response = api(staff, "get", ARREARS.format(place.estate.public_id))
    assert response.status_code == 200, response.json
    assert response.headers["X-Pagination"]
    rows = response.json
    assert [r["household_id"] for r in rows] == [rooms["102"].public_id, rooms["101"].public_id]
    first = rows[0]
    assert (first["head_name"], first["bills"], first["principal_fen"]) == ("李**", 2, 2 * 18000)
    today = shanghai_today()
    expected_late = sum(late_fee_fen(b.principal_fen, b.due_on, today, 5, 1000) for b in bills_of(rooms["102"]))
    assert first["late_fee_fen"] == expected_late
    assert first["oldest_due_on"] == (periods[0] + timedelta(days=15)).isoformat()
    assert api(make_staff(place.tree.b), "get", ARREARS.format(place.estate.public_id)).status_code == 404


def test_the_arrears_export_is_masked_and_logged(place, person, make_staff, api, make_user):
    from app.accounts.models import User

    user, _resident = person(place.rooms["101"], "张大山")
    with atomic():
        database.session.get(User, user.id).phone = "+8613812345678"
    generate(place.estate, months_back(1)[0])
    staff = make_staff(place.tree.a)
    response = api(staff, "get", ARREARS.format(place.estate.public_id) + "/export")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff楼栋,单元,房号,户主,联系电话")
    assert "张**" in text
    assert "张大山" not in text
    assert "138****5678" in text
    assert "13812345678" not in text
    assert "134.25" in text
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "fees.export"))
    assert (entry.actor_user_id, entry.after["rows"]) == (staff.id, 1)
    grid = make_staff(place.tree.a, "grid_worker")
    assert api(grid, "get", ARREARS.format(place.estate.public_id) + "/export").status_code == 403


def test_reminders_go_to_members_and_delegates_at_most_once_in_n_days(
    place, person, make_resident, join, make_staff, api, run_jobs
):
    elder_room = place.rooms["201"]
    _none, elder = make_resident("王秀兰", sequence="992", account=False, born=date(1944, 5, 1))
    join(elder, elder_room, "head")
    daughter_user, daughter = person(place.rooms["101"], "王丽")
    delegate(daughter, elder)
    generate(place.estate, months_back(1)[0])
    staff = make_staff(place.tree.a)
    path = f"/api/v1/fees/estates/{place.estate.public_id}/reminders"

    first = api(staff, "post", path)
    assert first.status_code == 200, first.json
    assert first.json == {"reminded": 2, "interval_days": 7}  # the elder's household and the daughter's own
    assert api(staff, "post", path).json["reminded"] == 0  # again at once: nobody twice
    with atomic():
        assert arrears.remind_arrears(today=shanghai_today() + timedelta(days=6)) == 0
    reminder = database.session.scalar(sa.select(ArrearsReminder).where(ArrearsReminder.household_id == elder_room.id))
    assert (reminder.bills_count, reminder.principal_fen, reminder.by_user_id) == (1, 13425, staff.id)
    delivery = database.session.scalar(sa.select(Delivery).where(Delivery.public_id == reminder.delivery_id))
    assert (delivery.event, delivery.source_kind, delivery.source_id) == (
        "fees.arrears_reminder",
        "household",
        elder_room.public_id,
    )
    assert "1笔费用已逾期" in delivery.body
    run_jobs()
    # The elder has no account: her daughter receives it for her, through the bills delegation.
    inbox = database.session.scalars(
        sa.select(InboxItem).where(InboxItem.user_id == daughter_user.id).order_by(InboxItem.id)
    ).all()
    assert {item.resident_id for item in inbox} == {elder.id, daughter.id}

    # Seven days later the schedule reminds them again.
    later = shanghai_today() + timedelta(days=7)
    slot = f"{later.isoformat()}T10:00:00+08:00"
    with atomic():
        arrears.send_arrears_reminders(slot)
    marks = database.session.scalars(sa.select(ReminderMark.last_sent_on)).all()
    assert marks == [later, later]


def test_paid_bills_are_not_chased(place, person, api):
    user, _resident = person(place.rooms["101"])
    bills = billed(place, place.rooms["101"], months_back(1))
    made = order(api, user, place.rooms["101"], bills).json
    confirm(user, pay(api, user, made["id"]).json["id"])
    with atomic():
        assert arrears.remind_arrears() == 0


def test_the_dashboard_states_billed_collected_and_the_rate(place, person, make_staff, api):
    rooms = place.rooms
    payer, _r = person(rooms["101"], "缴费户")
    person(rooms["102"], "欠费户")
    person(rooms["201"], "减免户")
    [period] = months_back(1)
    generate(place.estate, period)
    [paid_bill] = bills_of(rooms["101"])
    made = order(api, payer, rooms["101"], [paid_bill]).json
    confirm(payer, pay(api, payer, made["id"]).json["id"])
    staff = make_staff(place.tree.a)
    [discounted] = bills_of(rooms["201"])
    api(
        staff,
        "post",
        f"/api/v1/fees/bills/{discounted.public_id}/adjustments",
        json={"kind": "discount", "amount_fen": 3425, "reason": "困难家庭"},
    )
    label = f"{period.year:04d}-{period.month:02d}"
    response = api(
        staff,
        "get",
        f"/api/v1/fees/estates/{place.estate.public_id}/dashboard",
        query_string={"from": label, "to": label},
    )
    assert response.status_code == 200, response.json
    body = response.json
    [row] = body["periods"]
    assert row["period"] == label
    assert (row["bills"], row["paid_bills"]) == (3, 1)
    assert row["billed_fen"] == 13425 + 13425 + 10000
    assert row["collected_fen"] == 13425
    assert row["late_fees_collected_fen"] == made["late_fee_fen"]
    assert row["collection_rate_percent"] == "36.43"  # 13425 / 36850 = 36.431 %
    assert (row["outstanding_fen"], row["arrears_fen"], row["arrears_households"]) == (23425, 23425, 2)
    assert body["total"]["collection_rate_percent"] == "36.43"
    assert "collected_fen / billed_fen" in body["definition"]
    bad = api(
        staff,
        "get",
        f"/api/v1/fees/estates/{place.estate.public_id}/dashboard",
        query_string={"from": "2026-11", "to": "2026-01"},
    )
    assert bad.status_code == 422
