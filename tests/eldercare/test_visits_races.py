"""Twenty confirmations of one checked-out visit released together (the family on two phones, staff, the
auto-confirm job): the subsidy hold becomes a claim exactly once and the month never goes below zero.

Why it holds: ``visits.confirm`` locks the order row (``SELECT … FOR UPDATE``) before it reads the status, so one
confirmation delivers and the others find ``delivered`` and answer 409. Written as read-then-write (the same SELECT
without FOR UPDATE), every thread reads ``serviced`` and returns success: the claim's ledger key keeps the money
right, but twenty callers are told they confirmed, which the assertion on the results catches.
"""

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from eldercare import caregivers, orders, visits
from eldercare.errors import CareOrderStateConflict
from eldercare.models import EligibilityRule, LedgerKind, SubsidyLedgerEntry, SubsidyQuota
from tests.conftest import race
from tests.eldercare.fixtures import build_care, build_tree

CONFIRMS = 20  # ≥ 2 × the pool (10 + 5 overflow)


def test_twenty_concurrent_confirmations_claim_the_subsidy_once(app, committed_db, make_user, make_resident, join):
    care = build_care(make_user, make_resident, join, build_tree())
    with atomic():  # 0 % copay: the order goes straight to the provider, nothing to pay
        database.session.execute(sa.update(EligibilityRule).values(copay_bps=0, monthly_quota_fen=10000))
    order = orders.place_order(
        care.daughter_user,
        {
            "offer_id": care.offer.public_id,
            "elder_id": care.elder.public_id,
            "scheduled_at": utcnow() + timedelta(days=1),
        },
    )
    assert order.subsidy_fen == 3000
    orders.accept_order(care.admin, order.public_id)
    caregivers.set_skills(care.admin, care.provider.public_id, care.caregiver.public_id, ["bath"])
    visits.assign(care.admin, order.public_id, caregiver_id=care.caregiver.public_id)
    visits.check_in(care.caregiver, order.public_id, lat=Decimal("39.9"), lng=Decimal("116.4"), photo_id=None)
    visits.check_out(care.caregiver, order.public_id, service_record="洗浴", notes=None)

    def attempt() -> str:
        try:
            visits.confirm(care.daughter_user, order.public_id, rating=5, comment=None)
        except CareOrderStateConflict:
            return "conflict"
        return "confirmed"

    results = race(app, CONFIRMS, attempt)

    assert sorted(results) == ["confirmed"] + ["conflict"] * (CONFIRMS - 1)
    claims = database.session.scalars(
        sa.select(SubsidyLedgerEntry.amount_fen).where(
            SubsidyLedgerEntry.order_id == order.id, SubsidyLedgerEntry.kind == LedgerKind.claim
        )
    ).all()
    assert claims == [3000]
    quota = database.session.scalar(sa.select(SubsidyQuota).where(SubsidyQuota.resident_id == care.elder.id))
    assert (quota.held_fen, quota.claimed_fen) == (0, 3000)
