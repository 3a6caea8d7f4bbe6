"""Races on real commits: dispatchers accepting one booking for different technicians at the same moment.

Why the guard holds, and why the test fails without it: ``accept_booking`` reads the booking with
``SELECT … FOR UPDATE`` (re-read, ``populate_existing``) before checking that it is still ``pending``, so the racing
transactions queue on the row and each later one sees the committed ``accepted`` and gets 409. Written as
read-then-write (a plain SELECT, a Python status check, then the UPDATE), every thread reads ``pending`` before any
commits and every one "wins": the booking is accepted many times over, with many ``accepted`` steps and the last
writer's technician, and the assertions below fail.
"""

from datetime import timedelta

import sqlalchemy as sa

from app.db import utcnow
from app.extensions import db as database
from marketplace import services_bookings, services_steps
from marketplace.service_models import ServiceOrder, ServiceOrderEvent
from marketplace.services_errors import ServiceOrderStateConflict
from tests.conftest import race
from tests.marketplace.fixtures import add_role, build_tree
from tests.marketplace.test_services import build_shop

THREADS = 30  # ≥ 2 × the pool (10 + 5 overflow)


def test_concurrent_accepts_give_a_booking_one_technician(app, committed_db, make_user, make_resident, join):
    tree = build_tree()
    shop = build_shop(make_user, make_resident, join, tree)
    technicians = [shop.tech1, shop.tech2]
    for i in range(4):
        technician = make_user(f"师傅{i}")
        add_role(shop.vendor, technician, "courier")
        technicians.append(technician)
    dispatchers = [shop.owner, shop.clerk]
    start = utcnow() + timedelta(hours=2)
    order = services_bookings.book_service(
        shop.user,
        {
            "service_id": shop.plumbing.public_id,
            "description": "厨房水管漏水",
            "window_start": start,
            "window_end": start + timedelta(hours=2),
        },
    )
    turns = iter(range(THREADS))

    def accept():
        turn = next(turns)
        dispatcher = database.session.merge(dispatchers[turn % 2], load=False)
        technician = technicians[turn % len(technicians)]
        try:
            services_steps.accept_booking(dispatcher, order.public_id, technician_id=technician.public_id)
            return technician.id
        except ServiceOrderStateConflict:
            return None

    results = race(app, THREADS, accept)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stored = database.session.scalar(
        sa.select(ServiceOrder).where(ServiceOrder.id == order.id).execution_options(populate_existing=True)
    )
    assert stored.technician_user_id == winners[0]
    accepted_steps = database.session.scalar(
        sa.select(sa.func.count())
        .select_from(ServiceOrderEvent)
        .where(ServiceOrderEvent.order_id == order.id, ServiceOrderEvent.to_status == "accepted")
    )
    assert accepted_steps == 1
