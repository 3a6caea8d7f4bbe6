"""Residents see their household's bills, put several into a fee order and pay it; delegates pay for an elder."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.resident_models import Delegation
from app.audit import AuditEntry
from app.db import atomic, utcnow
from app.extensions import db as database
from fees import orders
from fees.models import Bill, FeeOrder, OrderStatus, Receipt
from fees.money import late_fee_fen, shanghai_today
from payments.models import Payment, PaymentStatus
from tests.fees.conftest import (
    add_item,
    add_payee,
    billed,
    bills_of,
    confirm,
    delegate,
    generate,
    months_back,
    move_out,
    order,
    pay,
)

ORDERS = "/api/v1/fees/orders"
HOUSEHOLDS = "/api/v1/fees/households"


def expected_total(bill: Bill) -> int:
    return bill.principal_fen + late_fee_fen(
        bill.principal_fen, bill.due_on, shanghai_today(), bill.late_fee_bps_per_day, bill.late_fee_cap_bps
    )


def test_a_member_sees_the_households_bills_with_late_fees_as_of_today(place, person, api):
    room = place.rooms["101"]
    user, _resident = person(room)
    bills = billed(place, room, months_back(2))
    [household] = api(user, "get", HOUSEHOLDS).json
    assert (household["id"], household["via"], household["unpaid_count"]) == (room.public_id, "member", 2)
    assert household["total_fen"] == sum(expected_total(b) for b in bills)
    assert household["late_fee_fen"] > 0  # both months are past their due date
    page = api(user, "get", f"{HOUSEHOLDS}/{room.public_id}/bills").json
    assert page["via"] == "member"
    assert [b["id"] for b in page["items"]] == [b.public_id for b in reversed(bills)]  # newest first
    newest = page["items"][0]
    assert (newest["amount_fen"], newest["principal_fen"], newest["status"]) == (13425, 13425, "unpaid")
    assert newest["total_fen"] == expected_total(bills[-1])
    assert newest["late_fee_as_of"] == shanghai_today().isoformat()
    assert newest["locked"] is False
    one = api(user, "get", f"{HOUSEHOLDS}/{room.public_id}/bills", query_string={"limit": 1}).json
    assert len(one["items"]) == 1
    assert one["next_cursor"]
    rest = api(
        user, "get", f"{HOUSEHOLDS}/{room.public_id}/bills", query_string={"limit": 1, "cursor": one["next_cursor"]}
    ).json
    assert [b["id"] for b in rest["items"]] == [bills[0].public_id]


def test_paying_three_months_at_once_marks_exactly_those_three_paid_and_numbers_one_receipt(place, person, api):
    room = place.rooms["101"]
    user, _resident = person(room)
    bills = billed(place, room, months_back(4))
    chosen, left = bills[:3], bills[3]
    made = order(api, user, room, chosen)
    assert made.status_code == 201, made.json
    body = made.json
    assert body["amount_fen"] == sum(expected_total(b) for b in chosen)
    assert body["principal_fen"] == 3 * 13425
    assert body["payable"] == {"kind": "fees.fee_order", "id": body["id"]}
    assert [line["bill_id"] for line in body["lines"]] == [b.public_id for b in chosen]
    locked = api(user, "get", f"{HOUSEHOLDS}/{room.public_id}/bills").json["items"]
    assert [b["locked"] for b in locked] == [False, True, True, True]

    payment = pay(api, user, body["id"])
    assert payment.status_code == 201, payment.json
    assert payment.json["amount_fen"] == body["amount_fen"]
    assert payment.json["payee"]["name"] == place.payee.name
    assert "1号楼" in payment.json["items"][0]["title"]
    confirm(user, payment.json["id"])

    after = {b.public_id: b for b in bills_of(room)}
    assert [after[b.public_id].status.value for b in chosen] == ["paid"] * 3
    assert after[left.public_id].status.value == "unpaid"
    for bill in chosen:
        line = next(x for x in body["lines"] if x["bill_id"] == bill.public_id)
        assert (after[bill.public_id].paid_principal_fen, after[bill.public_id].paid_late_fee_fen) == (
            line["principal_fen"],
            line["late_fee_fen"],
        )
    receipts = database.session.scalars(sa.select(Receipt)).all()
    assert len(receipts) == 1
    [receipt] = receipts
    year = utcnow().year
    assert (receipt.number, receipt.seq, receipt.total_fen) == (f"{year}-000001", 1, body["amount_fen"])

    shown = api(user, "get", f"{ORDERS}/{body['id']}").json
    assert (shown["status"], shown["payment_id"], shown["receipt_id"]) == (
        "paid",
        payment.json["id"],
        receipt.public_id,
    )
    got = api(user, "get", f"/api/v1/fees/receipts/{receipt.public_id}").json
    assert got["number"] == receipt.number
    assert got["payee"]["name"] == place.payee.name
    assert [line["bill_id"] for line in got["lines"]] == [b.public_id for b in chosen]
    assert got["total_fen"] == sum(line["amount_fen"] for line in got["lines"])
    assert got["paid_at"].endswith("+08:00")
    assert got["paid_for"] == "张*"
    printable = api(user, "get", f"/api/v1/fees/receipts/{receipt.public_id}/printable")
    assert printable.status_code == 200
    assert printable.mimetype == "text/html"
    assert receipt.number in printable.get_data(as_text=True)
    mine = api(user, "get", "/api/v1/fees/receipts").json["items"]
    assert [r["id"] for r in mine] == [receipt.public_id]
    # Paid bills cannot go into another order.
    again = order(api, user, room, chosen[:1])
    assert (again.status_code, again.json["code"]) == (409, "bill_not_unpaid")


def test_a_delegate_pays_for_the_elders_household(place, person, make_resident, join, api):
    elder_room, own_room = place.rooms["201"], place.rooms["101"]
    _none, elder = make_resident("王秀兰", sequence="992", account=False, born=date(1944, 5, 1))
    join(elder, elder_room, "head")
    daughter_user, daughter = person(own_room, "王丽")
    delegate(daughter, elder)
    bills = billed(place, elder_room, months_back(2))

    households = {h["id"]: h for h in api(daughter_user, "get", HOUSEHOLDS).json}
    assert households[elder_room.public_id]["via"] == "delegate"
    assert households[elder_room.public_id]["for_resident"]["name"] == "王**"
    assert households[own_room.public_id]["via"] == "member"
    page = api(daughter_user, "get", f"{HOUSEHOLDS}/{elder_room.public_id}/bills").json
    assert (page["via"], len(page["items"])) == ("delegate", 2)

    made = order(api, daughter_user, elder_room, bills)
    assert made.status_code == 201, made.json
    payment = pay(api, daughter_user, made.json["id"])
    assert payment.status_code == 201, payment.json
    confirm(daughter_user, payment.json["id"])
    assert [b.status.value for b in bills_of(elder_room)] == ["paid", "paid"]
    receipt_id = api(daughter_user, "get", f"{ORDERS}/{made.json['id']}").json["receipt_id"]
    assert api(daughter_user, "get", f"/api/v1/fees/receipts/{receipt_id}").status_code == 200
    order_row = database.session.scalar(sa.select(FeeOrder).where(FeeOrder.public_id == made.json["id"]))
    assert order_row.for_resident_id == elder.id
    assert order_row.created_by_user_id == daughter_user.id
    # Acting for the elder is recorded with actor and subject.
    acts = database.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "acting_for", AuditEntry.subject_id == elder.id)
    ).all()
    assert acts
    assert all(a.actor_user_id == daughter_user.id for a in acts)


def test_a_delegation_without_bills_or_expired_shows_nothing(place, person, make_resident, join, api):
    elder_room = place.rooms["201"]
    _none, elder = make_resident("老人", sequence="993", account=False, born=date(1944, 5, 1))
    join(elder, elder_room, "head")
    helper_user, helper = person(place.rooms["101"], "邻居")
    delegate(helper, elder, scopes=("appointments",))
    billed(place, elder_room, months_back(1))
    assert elder_room.public_id not in {h["id"] for h in api(helper_user, "get", HOUSEHOLDS).json}
    # A delegate of a member is refused with what is missing (403 delegation_denied, issue #12), and sees no bill.
    refused = api(helper_user, "get", f"{HOUSEHOLDS}/{elder_room.public_id}/bills")
    assert (refused.status_code, refused.json["details"]["reason"]) == (403, "scope_missing")
    with atomic():
        database.session.execute(
            sa.update(Delegation).values(scopes=["bills"], expires_at=utcnow() - timedelta(minutes=1))
        )
    refused = api(helper_user, "get", f"{HOUSEHOLDS}/{elder_room.public_id}/bills")
    assert (refused.status_code, refused.json["details"]["reason"]) == (403, "expired")


def test_a_former_tenant_sees_nothing_new(place, person, api):
    room = place.rooms["102"]
    _head_user, _head = person(room, "房东", account=False)
    tenant_user, tenant = person(room, "租户", role="tenant")
    [old_period, new_period] = months_back(2)
    [old_bill] = billed(place, room, [old_period])
    made = order(api, tenant_user, room, [old_bill]).json
    confirm(tenant_user, pay(api, tenant_user, made["id"]).json["id"])
    old_receipt = api(tenant_user, "get", f"{ORDERS}/{made['id']}").json["receipt_id"]

    move_out(tenant, room)
    billed(place, room, [new_period])
    assert api(tenant_user, "get", HOUSEHOLDS).json == []
    assert api(tenant_user, "get", f"{HOUSEHOLDS}/{room.public_id}/bills").status_code == 404
    [new_bill] = bills_of(room, period=new_period)
    assert api(tenant_user, "get", f"/api/v1/fees/bills/{new_bill.public_id}").status_code == 404
    assert order(api, tenant_user, room, [new_bill]).status_code == 404
    # What they paid themselves stays theirs: the old receipt, and only it.
    assert [r["id"] for r in api(tenant_user, "get", "/api/v1/fees/receipts").json["items"]] == [old_receipt]
    assert api(tenant_user, "get", f"/api/v1/fees/receipts/{old_receipt}").status_code == 200


def test_staff_see_bills_in_scope_only(place, person, make_staff, api):
    room = place.rooms["101"]
    person(room)
    [bill] = billed(place, room, months_back(1))
    path = f"{HOUSEHOLDS}/{room.public_id}/bills"
    staff_a = make_staff(place.tree.a)
    assert api(staff_a, "get", path).json["via"] == "staff"
    assert api(staff_a, "get", f"/api/v1/fees/bills/{bill.public_id}").status_code == 200
    other = make_staff(place.tree.b)
    assert api(other, "get", path).status_code == 404
    assert api(other, "get", f"/api/v1/fees/bills/{bill.public_id}").status_code == 404
    assert api(make_staff(place.tree.c), "get", path).status_code == 404
    assert api(make_staff(place.tree.a, "grid_worker"), "get", path).status_code == 403
    # Staff may look, not pay: a fee order is for members and their delegates.
    made = order(api, staff_a, room, [bill])
    assert made.status_code == 403


def test_an_open_order_locks_its_bills_against_another_order(place, person, api):
    room = place.rooms["101"]
    head_user, _head = person(room, "户主")
    spouse_user, _spouse = person(room, "配偶", role="family")
    bills = billed(place, room, months_back(2))
    first = order(api, head_user, room, bills).json
    taken = order(api, spouse_user, room, bills[:1])
    assert (taken.status_code, taken.json["code"]) == (409, "bill_locked")
    # The same order again is handed back; another selection replaces my own unpaid order.
    assert order(api, head_user, room, bills).json["id"] == first["id"]
    second = order(api, head_user, room, bills[1:]).json
    assert second["id"] != first["id"]
    assert api(head_user, "get", f"{ORDERS}/{first['id']}").json["status"] == "cancelled"
    # The first bill is free again, for anyone in the household.
    assert order(api, spouse_user, room, bills[:1]).status_code == 201


def test_an_expired_order_without_a_payment_is_released_and_one_with_a_payment_is_kept(place, person, api, run_jobs):
    room = place.rooms["101"]
    user, _resident = person(room)
    bills = billed(place, room, months_back(2))
    idle = order(api, user, room, bills[:1]).json
    paying = order(api, user, room, bills[1:]).json
    pay(api, user, paying["id"])
    with atomic():
        database.session.execute(sa.update(FeeOrder).values(expires_at=utcnow() - timedelta(minutes=2)))
        from app.outbox import OutboxRow, OutboxStatus

        database.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.status == OutboxStatus.pending, OutboxRow.job.like("fees.%"))
            .values(run_at=utcnow())
        )
    run_jobs()
    assert api(user, "get", f"{ORDERS}/{idle['id']}").json["status"] == "expired"
    assert api(user, "get", f"{ORDERS}/{paying['id']}").json["status"] == "open"  # its payment is still open
    # Someone else's expired order no longer blocks the bill either.
    spouse_user, _spouse = person(room, "配偶", role="family")
    assert order(api, spouse_user, room, bills[:1]).status_code == 201


def test_money_for_an_order_whose_bills_were_paid_through_another_order_is_refunded(place, person, api, run_jobs):
    room = place.rooms["101"]
    user, _resident = person(room)
    bills = billed(place, room, months_back(1))
    first = order(api, user, room, bills).json
    stale_payment = pay(api, user, first["id"]).json
    # The payment is closed at expiry and the order released; a new order and payment pay the bill.
    with atomic():
        from payments.services import _close

        _close(
            database.session.get(
                Payment, database.session.scalar(sa.select(Payment.id).where(Payment.public_id == stale_payment["id"]))
            ),
            reason="expired",
            at_channel=False,
        )
        orders._release(orders.get_order(first["id"]), OrderStatus.expired)
    second = order(api, user, room, bills).json
    confirm(user, pay(api, user, second["id"]).json["id"])
    # Now the channel reports the old payment paid after all: the money goes back, the bill stays paid once.
    confirm(user, stale_payment["id"])
    late = database.session.scalar(sa.select(Payment).where(Payment.public_id == stale_payment["id"]))
    assert (late.status, late.late_reason.value) == (PaymentStatus.paid, "payment_closed")
    assert [b.status.value for b in bills_of(room)] == ["paid"]
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1


def test_bills_of_two_payees_or_another_household_are_refused(place, person, api):
    room = place.rooms["101"]
    user, _resident = person(room)
    person(place.rooms["102"], "邻居")
    water = add_item(place.estate, add_payee("自来水公司"), "水费", kind="water", formula="fixed", rate=100000)
    [period] = months_back(1)
    generate(place.estate, period)
    mine = bills_of(room)
    assert {b.item_id for b in mine} == {place.item.id, water.id}
    mixed = order(api, user, room, mine)
    assert (mixed.status_code, mixed.json["code"]) == (422, "mixed_payees")
    neighbours = bills_of(place.rooms["102"])
    assert order(api, user, room, neighbours[:1]).status_code == 404
    unknown = api(user, "post", ORDERS, json={"household_id": room.public_id, "bill_ids": ["nope"]})
    assert unknown.status_code == 404


@pytest.mark.parametrize("kind", ["discount", "waive_late_fee", "cancel"])
def test_staff_adjust_a_bill_with_a_reason_and_it_is_audited(place, person, make_staff, api, kind):
    room = place.rooms["101"]
    user, _resident = person(room)
    [bill] = billed(place, room, months_back(1))
    staff = make_staff(place.tree.a)
    body = {"kind": kind, "reason": "困难家庭减免" if kind == "discount" else "工作人员核实"}
    if kind == "discount":
        body["amount_fen"] = 3425
    response = api(staff, "post", f"/api/v1/fees/bills/{bill.public_id}/adjustments", json=body)
    assert response.status_code == 201, response.json
    shown = response.json
    if kind == "discount":
        assert (shown["discount_fen"], shown["principal_fen"], shown["status"]) == (3425, 10000, "unpaid")
    elif kind == "waive_late_fee":
        assert (shown["late_fee_fen"], shown["late_fee_waived"]) == (0, True)
    else:
        assert shown["status"] == "cancelled"
    assert shown["adjustments"][0]["reason"] == body["reason"]
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == f"fees.bill.{kind}"))
    assert (entry.actor_user_id, entry.reason, entry.target_id) == (staff.id, body["reason"], bill.public_id)
    # The resident sees the adjustment but not staff's reason.
    assert api(user, "get", f"/api/v1/fees/bills/{bill.public_id}").json["adjustments"][0]["reason"] is None


def test_adjustments_are_refused_for_locked_paid_or_out_of_scope_bills(place, person, make_staff, api):
    room = place.rooms["101"]
    user, _resident = person(room)
    bills = billed(place, room, months_back(2))
    staff = make_staff(place.tree.a)
    path = "/api/v1/fees/bills/{}/adjustments"
    order(api, user, room, bills[:1])
    locked = api(
        staff, "post", path.format(bills[0].public_id), json={"kind": "discount", "amount_fen": 1, "reason": "测试一下"}
    )
    assert (locked.status_code, locked.json["code"]) == (409, "bill_locked")
    too_much = api(
        staff,
        "post",
        path.format(bills[1].public_id),
        json={"kind": "discount", "amount_fen": 13426, "reason": "全免测试"},
    )
    assert (too_much.status_code, too_much.json["code"]) == (422, "discount_too_large")
    full = api(
        staff, "post", path.format(bills[1].public_id), json={"kind": "discount", "amount_fen": 13425, "reason": "全免"}
    )
    assert full.json["status"] == "waived"
    again = api(staff, "post", path.format(bills[1].public_id), json={"kind": "cancel", "reason": "再次作废"})
    assert (again.status_code, again.json["code"]) == (409, "bill_not_unpaid")
    no_reason = api(staff, "post", path.format(bills[1].public_id), json={"kind": "cancel"})
    assert no_reason.status_code == 422
    assert (
        api(
            make_staff(place.tree.b),
            "post",
            path.format(bills[1].public_id),
            json={"kind": "cancel", "reason": "越权操作"},
        ).status_code
        == 404
    )
    assert (
        api(user, "post", path.format(bills[1].public_id), json={"kind": "cancel", "reason": "住户自己"}).status_code
        == 404
    )


def test_a_full_refund_makes_the_bills_owed_again_and_the_receipt_shows_it(place, person, api, run_jobs):
    from payments import refund

    room = place.rooms["101"]
    user, _resident = person(room)
    bills = billed(place, room, months_back(1))
    made = order(api, user, room, bills).json
    payment = pay(api, user, made["id"]).json
    confirm(user, payment["id"])
    with atomic():
        refund(payment["id"], made["amount_fen"], "重复缴费退款", key="test-refund")
    run_jobs()
    assert [b.status.value for b in bills_of(room)] == ["unpaid"]
    shown = api(user, "get", f"{ORDERS}/{made['id']}").json
    assert (shown["status"], shown["refunded_fen"]) == ("refunded", made["amount_fen"])
    receipt = api(user, "get", f"/api/v1/fees/receipts/{shown['receipt_id']}").json
    assert receipt["refunded_fen"] == made["amount_fen"]
    # Owed again, it can be paid again, with the next receipt number.
    again = order(api, user, room, bills).json
    confirm(user, pay(api, user, again["id"]).json["id"])
    numbers = database.session.scalars(sa.select(Receipt.seq).order_by(Receipt.seq)).all()
    assert numbers == [1, 2]
