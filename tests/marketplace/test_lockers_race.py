"""Races on real commits: 30 dispatches released together by a barrier for a cabinet with 8 chilled cells.

Why the guard holds, and why the test fails without it: ``lockers.reserve_cells`` takes each cell with
``SELECT … WHERE state = 'free' … LIMIT 1 FOR UPDATE SKIP LOCKED`` and then
``UPDATE … SET state = 'reserved', order_id = :o WHERE id = :id AND state = 'free'``. A cell another dispatch holds
is skipped; one it reserved and committed no longer matches ``state = 'free'``. Written as read-then-write
("SELECT a free cell; UPDATE that id"), the threads all read the same free cells before any commits and all write:
more than 8 orders believe they hold a cell (each overwriting the cell's ``order_id``), so the count of dispatched
locker orders below exceeds 8 and some of them hold no cell.
"""

import threading

import sqlalchemy as sa

from app.db import atomic
from app.extensions import db as database
from marketplace import fulfilment, orders
from marketplace.locker_models import CellState, LockerCell
from marketplace.models import Fulfilment, Order, OrderStatus, StorageZone
from tests.conftest import race
from tests.marketplace.fixtures import add_product, build_market, build_tree
from tests.marketplace.test_lockers import add_locker

DISPATCHES = 30  # ≥ 2 × the pool (10 + 5 overflow)
CELLS = 8


def test_thirty_dispatches_for_eight_chilled_cells_reserve_eight_and_fall_back_the_rest(
    app, committed_db, make_user, make_resident, join
):
    tree = build_tree()
    market = build_market(make_user, make_resident, join, tree)
    locker, _secret = add_locker(
        tree.estate_a,
        [{"size": "M", "zone": "chilled", "count": CELLS}, {"size": "M", "zone": "ambient", "count": 4}],
    )
    tofu = add_product(market.vendor, "豆腐", stock=100, category="豆制品", storage_zone=StorageZone.chilled)
    body = {"vendor_id": market.vendor.public_id, "lines": [{"product_id": tofu.public_id, "quantity": 1}]}
    placed = [orders.place_order(market.user, body).public_id for _ in range(DISPATCHES)]
    with atomic():  # paid, accepted and preparing: the walk there is tested elsewhere
        database.session.execute(
            sa.update(Order).where(Order.public_id.in_(placed)).values(status=OrderStatus.preparing)
        )

    queue = list(placed)
    lock = threading.Lock()

    def dispatch():
        with lock:
            order_id = queue.pop()
        order = fulfilment.vendor_step(market.owner, order_id, "dispatch")
        return "fell_back" if order.dispatch["fell_back"] else "reserved"

    results = race(app, DISPATCHES, dispatch)
    assert results.count("reserved") == CELLS
    assert results.count("fell_back") == DISPATCHES - CELLS

    database.session.expire_all()
    dispatched = set(
        database.session.scalars(
            sa.select(Order.id).where(
                Order.public_id.in_(placed),
                Order.status == OrderStatus.out_for_delivery,
                Order.fulfilment == Fulfilment.locker,
            )
        )
    )
    fell_back = database.session.scalar(
        sa.select(sa.func.count()).where(
            Order.public_id.in_(placed), Order.status == OrderStatus.preparing, Order.fulfilment == Fulfilment.shop
        )
    )
    assert (len(dispatched), fell_back) == (CELLS, DISPATCHES - CELLS)
    cells = database.session.execute(
        sa.select(LockerCell.zone, LockerCell.state, LockerCell.order_id).where(LockerCell.locker_id == locker.id)
    ).all()
    chilled = [(state, order_id) for zone, state, order_id in cells if zone is StorageZone.chilled]
    assert {state for state, _ in chilled} == {CellState.reserved}
    # Every dispatched order holds exactly one cell, no cell is shared, the ambient cells were not used.
    assert sorted(order_id for _, order_id in chilled) == sorted(dispatched)
    assert {state for zone, state, _ in cells if zone is StorageZone.ambient} == {CellState.free}
