"""Twenty orders for one elder released together by a barrier against a quota that covers exactly five.

Why the guard holds, and why the test fails without it: ``subsidies.hold`` locks the elder's month row
(``SELECT … FROM eldercare_subsidy_quotas … FOR UPDATE``) before it reads what is left, and keeps the lock until the
order commits, so each order reads the remaining quota after the previous one's hold is committed: five get 2700 fen,
the other fifteen get 0 and pay the full price. Written as read-then-write (the same SELECT without FOR UPDATE),
every thread reads "13500 left" before any commits and decides on a 2700-fen subsidy: with the relative
``held_fen = held_fen + 2700`` the sixth and later commits break the CHECK ``held_fen + claimed_fen <= quota_fen``
and those orders fail with an IntegrityError (``race`` re-raises it); with an absolute ``held_fen = <read + 2700>``
the writes overwrite each other and far more than five orders carry a subsidy while ``held_fen`` says 2700. Both
break the assertions below.
"""

from datetime import timedelta

import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from eldercare import orders
from eldercare.models import CareOrder, EligibilityRule, LedgerKind, SubsidyLedgerEntry, SubsidyQuota
from tests.conftest import race
from tests.eldercare.fixtures import build_care, build_tree

ORDERS = 20  # ≥ 2 × the pool (10 + 5 overflow)
COVERED = 5


def test_twenty_concurrent_orders_hold_exactly_five_subsidies(app, committed_db, make_user, make_resident, join):
    care = build_care(make_user, make_resident, join, build_tree())
    with atomic():
        database.session.execute(
            sa.update(EligibilityRule)
            .where(EligibilityRule.id == care.rule.id)
            .values(monthly_quota_fen=2700 * COVERED)
        )
    body = {
        "offer_id": care.offer.public_id,
        "elder_id": care.elder.public_id,
        "scheduled_at": utcnow() + timedelta(days=1),
    }

    results = race(app, ORDERS, lambda: orders.place_order(care.daughter_user, dict(body)).subsidy_fen)

    assert sorted(results) == [0] * (ORDERS - COVERED) + [2700] * COVERED
    quota = database.session.scalar(sa.select(SubsidyQuota).where(SubsidyQuota.resident_id == care.elder.id))
    assert (quota.quota_fen, quota.held_fen) == (13500, 13500)
    held = database.session.scalar(
        sa.select(sa.func.sum(SubsidyLedgerEntry.amount_fen)).where(
            SubsidyLedgerEntry.resident_id == care.elder.id, SubsidyLedgerEntry.kind == LedgerKind.hold
        )
    )
    assert held == 13500
    copays = database.session.scalars(sa.select(CareOrder.copay_fen).where(CareOrder.resident_id == care.elder.id))
    assert sorted(copays) == [300] * COVERED + [3000] * (ORDERS - COVERED)
