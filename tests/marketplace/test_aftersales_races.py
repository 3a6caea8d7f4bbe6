"""Races on real commits for after-sales: many threads released together by a barrier.

- Approvals: 30 approvals of one request refund once. ``decide`` locks the request (``FOR UPDATE``, re-read) and
  checks it is still ``requested``. With the status read without the lock, every thread sees ``requested`` and
  tries to refund: the line account lets one through and the others fail with ``line_refund_exceeded`` instead of
  ``aftersale_state_conflict``, so the test fails (and without the line account's guard too, 30 refunds are asked).
- Requests: 30 requests for one line leave exactly one open request, by the partial unique index on the line for
  ``requested``/``escalated``. Without it the order's row lock only serialises the threads, and each inserts one.
- The line account: 30 reservations of the whole line at once succeed once. The conditional UPDATE re-checks
  ``refunded_fen + :a <= paid_fen`` against the committed total after the row lock; written as "SELECT refunded_fen,
  then UPDATE SET refunded_fen = <read> + :a", every thread reads 0 and the CHECK alone lets each of them write 900.
"""

import sqlalchemy as sa

from app.db import atomic
from app.errors import APIError
from app.extensions import db as database
from marketplace import aftersales, orders
from marketplace.adjustments import ensure_accounts, reserve_line
from marketplace.aftersales_models import Aftersale, AftersaleStatus, LineAccount
from marketplace.models import Order, OrderLine
from payments import mark_paid
from payments.models import Payment, Refund
from tests.conftest import race
from tests.marketplace.fixtures import build_market, build_tree

THREADS = 30  # ≥ 2 × the pool (10 + 5 overflow)


def completed_order(app, make_user, make_resident, join):
    """A committed, paid and completed order of 3 斤 cabbage (900 fen), through the services."""
    from app.db import utcnow
    from marketplace import fulfilment
    from payments.services import create_payment

    tree = build_tree()
    market = build_market(make_user, make_resident, join, tree)
    body = {"vendor_id": market.vendor.public_id, "lines": [{"product_id": market.cabbage.public_id, "quantity": 3}]}
    order = orders.place_order(market.user, body)
    payment, _params = create_payment(market.user, kind=orders.KIND, ids=[order.public_id], channel="sandbox")
    payment = database.session.scalar(sa.select(Payment).where(Payment.id == payment.id))
    with atomic():
        mark_paid(payment.out_trade_no, payment.amount_fen, f"T{payment.id}", utcnow(), {}, channel="sandbox")
    for step in ("accept", "prepare", "ready", "complete"):
        fulfilment.vendor_step(market.owner, order.public_id, step)
    return market, order


def test_thirty_approvals_of_one_request_refund_once(app, committed_db, make_user, make_resident, join):
    market, order = completed_order(app, make_user, make_resident, join)
    item = aftersales.request_refund(market.user, order.public_id, {"line_no": 1, "reason": "坏了"})

    def approve():
        try:
            aftersales.decide(market.owner, item.public_id, approve=True, note=None)
            return "approved"
        except APIError as error:
            return error.code

    results = race(app, THREADS, approve)
    assert results.count("approved") == 1
    assert set(results) == {"approved", "aftersale_state_conflict"}
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 1
    assert database.session.scalar(sa.select(sa.func.sum(Refund.amount_fen))) == 900
    assert database.session.scalar(sa.select(LineAccount.refunded_fen)) == 900


def test_thirty_requests_for_one_line_open_one(app, committed_db, make_user, make_resident, join):
    market, order = completed_order(app, make_user, make_resident, join)

    def ask():
        try:
            aftersales.request_refund(market.user, order.public_id, {"line_no": 1, "reason": "坏了"})
            return "opened"
        except APIError as error:
            return error.code

    results = race(app, THREADS, ask)
    assert results.count("opened") == 1
    assert set(results) == {"opened", "aftersale_open"}
    statuses = database.session.scalars(sa.select(Aftersale.status)).all()
    assert statuses == [AftersaleStatus.requested]


def test_thirty_full_refunds_of_one_line_reserve_once(app, committed_db, make_user, make_resident, join):
    _market, order = completed_order(app, make_user, make_resident, join)
    line_id = database.session.scalar(sa.select(OrderLine.id).where(OrderLine.order_id == order.id))
    with atomic():
        ensure_accounts(order.id)

    def reserve():
        with atomic():
            return reserve_line(line_id, 900)

    results = race(app, THREADS, reserve)
    assert results.count(True) == 1
    account = database.session.get(LineAccount, line_id, populate_existing=True)
    assert account.refunded_fen == 900
    assert database.session.get(Order, order.id).total_fen == 900
