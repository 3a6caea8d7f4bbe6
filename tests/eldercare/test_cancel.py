"""Cancellation: free until ELDERCARE_FREE_CANCEL_HOURS before the start, later with the provider's (or the offer's)
fee kept out of the paid copay (never out of the subsidy); by the provider with a reason the family is told; twice,
sequentially or racing, releases and refunds once."""

from datetime import date, timedelta

import sqlalchemy as sa

from app.db import utcnow
from app.extensions import db as database
from eldercare import orders
from eldercare.models import LedgerKind, SubsidyLedgerEntry
from tests.conftest import race
from tests.eldercare.fixtures import E, build_care, build_tree
from tests.eldercare.test_visits import (
    accepted,
    assigned,
    check_in,
    deliveries,
    ledger,
    quota,
    refunds_of,
    stored,
)

SOON = 2  # hours before the start: inside the 24-hour fee window


def soon() -> str:
    return (utcnow() + timedelta(hours=SOON)).isoformat()


def cancel(api, user, order_id, **body):
    return api(user, "post", f"{E}/orders/{order_id}/cancel", json=body)


def set_provider_fee(api, care, fee):
    answer = api(
        care.admin,
        "put",
        f"{E}/providers/{care.provider.public_id}/cancellation-fee",
        json={"cancellation_fee_fen": fee},
    )
    assert answer.status_code == 200, answer.json


def test_cancel_before_the_cut_off_is_free(api, care):
    set_provider_fee(api, care, 100)
    order_id = accepted(api, care, scheduled_at=(utcnow() + timedelta(hours=26)).isoformat())  # 2 h before the cut-off
    answer = cancel(api, care.daughter_user, order_id, reason="临时有事")
    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["cancelled_by"], answer.json["cancellation_fee_fen"]) == (
        "cancelled",
        "family",
        0,
    )
    assert refunds_of(order_id) == [300]
    assert ledger(care.elder) == [("hold", 2700), ("release", 2700)]


def test_late_cancel_keeps_the_providers_fee_from_the_copay_and_releases_the_whole_subsidy(api, care):
    set_provider_fee(api, care, 100)
    order_id = accepted(api, care, scheduled_at=soon())
    answer = cancel(api, care.daughter_user, order_id)
    assert answer.status_code == 200, answer.json
    assert answer.json["cancellation_fee_fen"] == 100
    assert refunds_of(order_id) == [200]  # copay 300 − fee 100
    assert ledger(care.elder) == [("hold", 2700), ("release", 2700)]  # the fee is not subsidised
    assert quota(care.elder) == (0, 0)
    told = deliveries(order_id, "eldercare.order_status")[-1]
    assert "取消费 1.00 元" in told.body


def test_an_offers_fee_overrides_the_providers_and_the_fee_never_exceeds_the_copay(api, care):
    set_provider_fee(api, care, 100)
    offer_fee = api(
        care.admin, "put", f"{E}/offers/{care.offer.public_id}/cancellation-fee", json={"cancellation_fee_fen": 50}
    )
    assert offer_fee.status_code == 200, offer_fee.json
    first = accepted(api, care, scheduled_at=soon())
    assert cancel(api, care.daughter_user, first).json["cancellation_fee_fen"] == 50
    assert refunds_of(first) == [250]

    api(care.admin, "put", f"{E}/offers/{care.offer.public_id}/cancellation-fee", json={"cancellation_fee_fen": 5000})
    second = accepted(api, care, scheduled_at=soon())
    answer = cancel(api, care.daughter_user, second)
    assert answer.json["cancellation_fee_fen"] == 300  # capped at the copay paid
    assert refunds_of(second) == []  # nothing left to give back
    # Only the provider admin sets fees.
    assert (
        api(
            care.caregiver,
            "put",
            f"{E}/offers/{care.offer.public_id}/cancellation-fee",
            json={"cancellation_fee_fen": 1},
        ).status_code
        == 403
    )


def test_provider_cancels_with_a_reason_the_family_is_told_and_refunded_in_full(api, care):
    set_provider_fee(api, care, 100)
    order_id = accepted(api, care, scheduled_at=soon())
    assert api(care.admin, "post", f"{E}/orders/{order_id}/provider-cancel", json={}).status_code == 422
    assert (
        api(care.caregiver, "post", f"{E}/orders/{order_id}/provider-cancel", json={"reason": "x"}).status_code == 403
    )
    answer = api(care.admin, "post", f"{E}/orders/{order_id}/provider-cancel", json={"reason": "护理员突发疾病"})
    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["cancelled_by"], answer.json["cancellation_fee_fen"]) == (
        "cancelled",
        "provider",
        0,
    )
    assert refunds_of(order_id) == [300]
    assert ledger(care.elder) == [("hold", 2700), ("release", 2700)]
    told = deliveries(order_id, "eldercare.order_status")[-1]
    assert "护理员突发疾病" in told.body
    assert told.scope == "eldercare"


def test_provider_cannot_cancel_after_check_in(api, care):
    order_id = assigned(api, care)
    check_in(api, care, order_id)
    answer = api(care.admin, "post", f"{E}/orders/{order_id}/provider-cancel", json={"reason": "x"})
    assert answer.status_code == 409
    assert cancel(api, care.daughter_user, order_id).status_code == 409
    assert ledger(care.elder) == [("hold", 2700)]


def test_cancelling_twice_releases_and_refunds_once(api, care):
    order_id = accepted(api, care)
    assert cancel(api, care.daughter_user, order_id).status_code == 200
    again = cancel(api, care.elder_user, order_id)
    assert again.status_code == 409
    assert again.json["code"] == "care_order_state_conflict"
    provider_too = api(care.admin, "post", f"{E}/orders/{order_id}/provider-cancel", json={"reason": "重复"})
    assert provider_too.status_code == 409
    assert ledger(care.elder) == [("hold", 2700), ("release", 2700)]
    assert refunds_of(order_id) == [300]


def test_a_delegate_without_the_eldercare_scope_cannot_cancel(api, care, make_resident):
    from tests.eldercare.fixtures import delegate

    order_id = accepted(api, care)
    son_user, son = make_resident("王强", born=date(1970, 2, 2), sequence="985")
    delegate(son, care.elder, scopes=("bills",))
    refused = cancel(api, son_user, order_id)
    assert refused.status_code == 403
    assert refused.json["code"] == "delegation_denied"
    assert stored(order_id).status.value == "accepted"


CANCELS = 20  # ≥ 2 × the pool (10 + 5 overflow)


def test_twenty_concurrent_cancels_release_the_hold_and_refund_once(app, committed_db, make_user, make_resident, join):
    """Each cancel locks the order row first (``SELECT … FOR UPDATE``) and checks its status under the lock; the
    ledger's unique key ``release:<order>`` and the refund key back it up. Without the lock (a plain SELECT), all
    twenty read ``submitted`` and proceed: the ledger's key keeps the release single, but every thread writes
    ``cancelled``, and more than one returns success, which the assertion on the results catches."""
    care = build_care(make_user, make_resident, join, build_tree())
    placed = orders.place_order(
        care.daughter_user,
        {
            "offer_id": care.offer.public_id,
            "elder_id": care.elder.public_id,
            "scheduled_at": utcnow() + timedelta(days=2),
        },
    )

    def attempt():
        try:
            orders.cancel_order(care.daughter_user, placed.public_id, reason="并发取消")
        except orders.CareOrderStateConflict:
            return "conflict"
        return "cancelled"

    results = race(app, CANCELS, attempt)
    assert sorted(results) == ["cancelled"] + ["conflict"] * (CANCELS - 1)
    releases = database.session.scalar(
        sa.select(sa.func.count()).where(
            SubsidyLedgerEntry.order_id == placed.id, SubsidyLedgerEntry.kind == LedgerKind.release
        )
    )
    assert releases == 1
    assert quota(care.elder) == (0, 0)
