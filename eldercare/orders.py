"""Care orders: placed by the elder, a family member with an ``eldercare`` delegation, or staff by phone (with a
reason); priced on the server with the subsidy held at confirmation; accepted or declined by the provider; cancelled
by the elder or family before the start. Every hold and release goes through ``subsidies`` (the ledger).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

import payments
from app import outbox, push
from app.accounts.profile import register_requirement, require_ready
from app.accounts.resident_models import Resident
from app.accounts.residents import require_resident, resident_for_user
from app.api import keyset_page
from app.auth.scopes import acting_for, can
from app.db import atomic, utcnow
from app.errors import APIError, ValidationFailed
from app.extensions import db
from eldercare import subsidies
from eldercare.access import refuse
from eldercare.errors import CareOrderNotFound, CareOrderStateConflict, CommunityNotServed, ScheduledInPast
from eldercare.models import CancelledBy, CareOrder, CareOrderStatus, PlacedVia, Provider
from eldercare.providers import offer_communities, offer_for_order, provider_for

log = logging.getLogger(__name__)

KIND = "eldercare.care_order"
ORDER_EVENT = "eldercare.order_status"
#: Facts an order needs about the elder: age and hukou for eligibility, a household for the address.
register_requirement("eldercare.order", ["real_name", "birth_date", "hukou", "household"])

push.register_event(
    ORDER_EVENT,
    "居家养老服务订单",
    channels=("inbox",),
    scope="eldercare",
    title="{item}：{status}",
    body="{elder}的{item}服务（{provider}）{status}。{note}",
)

STATUS_LABELS = {
    CareOrderStatus.pending_payment: "待支付自付部分",
    CareOrderStatus.submitted: "已提交，等待服务机构接单",
    CareOrderStatus.accepted: "服务机构已接单",
    CareOrderStatus.declined: "服务机构无法接单，补贴额度已退回",
    CareOrderStatus.cancelled: "已取消，补贴额度已退回",
    CareOrderStatus.expired: "自付部分超时未支付，订单已关闭",
    CareOrderStatus.in_service: "护理员已到达，服务中",
    CareOrderStatus.serviced: "服务已完成，待确认",
    CareOrderStatus.delivered: "服务已确认完成",
    CareOrderStatus.no_show: "护理员未上门，补贴额度已退回，自付部分原路退回",
}
#: The elder or family may cancel these before the scheduled start.
CANCELLABLE = (CareOrderStatus.pending_payment, CareOrderStatus.submitted, CareOrderStatus.accepted)
DEFAULT_UNPAID_MINUTES = 30


def unpaid_minutes() -> int:
    return int(current_app.config.get("ELDERCARE_UNPAID_MINUTES", DEFAULT_UNPAID_MINUTES))


def get_order(public_id: str, *, lock: bool = False) -> CareOrder | None:
    query = sa.select(CareOrder).where(CareOrder.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def notify(order: CareOrder, note: str | None = None) -> None:
    """Tell the elder (and, through push, family holding an ``eldercare`` delegation) where the order stands."""
    provider_name = db.session.scalar(sa.select(Provider.name).where(Provider.id == order.provider_id))
    elder_name = db.session.scalar(sa.select(Resident.real_name).where(Resident.id == order.resident_id))
    push.send(
        ORDER_EVENT,
        [order.resident_id],
        {
            "item": order.item_name,
            "status": STATUS_LABELS[order.status],
            "elder": elder_name,
            "provider": provider_name,
            "note": note or "",
        },
        source=("eldercare.care_order", order.public_id),
        key=f"eldercare.order:{order.public_id}:{order.status.value}",
    )


# --- placement -----------------------------------------------------------------------------------------------------


def _subject(user, data: dict[str, Any]) -> tuple[Resident, PlacedVia]:
    """Who the order is for, and how it is placed (self, delegate, staff by phone with a reason)."""
    if not data.get("elder_id"):
        return require_resident(user), PlacedVia.self
    subject = acting_for(user, data["elder_id"], "eldercare", reason=data.get("reason"))
    if subject.user_id == user.id:
        return subject, PlacedVia.self
    actor = resident_for_user(user)
    # acting_for tries a delegation first and staff second; staff are told apart by holding no delegation.
    if can(user, "resident.act_for", subject) and (actor is None or not _delegates(actor.id, subject.id)):
        return subject, PlacedVia.staff
    return subject, PlacedVia.delegate


def _delegates(actor_id: int, subject_id: int) -> bool:
    from app.accounts.delegation import state_of
    from app.accounts.resident_models import Delegation

    delegations = db.session.scalars(
        sa.select(Delegation).where(
            Delegation.actor_resident_id == actor_id, Delegation.subject_resident_id == subject_id
        )
    )
    return any(state_of(d) == "active" and "eldercare" in d.scopes for d in delegations)


def _priced(user, data: dict[str, Any], *, holding: bool):
    subject, via = _subject(user, data)
    if data["scheduled_at"] <= utcnow():
        raise ScheduledInPast()
    offer, item, provider = offer_for_order(data["offer_id"])
    profile = require_ready(subject.id, "eldercare.order")
    served = {h["community_id"] for h in profile.households} & offer_communities(offer.id)
    if not served:
        raise CommunityNotServed()
    community_id = min(served)
    month = subsidies.month_of(data["scheduled_at"])
    rule = subsidies.match_rule(profile, community_id, data["scheduled_at"].astimezone(subsidies.SHANGHAI).date())
    price = subsidies.hold if holding else subsidies.quote
    return subject, via, offer, item, provider, community_id, price(offer.price_fen, subject.id, month, rule)


def quote_order(user, data: dict[str, Any], *, meal=None) -> dict[str, Any]:
    """Price, subsidy and copay as they stand now, for the screen where the order is confirmed (nothing is held).

    ``meal`` (``eldercare.meals.MealRequest``): the dish chosen from a menu; the quote then adds the day's cut-off
    and the dish's diet conflicts (``eldercare.meals.check_meal``).
    """
    with atomic():
        _resident, _via, offer, item, provider, _community, q = _priced(user, data, holding=False)
        # --- care-meals: the meal's cut-off and diet conflicts, reported (eldercare.meals) ---
        from eldercare import meals

        meal_check = meals.check_meal(user, _resident, provider, offer, item, data["scheduled_at"], meal, enforce=False)
        # --- end care-meals ---
        return {
            "meal": meals.quote_view(meal_check),
            "offer_id": offer.public_id,
            "item_name": item.name,
            "provider_name": provider.name,
            "price_fen": q.price_fen,
            "subsidy_fen": q.subsidy_fen,
            "copay_fen": q.copay_fen,
            "remaining_quota_fen": q.remaining_fen,
            "rule": subsidies.snapshot(q.rule) if q.rule else None,
        }


def place_order(user, data: dict[str, Any], *, meal=None, pay_from_balance: bool = False, expires_at=None) -> CareOrder:
    """Confirm an order: the subsidy is held from the elder's monthly quota now (see ``subsidies.hold``), the rest
    is the copay, paid through payments (kind ``eldercare.care_order``) before the provider sees the order.

    A meal (助餐 offer) is refused after the provider's cut-off for its day, and a dish (``meal``, an
    ``eldercare.meals.MealRequest``) conflicting with the elder's diet needs ``confirm_diet_conflict``. With
    ``pay_from_balance`` (recurring occurrences) the copay is drawn from the elder's care balance with the provider
    when it covers it; ``expires_at`` replaces the unpaid deadline (an occurrence waits for a top-up until then).

    :raises StaffReasonRequired: staff ordering by phone without a reason.
    :raises DelegationDenied: a family member whose delegation lacks ``eldercare``.
    """
    with atomic():
        subject, via, offer, item, provider, community_id, q = _priced(user, data, holding=True)
        if via is PlacedVia.staff and not (data.get("reason") or "").strip():
            raise ValidationFailed(details={"fields": {"reason": ["电话代下单须填写事由"]}})
        # --- care-meals: a meal's cut-off and diet confirmation (eldercare.meals) ---
        from eldercare import balances, meals

        meal_check = meals.check_meal(user, subject, provider, offer, item, data["scheduled_at"], meal, enforce=True)
        # --- end care-meals ---
        order = CareOrder(
            resident_id=subject.id,
            provider_id=provider.id,
            offer_id=offer.id,
            community_id=community_id,
            category=item.category,
            item_name=item.name,
            scheduled_at=data["scheduled_at"],
            duration_minutes=offer.duration_minutes,
            notes=data.get("notes"),
            placed_by_user_id=user.id,
            placed_via=via,
            staff_reason=data.get("reason") if via is PlacedVia.staff else None,
            status=CareOrderStatus.pending_payment if q.copay_fen else CareOrderStatus.submitted,
            price_fen=q.price_fen,
            subsidy_fen=q.subsidy_fen,
            copay_fen=q.copay_fen,
            subsidy_month=q.month,
            rule_id=q.rule.id if q.rule else None,
            rule_snapshot=subsidies.snapshot(q.rule) if q.rule else None,
        )
        if order.status is CareOrderStatus.pending_payment:
            order.expires_at = utcnow() + timedelta(minutes=unpaid_minutes())
        db.session.add(order)
        db.session.flush()
        # --- care-meals: the meal side; an occurrence's copay drawn from the care balance (eldercare.balances) ---
        meals.record_meal(order, meal_check, user)
        if expires_at is not None and order.expires_at is not None:
            order.expires_at = expires_at
        if pay_from_balance:
            balances.draw_for_order(order)
        # --- end care-meals ---
        subsidies.record_hold(order)
        if order.expires_at is not None:
            from eldercare import jobs

            outbox.enqueue(
                jobs.expire_unpaid_care_order, order.id, run_at=order.expires_at, key=f"eldercare.expire:{order.id}"
            )
        notify(order)
        log.info(
            "care order %s placed by user %s (%s) for resident %s: price %s subsidy %s",
            order.id,
            user.id,
            via.value,
            subject.id,
            order.price_fen,
            order.subsidy_fen,
        )
        return order


# --- reading -------------------------------------------------------------------------------------------------------


def _family_side(user, order: CareOrder) -> bool:
    """The elder, whoever placed it, or a family member holding an ``eldercare`` delegation (recorded)."""
    if order.placed_by_user_id == user.id:
        return True
    resident = resident_for_user(user)
    if resident is not None and resident.id == order.resident_id:
        return True
    actor = resident
    if actor is None:
        return False
    subject = db.session.get(Resident, order.resident_id)
    if not _delegates(actor.id, subject.id):
        return False
    try:
        acting_for(user, subject.public_id, "eldercare")
    except APIError:
        return False
    return True


def family_or_staff(user, order: CareOrder) -> None:
    """The elder, whoever placed the order, an ``eldercare`` delegate, or staff of the order's community.

    :raises DelegationDenied: a family member whose delegation lacks ``eldercare`` (403).
    :raises CareOrderNotFound: anyone else.
    """
    from app.accounts.errors import ResidentNotFound

    if _family_side(user, order) or can(user, "eldercare.order.staff", order):
        return
    subject = db.session.get(Resident, order.resident_id)
    try:
        acting_for(user, subject.public_id, "eldercare")  # raises DelegationDenied for a delegation without the scope
    except ResidentNotFound:
        raise CareOrderNotFound() from None
    raise CareOrderNotFound()


def order_visible_to(user, public_id: str, *, lock: bool = False) -> CareOrder:
    """The family's side, staff of the order's community, the provider admin, or the caregiver assigned to it;
    anyone else (another caregiver, of this provider or another) gets 404."""
    from eldercare.visits import provider_side

    order = get_order(public_id, lock=lock)
    if order is None:
        raise CareOrderNotFound()
    if _family_side(user, order) or provider_side(user, order) or can(user, "eldercare.order.staff", order):
        return order
    refuse(user, order.resident_id, CareOrderNotFound())


def my_orders(user, *, elder_id: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """Orders for the caller (or, with ``elder_id``, for an elder they may act for in ``eldercare``), newest first."""
    if elder_id:
        with atomic():
            subject = acting_for(user, elder_id, "eldercare", reason="查看老人服务订单")
        query = sa.select(CareOrder).where(CareOrder.resident_id == subject.id)
    else:
        resident = resident_for_user(user)
        mine = CareOrder.placed_by_user_id == user.id
        if resident is not None:
            mine = sa.or_(mine, CareOrder.resident_id == resident.id)
        query = sa.select(CareOrder).where(mine)
    return keyset_page(db.session, query, [CareOrder.id], cursor=cursor, limit=limit)


def provider_orders(user, provider_public_id: str, *, status, cursor: str | None, limit: int) -> dict[str, Any]:
    from eldercare.visit_models import Visit

    provider = provider_for(user, provider_public_id, "eldercare.order.read")
    query = sa.select(CareOrder).where(CareOrder.provider_id == provider.id)
    if not can(user, "eldercare.order.decide", provider):
        # A caregiver's list holds only the orders assigned to them.
        query = query.where(CareOrder.id.in_(sa.select(Visit.order_id).where(Visit.caregiver_user_id == user.id)))
    if status is not None:
        query = query.where(CareOrder.status == status)
    return keyset_page(db.session, query, [CareOrder.id], cursor=cursor, limit=limit)


# --- steps ---------------------------------------------------------------------------------------------------------


def _refund(order: CareOrder, reason: str, key: str, actor, *, keep_fen: int = 0) -> None:
    """Refund the paid copay less ``keep_fen`` (a cancellation fee the provider keeps), once per ``key``."""
    rest = order.copay_fen - order.refunded_fen - keep_fen
    if order.payment_public_id and order.paid_at is not None and rest > 0:
        payments.refund(
            order.payment_public_id, rest, reason, key=f"eldercare.order:{order.public_id}:{key}", actor=actor
        )


def _provider_order(user, public_id: str) -> CareOrder:
    order = get_order(public_id, lock=True)
    if order is None or not can(user, "eldercare.order.read", order):
        raise CareOrderNotFound()
    from app.auth.scopes import authorize

    authorize(user, "eldercare.order.decide", order, not_found=CareOrderNotFound)
    return order


def accept_order(user, public_id: str, *, note: str | None = None) -> CareOrder:
    """The provider admin accepts a submitted (paid, or fully subsidised) order."""
    with atomic():
        order = _provider_order(user, public_id)
        if order.status is not CareOrderStatus.submitted:
            raise CareOrderStateConflict(details={"status": order.status.value})
        order.status, order.decided_by_user_id, order.status_note = CareOrderStatus.accepted, user.id, note
        db.session.flush()
        from eldercare import visits, visits_alerts

        visits.ensure_visit(order)
        visits_alerts.schedule_late_alert(order)
        notify(order, note)
        log.info("care order %s accepted by user %s", order.id, user.id)
        return order


def decline_order(user, public_id: str, *, reason: str) -> CareOrder:
    """The provider admin declines: the subsidy hold is released, a paid copay refunded, and the family told."""
    with atomic():
        order = _provider_order(user, public_id)
        if order.status not in (CareOrderStatus.pending_payment, CareOrderStatus.submitted):
            raise CareOrderStateConflict(details={"status": order.status.value})
        order.status, order.decided_by_user_id, order.status_note = CareOrderStatus.declined, user.id, reason
        subsidies.release(order)
        _refund(order, reason, "decline", user)
        db.session.flush()
        notify(order, f"原因：{reason}")
        log.info("care order %s declined by user %s", order.id, user.id)
        return order


def cancel_order(user, public_id: str, *, reason: str | None = None) -> CareOrder:
    """The elder or family cancels before the scheduled start: the hold is released (once), a paid copay refunded,
    less the provider's cancellation fee after the free cut-off (see ``visits_cancel.late_fee``).

    :raises CareOrderStateConflict: the order is over (a second cancel included), or its start has passed.
    """
    from eldercare import visits_cancel

    with atomic():
        order = get_order(public_id, lock=True)
        if order is None:
            raise CareOrderNotFound()
        family_or_staff(user, order)
        if order.status not in CANCELLABLE or order.scheduled_at <= utcnow():
            raise CareOrderStateConflict(details={"status": order.status.value})
        fee = visits_cancel.late_fee(order, utcnow())
        order.status, order.status_note = CareOrderStatus.cancelled, reason
        order.cancelled_by, order.cancellation_fee_fen = CancelledBy.family, fee
        subsidies.release(order)
        _refund(order, reason or "取消服务订单", "cancel", user, keep_fen=fee)
        db.session.flush()
        fee_note = f"（晚于免费取消时限，服务机构收取取消费 {fee // 100}.{fee % 100:02d} 元）" if fee else ""
        notify(order, (reason or "") + fee_note)
        log.info("care order %s cancelled by user %s", order.id, user.id)
        return order


def expire_order(order_id: int) -> bool:
    """Close an order whose copay is still unpaid at its due time and give its subsidy hold back (a no-op for any
    other state, so a job delivered twice, or racing a payment or a cancel, changes nothing the second time)."""
    with atomic():
        order = db.session.get(CareOrder, order_id, with_for_update=True, populate_existing=True)
        if order is None or order.status is not CareOrderStatus.pending_payment:
            return False
        if order.expires_at is None or order.expires_at > utcnow():
            return False
        order.status = CareOrderStatus.expired
        subsidies.release(order)
        db.session.flush()
        notify(order)
        log.info("care order %s expired unpaid", order.id)
        return True
