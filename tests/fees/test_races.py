"""Races on committed data: one bill in two fee orders at once, and receipt numbers under concurrent payments."""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from app.community.models import Household
from app.db import atomic
from app.extensions import db as database
from fees import billing, orders
from fees import payable as fee_payable
from fees.errors import BillLocked
from fees.models import Bill, FeeOrder, OrderStatus, Receipt
from payments import paid
from payments.models import Payment, PaymentStatus
from payments.services import create_payment
from tests.conftest import race
from tests.fees.conftest import add_item, add_payee, bills_of, generate

OCT = date(2026, 10, 1)


@pytest.fixture
def committed_place(committed_db):
    from tests.community.fixtures import build_tree

    tree = build_tree()
    payee = add_payee()
    item = add_item(tree.estate_a, payee, rate=15000, late_fee_bps_per_day=5, late_fee_cap_bps=1000)
    return tree, payee, item


def test_two_members_racing_for_one_bill_get_one_order(committed_place, app, person):
    tree, _payee, _item = committed_place
    room = tree.rooms_a["101"]
    members = [person(room, f"成员{i}", role="head" if i == 0 else "family")[0] for i in range(6)]
    generate(tree.estate_a, OCT)
    [bill] = bills_of(room)
    queue = iter(members)
    lock = threading.Lock()

    def attempt():
        with lock:
            user = next(queue)
        try:
            return orders.create_order(user, household_id=room.public_id, bill_ids=[bill.public_id]).public_id
        except BillLocked:
            return "locked"

    results = race(app, len(members), attempt)
    assert sorted(r == "locked" for r in results) == [False] + [True] * 5
    open_orders = database.session.scalars(sa.select(FeeOrder).where(FeeOrder.status == OrderStatus.open)).all()
    assert len(open_orders) == 1


def test_receipt_numbers_have_no_gaps_under_concurrency_even_when_a_payment_rolls_back_its_number(
    committed_place, app, person, make_staff, monkeypatch
):
    tree, _payee, _item = committed_place
    rooms = []
    with atomic():
        for number in range(8):
            household = Household(
                building_id=tree.building_a.id,
                unit_id=tree.unit_a.id,
                community_id=tree.a.id,
                room=f"3{number:02d}",
                floor=3,
                floor_area_dm2=8000 + number,
            )
            database.session.add(household)
            rooms.append(household)
    payers = [person(room, f"住户{room.room}")[0] for room in rooms]
    # One payee per household: payments lock their payee row with the payment (the joined load FOR UPDATE), which
    # would queue payments to one payee before they reach the receipt counter. Distinct payees let them race to it.
    staff = make_staff(tree.a)
    payment_ids = []
    for number, (user, room) in enumerate(zip(payers, rooms, strict=True)):
        item = add_item(tree.estate_a, add_payee(f"收款方{number}"), f"维修分摊{number}", cycle="one_off")
        bill = billing.create_one_off(
            staff,
            {
                "household_id": room.public_id,
                "item_id": item.public_id,
                "title": "电梯维修分摊",
                "amount_fen": 5000 + number,
                "due_on": date(2026, 12, 31),
            },
        )
        order = orders.create_order(user, household_id=room.public_id, bill_ids=[bill.public_id])
        payment, _params = create_payment(user, kind=orders.KIND, ids=[order.public_id], channel="sandbox")
        payment_ids.append(payment.public_id)

    # The third payment to take a number fails right after taking it: its savepoint rolls back.
    original = fee_payable.receipt_number
    calls = {"n": 0}
    guard = threading.Lock()

    def failing_once(year, seq):
        with guard:
            calls["n"] += 1
            fail = calls["n"] == 3
        if fail:
            raise RuntimeError("打印服务暂时不可用")
        return original(year, seq)

    monkeypatch.setattr(fee_payable, "receipt_number", failing_once)
    work = iter(zip(payers, payment_ids, strict=True))
    lock = threading.Lock()

    def confirm_one():
        with lock:
            user, payment_id = next(work)
        return paid.confirm_sandbox(user, payment_id).status.value

    results = race(app, len(payers), confirm_one)
    assert sorted(results) == ["paid"] * 7 + ["paid_unapplied"]
    seqs = database.session.scalars(sa.select(Receipt.seq).order_by(Receipt.seq)).all()
    assert seqs == list(range(1, 8))  # the rolled-back number went to the next payment

    monkeypatch.setattr(fee_payable, "receipt_number", original)
    waiting = database.session.scalar(sa.select(Payment).where(Payment.status == PaymentStatus.paid_unapplied))
    paid.reapply(waiting.id)
    seqs = database.session.scalars(sa.select(Receipt.seq).order_by(Receipt.seq)).all()
    assert seqs == list(range(1, 9))
    numbers = database.session.scalars(sa.select(Receipt.number).order_by(Receipt.seq)).all()
    assert numbers[-1].endswith("-000008")
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Bill).where(Bill.status == "paid")) == 8


def test_receipt_numbers_start_again_each_year_and_per_estate(db):
    from tests.community.fixtures import build_tree

    tree = build_tree()
    with atomic():
        assert fee_payable.next_receipt_seq(tree.estate_a.id, 2026) == 1
        assert fee_payable.next_receipt_seq(tree.estate_a.id, 2026) == 2
        assert fee_payable.next_receipt_seq(tree.estate_b.id, 2026) == 1
        assert fee_payable.next_receipt_seq(tree.estate_a.id, 2027) == 1
    assert fee_payable.receipt_number(2026, 12) == "2026-000012"
