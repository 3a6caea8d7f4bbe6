"""The care balance (助餐卡): issued by the provider, topped up by the family through a sandbox payment to the
provider's payee, drawn for copays, refunded to the balance on cancellation, occurrences waiting for a top-up, and
who may see or use it. The race: twenty draws against a balance that covers five."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from app.push.models import Delivery
from eldercare import balances
from eldercare.meal_models import BalanceEntry, CareBalance
from eldercare.models import CareOrder, CareOrderStatus, EligibilityRule
from tests.conftest import race
from tests.eldercare import test_meals
from tests.eldercare.fixtures import E, add_offer, add_provider, add_role, build_care, build_tree
from tests.eldercare.test_meals import at, fund, issue

#: Fixtures shared with test_meals (a fixture is found by its name in the test's module).
clock, meal = test_meals.clock, test_meals.meal


def ledger(card) -> list[tuple[str, int, int]]:
    rows = database.session.execute(
        sa.select(BalanceEntry.kind, BalanceEntry.amount_fen, BalanceEntry.balance_after_fen)
        .where(BalanceEntry.balance_id == card.id)
        .order_by(BalanceEntry.id)
    ).all()
    return [(kind.value, amount, after) for kind, amount, after in rows]


def balance_of(card) -> int:
    return database.session.scalar(
        sa.select(CareBalance.balance_fen).where(CareBalance.id == card.id).execution_options(populate_existing=True)
    )


def card_of(public_id: str) -> CareBalance:
    return database.session.scalar(sa.select(CareBalance).where(CareBalance.public_id == public_id))


def test_the_family_tops_up_through_the_sandbox_payment_to_the_providers_payee(api, care):
    from payments import mark_paid
    from payments.models import Payment

    issued = api(
        care.admin,
        "post",
        f"{E}/providers/{care.provider.public_id}/balances",
        json={
            "elder_id": care.elder.public_id,
        },
    )
    assert issued.status_code == 201, issued.json
    assert issued.json["balance_fen"] == 0
    again = api(
        care.admin,
        "post",
        f"{E}/providers/{care.provider.public_id}/balances",
        json={
            "elder_id": care.elder.public_id,
        },
    )
    assert again.status_code == 409
    assert again.json["code"] == "care_balance_exists"

    asked = api(care.daughter_user, "post", f"{E}/balances/{issued.json['id']}/topups", json={"amount_fen": 20000})
    assert asked.status_code == 201, asked.json
    assert asked.json["payable"] == {"kind": "eldercare.balance_topup", "id": asked.json["id"]}
    opened = api(
        care.daughter_user,
        "post",
        "/api/v1/payments",
        json={"kind": "eldercare.balance_topup", "ids": [asked.json["id"]], "channel": "sandbox"},
    )
    assert opened.status_code == 201, opened.json
    payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == opened.json["id"]))
    assert (payment.amount_fen, payment.payee_id) == (20000, care.provider.payee_id)
    for _ in range(2):  # the gateway tells us twice: credited once
        with atomic():
            mark_paid(payment.out_trade_no, 20000, f"T{payment.id}", utcnow(), {"test": True}, channel="sandbox")

    card = card_of(issued.json["id"])
    assert balance_of(card) == 20000
    assert ledger(card) == [("topup", 20000, 20000)]
    shown = api(care.daughter_user, "get", f"{E}/balances", query_string={"elder_id": care.elder.public_id})
    assert [(b["provider_name"], b["balance_fen"]) for b in shown.json] == [(care.provider.name, 20000)]
    paid_twice = api(
        care.daughter_user,
        "post",
        "/api/v1/payments",
        json={"kind": "eldercare.balance_topup", "ids": [asked.json["id"]], "channel": "sandbox"},
    )
    assert paid_twice.status_code in (404, 409, 422), paid_twice.json  # a paid top-up is not payable again


def test_a_copay_drawn_from_the_balance_goes_back_once_when_the_order_is_cancelled(api, care):
    card = issue(care)
    fund(card, 1000, care.daughter_user)
    placed = api(
        care.daughter_user,
        "post",
        f"{E}/orders",
        json={
            "offer_id": care.offer.public_id,
            "elder_id": care.elder.public_id,
            "scheduled_at": (utcnow() + timedelta(days=3)).isoformat(),
        },
    ).json
    assert (placed["copay_fen"], placed["status"]) == (300, "pending_payment")

    paid = api(care.daughter_user, "post", f"{E}/orders/{placed['id']}/pay-from-balance")
    assert paid.status_code == 200, paid.json
    assert paid.json["status"] == "submitted"
    assert paid.json["expires_at"] is None
    again = api(care.daughter_user, "post", f"{E}/orders/{placed['id']}/pay-from-balance")
    assert again.status_code == 409
    assert balance_of(card) == 700

    cancelled = api(care.daughter_user, "post", f"{E}/orders/{placed['id']}/cancel", json={"reason": "不需要了"})
    assert cancelled.status_code == 200, cancelled.json
    from eldercare.recurring_jobs import refund_cancelled_draws

    refund_cancelled_draws("2026-12-03T10:00:00+08:00")
    refund_cancelled_draws("2026-12-03T10:10:00+08:00")  # the sweep again: nothing more
    assert balance_of(card) == 1000
    assert ledger(card) == [("topup", 1000, 1000), ("draw", 300, 700), ("refund", 300, 1000)]
    order = database.session.scalar(
        sa.select(CareOrder).where(CareOrder.public_id == placed["id"]).execution_options(populate_existing=True)
    )
    assert order.refunded_fen == 300

    page = api(care.daughter_user, "get", f"{E}/balances/{card.public_id}/ledger", query_string={"limit": 2})
    assert [e["kind"] for e in page.json["items"]] == ["refund", "draw"]
    assert page.json["items"][0]["order_id"] == placed["id"]
    rest = api(
        care.daughter_user,
        "get",
        f"{E}/balances/{card.public_id}/ledger",
        query_string={"limit": 2, "cursor": page.json["next_cursor"]},
    )
    assert [e["kind"] for e in rest.json["items"]] == ["topup"]


def test_an_insufficient_balance_leaves_the_occurrence_unpaid_tells_the_family_and_a_top_up_pays_it(api, meal, clock):
    care = meal.care
    card = issue(care)
    fund(card, 200, care.daughter_user)  # covers one 150-fen copay, not two
    clock(at(date(2026, 9, 28), 8))
    started = api(
        care.daughter_user,
        "post",
        f"{E}/series",
        json={
            "offer_id": meal.lunch.public_id,
            "elder_id": care.elder.public_id,
            "pattern": "workdays",
            "ends_on": "2026-09-29",
        },
    )
    assert started.status_code == 201, started.json
    assert [u["status"] for u in started.json["upcoming"]] == ["submitted", "pending_payment"]
    waiting = database.session.scalar(
        sa.select(CareOrder).where(CareOrder.public_id == started.json["upcoming"][1]["order_id"])
    )
    assert waiting.expires_at == at(date(2026, 9, 29), 10)  # payable until that day's cut-off
    told = database.session.scalar(
        sa.select(Delivery).where(Delivery.source_id == waiting.public_id, Delivery.event == "eldercare.balance_low")
    )
    assert told is not None
    assert "余额0.50元" in told.body
    assert told.scope == "eldercare"

    fund(card, 1000, care.daughter_user)  # the top-up pays the waiting lunch
    database.session.refresh(waiting)
    assert waiting.status is CareOrderStatus.submitted
    assert balance_of(card) == 200 - 150 + 1000 - 150
    assert [k for k, _, _ in ledger(card)] == ["topup", "draw", "topup", "draw"]


def test_who_may_see_and_use_a_balance(api, care, make_user, make_resident):
    from tests.eldercare.fixtures import delegate

    card = issue(care)
    son_user, son = make_resident("王强", born=date(1970, 2, 2), sequence="985")
    delegate(son, care.elder, scopes=("bills",))
    listed = api(son_user, "get", f"{E}/balances", query_string={"elder_id": care.elder.public_id})
    assert listed.status_code == 403
    assert listed.json["code"] == "delegation_denied"
    topup = api(son_user, "post", f"{E}/balances/{card.public_id}/topups", json={"amount_fen": 1000})
    assert topup.status_code == 403  # the same refusal as the list's (issue #12), not a pretended 404
    assert topup.json["code"] == "delegation_denied"

    other_admin = make_user("别家管理员")
    other = add_provider(other_admin, [care.tree.a], name="福寿护理站")
    add_offer(other, [care.tree.a])
    other_caregiver = make_user("别家护理员")
    add_role(other, other_caregiver, "caregiver")
    assert api(other_admin, "get", f"{E}/balances/{card.public_id}").status_code == 404
    assert api(other_caregiver, "get", f"{E}/balances/{card.public_id}/ledger").status_code == 404
    issued_elsewhere = api(
        other_admin,
        "post",
        f"{E}/providers/{care.provider.public_id}/balances",
        json={"elder_id": care.elder.public_id},
    )
    assert issued_elsewhere.status_code == 404
    assert api(care.admin, "get", f"{E}/balances/{card.public_id}").status_code == 200
    assert api(care.caregiver, "get", f"{E}/balances/{card.public_id}").status_code == 404
    assert (
        api(care.caregiver, "post", f"{E}/balances/{card.public_id}/topups", json={"amount_fen": 1000}).status_code
        == 404
    )
    outsider = make_user("路人")
    assert api(outsider, "get", f"{E}/balances/{card.public_id}").status_code == 404


# --- the race --------------------------------------------------------------------------------------------------------

DRAWS = 20  # ≥ 2 × the pool (10 + 5 overflow)
COVERED = 5


def test_twenty_concurrent_draws_on_a_balance_covering_five_succeed_five_times(
    app, committed_db, make_user, make_resident, join
):
    """Each draw locks the balance row (``SELECT … FOR UPDATE``) and reads it under the lock, so the five draws the
    balance covers succeed and the rest find it empty. Written as read-then-write (the same SELECT without FOR
    UPDATE), every thread reads 1500 and decides to draw: with the absolute ``balance_fen = <read − 300>`` the writes
    overwrite each other (balance 1200 after twenty successes), and the CHECK ``balance_fen >= 0`` alone would not
    notice; either way the assertions below fail."""
    from eldercare import orders

    care = build_care(make_user, make_resident, join, build_tree())
    card = issue(care)
    fund(card, 300 * COVERED, care.daughter_user)
    with atomic():  # a quota large enough that every order's copay is 300
        database.session.execute(sa.update(EligibilityRule).values(monthly_quota_fen=10**7))
    pending = [
        orders.place_order(
            care.daughter_user,
            {
                "offer_id": care.offer.public_id,
                "elder_id": care.elder.public_id,
                "scheduled_at": utcnow() + timedelta(days=1),
            },
        ).public_id
        for _ in range(DRAWS)
    ]
    copays = database.session.scalars(sa.select(CareOrder.copay_fen).where(CareOrder.public_id.in_(pending)))
    assert set(copays) == {300}
    queue = list(pending)

    def draw() -> bool:
        order_id = queue.pop()
        try:
            balances.pay_order_from_balance(care.daughter_user, order_id)
        except balances.BalanceInsufficient:
            return False
        return True

    results = race(app, DRAWS, draw)

    assert sorted(results) == [False] * (DRAWS - COVERED) + [True] * COVERED
    database.session.expire_all()
    assert balance_of(card) == 0
    draws = database.session.scalars(
        sa.select(BalanceEntry.balance_after_fen).where(BalanceEntry.balance_id == card.id, BalanceEntry.kind == "draw")
    ).all()
    assert sorted(draws) == [0, 300, 600, 900, 1200]
    submitted = database.session.scalar(
        sa.select(sa.func.count()).where(
            CareOrder.resident_id == care.elder.id, CareOrder.status == CareOrderStatus.submitted
        )
    )
    assert submitted == COVERED


def test_the_ledger_pages_with_a_constant_number_of_queries(api, care, count_queries):
    card = issue(care)
    for amount in (1000, 2000, 3000, 4000):
        fund(card, amount, care.daughter_user)
    path = f"{E}/balances/{card.public_id}/ledger"
    with count_queries() as one:
        first = api(care.daughter_user, "get", path, query_string={"limit": 1})
    with count_queries() as four:
        every = api(care.daughter_user, "get", path, query_string={"limit": 4})
    assert [e["balance_after_fen"] for e in first.json["items"]] == [10000]
    assert [e["amount_fen"] for e in every.json["items"]] == [4000, 3000, 2000, 1000]
    assert len(four) == len(one)
