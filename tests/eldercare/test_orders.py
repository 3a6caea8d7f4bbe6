"""Care orders: server-computed subsidy and copay, eligibility by priority with a snapshot, who may order, provider
decline and family cancel releasing the hold once, provider tenancy, and the copay paid through payments."""

from datetime import date

import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from app.push.models import Delivery
from eldercare.models import CareOrder, EligibilityRule, LedgerKind, SubsidyLedgerEntry, SubsidyQuota
from tests.eldercare.fixtures import E, add_offer, add_provider, add_role, add_rule, tag, tomorrow


def order(api, user, care, **extra):
    body = {"offer_id": care.offer.public_id, "elder_id": care.elder.public_id, "scheduled_at": tomorrow(), **extra}
    return api(user, "post", f"{E}/orders", json=body)


def quota_row(care) -> SubsidyQuota:
    return database.session.scalar(
        sa.select(SubsidyQuota)
        .where(SubsidyQuota.resident_id == care.elder.id)
        .execution_options(populate_existing=True)
    )


def ledger(care) -> list[tuple[str, int]]:
    rows = database.session.execute(
        sa.select(SubsidyLedgerEntry.kind, SubsidyLedgerEntry.amount_fen)
        .where(SubsidyLedgerEntry.resident_id == care.elder.id)
        .order_by(SubsidyLedgerEntry.id)
    ).all()
    return [(kind.value, amount) for kind, amount in rows]


# --- subsidy math ----------------------------------------------------------------------------------------------------


def test_price_3000_with_10_percent_copay_and_quota_5000_gives_subsidy_2700_copay_300(api, care):
    quoted = api(
        care.daughter_user,
        "post",
        f"{E}/orders/quote",
        json={"offer_id": care.offer.public_id, "elder_id": care.elder.public_id, "scheduled_at": tomorrow()},
    )
    assert quoted.status_code == 200, quoted.json
    assert (quoted.json["subsidy_fen"], quoted.json["copay_fen"], quoted.json["remaining_quota_fen"]) == (
        2700,
        300,
        5000,
    )
    assert quota_row(care) is None  # a quote holds nothing

    placed = order(api, care.daughter_user, care)
    assert placed.status_code == 201, placed.json
    body = placed.json
    assert (body["price_fen"], body["subsidy_fen"], body["copay_fen"]) == (3000, 2700, 300)
    assert body["status"] == "pending_payment"
    assert body["placed_via"] == "delegate"
    assert ledger(care) == [("hold", 2700)]
    assert (quota_row(care).quota_fen, quota_row(care).held_fen) == (5000, 2700)


def test_nearly_spent_quota_caps_the_subsidy_and_the_family_pays_the_rest(api, care):
    assert order(api, care.daughter_user, care).json["subsidy_fen"] == 2700
    second = order(api, care.daughter_user, care).json
    assert (second["subsidy_fen"], second["copay_fen"]) == (2300, 700)  # 5000 − 2700 left
    third = order(api, care.daughter_user, care).json
    assert (third["subsidy_fen"], third["copay_fen"]) == (0, 3000)
    assert ledger(care) == [("hold", 2700), ("hold", 2300)]
    assert quota_row(care).held_fen == 5000


# --- eligibility -----------------------------------------------------------------------------------------------------


def test_first_matching_rule_by_priority_applies_and_is_snapshotted(api, care):
    dibao = add_rule("低保高龄", priority=10, copay_bps=0, quota=20000, tag_code="dibao")
    add_rule("别区规则", priority=1, copay_bps=0, quota=99999, district_id=care.tree.other_district.id)
    add_rule("已过期", priority=2, copay_bps=0, quota=99999, valid_to=date(2026, 1, 31))

    # Not tagged 低保 yet: the dibao rule does not match; the other-district and expired rules never do.
    body = {"offer_id": care.offer.public_id, "elder_id": care.elder.public_id, "scheduled_at": tomorrow()}
    assert api(care.daughter_user, "post", f"{E}/orders/quote", json=body).json["rule"]["name"] == "高龄本地户籍"

    tag(care.elder, "dibao", care.tree.a)
    placed = order(api, care.daughter_user, care).json
    assert (placed["subsidy_fen"], placed["copay_fen"]) == (3000, 0)
    assert placed["status"] == "submitted"  # nothing to pay: straight to the provider
    assert placed["rule"]["name"] == "低保高龄"
    assert placed["rule"]["copay_bps"] == 0
    assert "tag_code" not in placed["rule"]  # the 低保 condition stays on the server
    stored = database.session.scalar(sa.select(CareOrder).where(CareOrder.public_id == placed["id"]))
    assert stored.rule_snapshot["tag_code"] == "dibao"

    with atomic():
        database.session.execute(
            sa.update(EligibilityRule).where(EligibilityRule.id == dibao.id).values(copay_bps=5000)
        )
    again = api(care.daughter_user, "get", f"{E}/orders/{placed['id']}").json
    assert again["rule"]["copay_bps"] == 0  # the snapshot, not the edited rule


def test_not_eligible_orders_at_full_price(api, care, make_resident, join):
    user, young = make_resident("赵六", born=date(1990, 1, 1), sequence="984")
    with atomic():
        young.hukou_status = care.elder.hukou_status
        database.session.add(young)
    join(young, care.tree.rooms_a["201"], role="head")
    placed = api(user, "post", f"{E}/orders", json={"offer_id": care.offer.public_id, "scheduled_at": tomorrow()})
    assert placed.status_code == 201, placed.json
    assert (placed.json["subsidy_fen"], placed.json["copay_fen"], placed.json["rule"]) == (0, 3000, None)
    assert placed.json["placed_via"] == "self"


# --- who may order ---------------------------------------------------------------------------------------------------


def test_delegate_without_eldercare_scope_is_refused(api, care, make_resident, join):
    from tests.eldercare.fixtures import delegate

    son_user, son = make_resident("王强", born=date(1970, 2, 2), sequence="985")
    delegate(son, care.elder, scopes=("bills",))
    refused = order(api, son_user, care)
    assert refused.status_code == 403
    assert refused.json["code"] == "delegation_denied"
    assert refused.json["details"]["reason"] == "scope_missing"

    stranger_user, _stranger = make_resident("路人", born=date(1980, 2, 2), sequence="986")
    assert order(api, stranger_user, care).status_code == 404
    assert quota_row(care) is None


def test_staff_phone_order_needs_a_reason(api, care, make_staff):
    staff = make_staff(care.tree.a)
    without = order(api, staff, care)
    assert without.status_code == 422
    assert without.json["code"] == "staff_reason_required"

    placed = order(api, staff, care, reason="老人来电：明天上午助浴")
    assert placed.status_code == 201, placed.json
    assert placed.json["placed_via"] == "staff"
    stored = database.session.scalar(sa.select(CareOrder).where(CareOrder.public_id == placed.json["id"]))
    assert stored.staff_reason == "老人来电：明天上午助浴"
    assert stored.placed_by_user_id == staff.id


def test_elder_orders_for_herself(api, care):
    placed = api(
        care.elder_user, "post", f"{E}/orders", json={"offer_id": care.offer.public_id, "scheduled_at": tomorrow()}
    )
    assert placed.status_code == 201, placed.json
    assert placed.json["placed_via"] == "self"
    listed = api(care.daughter_user, "get", f"{E}/orders", query_string={"elder_id": care.elder.public_id})
    assert [o["id"] for o in listed.json["items"]] == [placed.json["id"]]


def test_order_in_the_past_is_refused(api, care):
    placed = order(api, care.daughter_user, care, scheduled_at=utcnow().isoformat())
    assert placed.status_code == 422
    assert placed.json["code"] == "scheduled_in_past"


# --- provider steps, cancellation, tenancy -------------------------------------------------------------------------


def test_provider_decline_releases_the_hold_and_tells_the_family(api, care):
    placed = order(api, care.daughter_user, care).json
    declined = api(care.admin, "post", f"{E}/orders/{placed['id']}/decline", json={"reason": "当天护理员已排满"})
    assert declined.status_code == 200, declined.json
    assert declined.json["status"] == "declined"
    assert ledger(care) == [("hold", 2700), ("release", 2700)]
    assert quota_row(care).held_fen == 0

    again = api(care.admin, "post", f"{E}/orders/{placed['id']}/decline", json={"reason": "重复"})
    assert again.status_code == 409
    assert ledger(care) == [("hold", 2700), ("release", 2700)]

    told = database.session.scalar(
        sa.select(Delivery).where(
            Delivery.source_kind == "eldercare.care_order",
            Delivery.source_id == placed["id"],
            Delivery.body.contains("当天护理员已排满"),
        )
    )
    assert told is not None
    assert told.scope == "eldercare"  # delegates holding eldercare receive it for the elder


def test_elder_refuses_a_delegates_order_and_the_hold_is_released_once(api, care):
    placed = order(api, care.daughter_user, care).json
    # The elder refuses an order her daughter placed; the daughter's repeat is refused and releases nothing.
    first = api(care.elder_user, "post", f"{E}/orders/{placed['id']}/cancel", json={"reason": "不需要"})
    assert first.status_code == 200, first.json
    second = api(care.daughter_user, "post", f"{E}/orders/{placed['id']}/cancel", json={})
    assert second.status_code == 409
    assert [kind for kind, _ in ledger(care)] == [LedgerKind.hold.value, LedgerKind.release.value]
    assert quota_row(care).held_fen == 0
    # The quota is free again for the next order.
    assert order(api, care.daughter_user, care).json["subsidy_fen"] == 2700


def test_caregiver_of_another_provider_gets_404(api, care, make_user):
    placed = order(api, care.daughter_user, care).json
    other_admin = make_user("别家管理员")
    other = add_provider(other_admin, [care.tree.a], name="福寿护理站")
    add_offer(other, [care.tree.a])
    stranger_caregiver = make_user("别家护理员")
    add_role(other, stranger_caregiver, "caregiver")

    assert api(stranger_caregiver, "get", f"{E}/orders/{placed['id']}").status_code == 404
    assert api(other_admin, "post", f"{E}/orders/{placed['id']}/decline", json={"reason": "x"}).status_code == 404
    assert api(stranger_caregiver, "get", f"{E}/providers/{care.provider.public_id}/orders").status_code == 404

    # A caregiver of the provider sees only the orders assigned to them (none yet); the provider's admin sees it.
    assert api(care.caregiver, "get", f"{E}/orders/{placed['id']}").status_code == 404
    assert api(care.caregiver, "get", f"{E}/providers/{care.provider.public_id}/orders").json["items"] == []
    assert api(care.admin, "get", f"{E}/orders/{placed['id']}").status_code == 200
    # Inside the provider, a caregiver may not decide.
    assert api(care.caregiver, "post", f"{E}/orders/{placed['id']}/decline", json={"reason": "x"}).status_code == 403


def test_copay_paid_in_the_sandbox_submits_the_order_to_the_provider(api, care):
    from payments import mark_paid
    from payments.models import Payment

    placed = order(api, care.daughter_user, care).json
    opened = api(
        care.daughter_user,
        "post",
        "/api/v1/payments",
        json={"kind": "eldercare.care_order", "ids": [placed["id"]], "channel": "sandbox"},
    )
    assert opened.status_code == 201, opened.json
    payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == opened.json["id"]))
    assert payment.amount_fen == 300
    assert payment.payee_id == care.provider.payee_id
    with atomic():
        mark_paid(payment.out_trade_no, 300, f"T{payment.id}", utcnow(), {"test": True}, channel="sandbox")

    paid = api(care.daughter_user, "get", f"{E}/orders/{placed['id']}").json
    assert paid["status"] == "submitted"
    assert paid["payment_id"] == payment.public_id
    accepted = api(care.admin, "post", f"{E}/orders/{placed['id']}/accept", json={})
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["status"] == "accepted"


def test_an_unpaid_copay_expires_and_releases_the_hold_once(api, care, run_jobs):
    from app.outbox import OutboxRow
    from eldercare import jobs

    placed = order(api, care.daughter_user, care).json
    assert placed["expires_at"].endswith("+08:00")
    run_jobs()
    stored = database.session.scalar(
        sa.select(CareOrder).where(CareOrder.public_id == placed["id"]).execution_options(populate_existing=True)
    )
    assert stored.status.value == "pending_payment"  # not due yet
    with atomic():
        database.session.execute(sa.update(CareOrder).where(CareOrder.id == stored.id).values(expires_at=utcnow()))
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.key == f"eldercare.expire:{stored.id}").values(run_at=utcnow())
        )
    run_jobs()
    database.session.refresh(stored)
    assert stored.status.value == "expired"
    with atomic():
        jobs.expire_unpaid_care_order(stored.id)  # delivered twice: nothing more happens
    assert ledger(care) == [("hold", 2700), ("release", 2700)]
    assert quota_row(care).held_fen == 0
    opened = api(
        care.daughter_user,
        "post",
        "/api/v1/payments",
        json={"kind": "eldercare.care_order", "ids": [placed["id"]], "channel": "sandbox"},
    )
    assert opened.status_code in (404, 409, 422), opened.json  # no longer payable
