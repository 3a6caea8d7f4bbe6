"""The visit of an accepted care order: the provider assigns a caregiver (reassigning until check-in), the caregiver
checks in at the home and checks out with a service record, the elder, family or staff confirm and rate it, and the
delivered visit turns the subsidy hold into a claim.

A caregiver no-show (marked by the provider or staff) releases the hold and refunds a paid copay. Alerts (late
check-in, no answer at the door) are in ``visits_alerts``.

Every step locks the order row first (``SELECT … FOR UPDATE``), so steps on one order run one after the other and a
step repeated or racing another finds the state the first left.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert

from app import files, outbox, push
from app.accounts.models import User
from app.accounts.resident_models import Resident
from app.api import SHANGHAI, keyset_page
from app.auth.scopes import authorize, can, register_action, roles_over
from app.db import atomic, utcnow
from app.extensions import db
from eldercare import caregivers, subsidies
from eldercare.access import refuse
from eldercare.errors import CareOrderNotFound, CareOrderStateConflict
from eldercare.models import CareOrder, CareOrderStatus
from eldercare.orders import _family_side, _provider_order, _refund, family_or_staff, get_order, notify
from eldercare.visit_models import Visit
from eldercare.visits_errors import (
    CaregiverSkillMismatch,
    NoShowTooEarly,
    VisitAlreadyStarted,
)

log = logging.getLogger(__name__)

#: Community staff (of the order's community) confirm a visit for an elder without a phone and mark no-shows.
register_action("eldercare.order.staff", ("admin", "staff"))
#: The provider admin or community staff mark a caregiver no-show.
register_action("eldercare.order.no_show", ("admin", "staff", "provider_admin"))

CHECK_IN_EVENT = "eldercare.visit_check_in"
CHECK_OUT_EVENT = "eldercare.visit_check_out"
FILE_KIND = "eldercare_visit"

push.register_event(
    CHECK_IN_EVENT,
    "护理员已到达",
    channels=("inbox",),
    scope="eldercare",
    title="{item}：护理员已到达",
    body="护理员{caregiver}已于{time}到达{elder}家中，开始{item}服务。",
)
push.register_event(
    CHECK_OUT_EVENT,
    "服务已完成",
    channels=("inbox",),
    scope="eldercare",
    title="{item}：服务已完成，请确认",
    body="护理员{caregiver}已于{time}完成{elder}的{item}服务，请确认并评价。",
)


def auto_confirm_hours() -> int:
    return int(current_app.config.get("ELDERCARE_AUTO_CONFIRM_HOURS", 24))


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")


# --- the visit row and who sees it ---------------------------------------------------------------------------------


def ensure_visit(order: CareOrder) -> Visit:
    """The order's visit, created on first use (the caller holds the order's lock)."""
    db.session.execute(
        insert(Visit)
        .values(order_id=order.id, provider_id=order.provider_id)
        .on_conflict_do_nothing(index_elements=["order_id"])
    )
    return db.session.scalar(
        sa.select(Visit).where(Visit.order_id == order.id).execution_options(populate_existing=True)
    )


def visit_of(order_id: int) -> Visit | None:
    """The order's visit as committed (read after the order's lock, it is the state every other step left)."""
    return db.session.scalar(
        sa.select(Visit).where(Visit.order_id == order_id).execution_options(populate_existing=True)
    )


def assigned_to(order_id: int, user_id: int) -> bool:
    return (
        db.session.scalar(sa.select(Visit.id).where(Visit.order_id == order_id, Visit.caregiver_user_id == user_id))
        is not None
    )


def provider_side(user, order: CareOrder) -> bool:
    """The provider admin, or the caregiver assigned to this order (other caregivers of the provider: no)."""
    roles = roles_over(user, order)
    if "provider_admin" in roles:
        return True
    return "caregiver" in roles and assigned_to(order.id, user.id)


def _caregiver_order(user, public_id: str) -> tuple[CareOrder, Visit]:
    """The order locked, if ``user`` is its assigned caregiver; 404 for everyone else (other caregivers included)."""
    order = get_order(public_id, lock=True)
    if order is None:
        raise CareOrderNotFound()
    visit = visit_of(order.id)
    if visit is None or visit.caregiver_user_id != user.id or "caregiver" not in roles_over(user, order):
        raise CareOrderNotFound()
    return order, visit


def _names(order: CareOrder, visit: Visit | None) -> dict[str, str]:
    elder = db.session.scalar(sa.select(Resident.real_name).where(Resident.id == order.resident_id))
    caregiver = ""
    if visit is not None and visit.caregiver_user_id is not None:
        caregiver = db.session.scalar(sa.select(User.display_name).where(User.id == visit.caregiver_user_id)) or ""
    return {"elder": elder or "", "item": order.item_name, "caregiver": caregiver}


def _tell_family(event: str, order: CareOrder, visit: Visit | None, at: datetime, key: str) -> None:
    push.send(
        event,
        [order.resident_id],
        {**_names(order, visit), "time": _local(at), "start": _local(order.scheduled_at)},
        source=("eldercare.care_order", order.public_id),
        key=key,
    )


def can_read_photo(user, visit_id: int) -> bool:
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        return False
    order = db.session.get(CareOrder, visit.order_id)
    return _family_side(user, order) or provider_side(user, order) or can(user, "eldercare.order.staff", order)


files.register_owner_kind(FILE_KIND, can_read_photo)


# --- reading -------------------------------------------------------------------------------------------------------


def visit_view(order: CareOrder, visit: Visit | None, *, user) -> dict[str, Any]:
    caregiver = None
    if visit is not None and visit.caregiver_user_id is not None:
        row = db.session.execute(
            sa.select(User.public_id, User.display_name).where(User.id == visit.caregiver_user_id)
        ).one()
        caregiver = {"id": row.public_id, "name": row.display_name}
    photo = None
    if visit is not None and visit.check_in_photo_id:
        stored = files.get_file(visit.check_in_photo_id, user=user)
        url, expires = files.file_url(stored, user=user)
        photo = {"id": visit.check_in_photo_id, "url": url, "url_expires_at": expires}
    location = None
    if visit is not None and visit.check_in_lat is not None:
        location = {"lat": float(visit.check_in_lat), "lng": float(visit.check_in_lng)}
    v = visit or Visit()
    return {
        "order_id": order.public_id,
        "status": order.status.value,
        "item_name": order.item_name,
        "scheduled_at": order.scheduled_at,
        "address": home_address(order),
        "caregiver": caregiver,
        "assigned_at": v.assigned_at,
        "checked_in_at": v.checked_in_at,
        "check_in_location": location,
        "check_in_photo": photo,
        "checked_out_at": v.checked_out_at,
        "service_record": v.service_record,
        "service_notes": v.service_notes,
        "confirmed_at": v.confirmed_at,
        "auto_confirmed": bool(v.auto_confirmed),
        "rating": v.rating,
        "rating_comment": v.rating_comment,
        "late_alert_at": v.late_alert_at,
        "no_answer_at": v.no_answer_at,
        "no_show_at": v.no_show_at,
    }


def home_address(order: CareOrder) -> str | None:
    """Where the caregiver goes: the elder's active household in the order's community (社区 · 小区 · 楼 · 房)."""
    from app.accounts.resident_models import HouseholdMembership, MembershipStatus
    from app.community.models import Household
    from app.community.services import household_address

    household = db.session.scalar(
        sa.select(Household)
        .join(HouseholdMembership, HouseholdMembership.household_id == Household.id)
        .where(
            HouseholdMembership.resident_id == order.resident_id,
            HouseholdMembership.status == MembershipStatus.active,
            Household.community_id == order.community_id,
        )
        .order_by(HouseholdMembership.id)
        .limit(1)
    )
    return household_address(household)["label"] if household is not None else None


def read_visit(user, public_id: str) -> dict[str, Any]:
    """The visit of an order: the family's side, staff of its community, the provider admin, its caregiver."""
    with atomic():
        order = get_order(public_id)
        if order is None:
            raise CareOrderNotFound()
        if not (_family_side(user, order) or provider_side(user, order) or can(user, "eldercare.order.staff", order)):
            refuse(user, order.resident_id, CareOrderNotFound())
        return visit_view(order, visit_of(order.id), user=user)


def my_visits(user, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """The caller's own assignments (a caregiver's worklist), newest assignment first; two statements a page."""
    query = sa.select(Visit).where(Visit.caregiver_user_id == user.id)
    page = keyset_page(db.session, query, [Visit.id], cursor=cursor, limit=limit)
    visits = page["items"]
    rows = {
        row.id: row
        for row in db.session.execute(
            sa.select(
                CareOrder.id,
                CareOrder.public_id,
                CareOrder.status,
                CareOrder.item_name,
                CareOrder.category,
                CareOrder.scheduled_at,
                CareOrder.duration_minutes,
                CareOrder.notes,
                Resident.real_name,
            )
            .join(Resident, Resident.id == CareOrder.resident_id)
            .where(CareOrder.id.in_([v.order_id for v in visits]))
        )
    }
    page["items"] = [
        {
            "order_id": rows[v.order_id].public_id,
            "status": rows[v.order_id].status.value,
            "item_name": rows[v.order_id].item_name,
            "category": rows[v.order_id].category.value,
            "scheduled_at": rows[v.order_id].scheduled_at,
            "duration_minutes": rows[v.order_id].duration_minutes,
            "notes": rows[v.order_id].notes,
            "elder_name": rows[v.order_id].real_name,
            "assigned_at": v.assigned_at,
            "checked_in_at": v.checked_in_at,
            "checked_out_at": v.checked_out_at,
        }
        for v in visits
    ]
    return page


# --- steps ---------------------------------------------------------------------------------------------------------


def assign(user, public_id: str, *, caregiver_id: str) -> dict[str, Any]:
    """The provider admin assigns (or, before check-in, reassigns) a caregiver skilled in the order's category.

    :raises CareOrderStateConflict: the order is not accepted.
    :raises VisitAlreadyStarted: the caregiver already checked in.
    :raises CaregiverNotFound: not a caregiver of this provider.
    :raises CaregiverSkillMismatch: the caregiver lacks the order's category.
    """
    with atomic():
        order = _provider_order(user, public_id)
        if order.status is CareOrderStatus.in_service or order.status is CareOrderStatus.serviced:
            raise VisitAlreadyStarted()
        if order.status is not CareOrderStatus.accepted:
            raise CareOrderStateConflict(details={"status": order.status.value})
        member = caregivers.caregiver_user(order.provider_id, caregiver_id)
        if order.category.value not in caregivers.skills_of(order.provider_id, member.id):
            raise CaregiverSkillMismatch(details={"category": order.category.value})
        visit = ensure_visit(order)
        before = visit.caregiver_user_id
        visit.caregiver_user_id, visit.assigned_by_user_id, visit.assigned_at = member.id, user.id, utcnow()
        db.session.flush()
        log.info("care order %s: caregiver %s assigned by user %s (was %s)", order.id, member.id, user.id, before)
        return visit_view(order, visit, user=user)


def check_in(user, public_id: str, *, lat: Decimal, lng: Decimal, photo_id: str | None) -> dict[str, Any]:
    """The assigned caregiver arrives: time and place recorded, an optional private photo attached; family told."""
    with atomic():
        order, visit = _caregiver_order(user, public_id)
        if visit.checked_in_at is not None:
            raise VisitAlreadyStarted()
        if order.status is not CareOrderStatus.accepted:
            raise CareOrderStateConflict(details={"status": order.status.value})
        now = utcnow()
        if photo_id:
            files.attach(photo_id, FILE_KIND, visit.id, by_user=user)
            visit.check_in_photo_id = photo_id
        visit.checked_in_at, visit.check_in_lat, visit.check_in_lng = now, lat, lng
        order.status = CareOrderStatus.in_service
        db.session.flush()
        _tell_family(CHECK_IN_EVENT, order, visit, now, f"eldercare.check_in:{order.public_id}")
        log.info("care order %s: caregiver %s checked in", order.id, user.id)
        return visit_view(order, visit, user=user)


def check_out(user, public_id: str, *, service_record: str, notes: str | None) -> dict[str, Any]:
    """The caregiver leaves with a service record; family told and asked to confirm (auto-confirmed after N hours)."""
    from eldercare import jobs

    with atomic():
        order, visit = _caregiver_order(user, public_id)
        if order.status is not CareOrderStatus.in_service:
            raise CareOrderStateConflict(details={"status": order.status.value})
        now = utcnow()
        visit.checked_out_at, visit.service_record, visit.service_notes = now, service_record, notes
        order.status = CareOrderStatus.serviced
        db.session.flush()
        outbox.enqueue(
            jobs.auto_confirm_visit,
            order.id,
            run_at=now + timedelta(hours=auto_confirm_hours()),
            key=f"eldercare.auto_confirm:{order.id}",
        )
        _tell_family(CHECK_OUT_EVENT, order, visit, now, f"eldercare.check_out:{order.public_id}")
        log.info("care order %s: caregiver %s checked out", order.id, user.id)
        return visit_view(order, visit, user=user)


def _deliver(order: CareOrder, visit: Visit, *, by_user, auto: bool) -> None:
    """Delivered: the subsidy hold becomes a claim, the provider's payment is released for profit sharing (once)."""
    from payments.gateways.profit_sharing import request_profit_sharing

    now = utcnow()
    order.status, order.delivered_at = CareOrderStatus.delivered, now
    visit.confirmed_at, visit.auto_confirmed = now, auto
    visit.confirmed_by_user_id = getattr(by_user, "id", None)
    subsidies.claim(order)
    db.session.flush()
    if order.payment_public_id and order.paid_at is not None:
        request_profit_sharing(order.payment_public_id, actor=by_user)
    notify(order, "系统自动确认" if auto else None)


def confirm(user, public_id: str, *, rating: int, comment: str | None) -> dict[str, Any]:
    """The elder, family or staff confirm the checked-out visit and rate it 1–5.

    :raises CareOrderStateConflict: the caregiver has not checked out, or it was confirmed already.
    """
    with atomic():
        order = get_order(public_id, lock=True)
        if order is None:
            raise CareOrderNotFound()
        family_or_staff(user, order)
        if order.status is not CareOrderStatus.serviced:
            raise CareOrderStateConflict(details={"status": order.status.value})
        visit = ensure_visit(order)
        visit.rating, visit.rating_comment = rating, comment
        _deliver(order, visit, by_user=user, auto=False)
        log.info("care order %s confirmed by user %s, rated %s", order.id, user.id, rating)
        return visit_view(order, visit, user=user)


def auto_confirm(order_id: int) -> bool:
    """Job: a visit checked out N hours ago and still unconfirmed is delivered (a no-op in any other state)."""
    with atomic():
        order = db.session.get(CareOrder, order_id, with_for_update=True, populate_existing=True)
        if order is None or order.status is not CareOrderStatus.serviced:
            return False
        visit = ensure_visit(order)
        if visit.checked_out_at is None or visit.checked_out_at + timedelta(hours=auto_confirm_hours()) > utcnow():
            return False
        _deliver(order, visit, by_user=None, auto=True)
        log.info("care order %s auto-confirmed", order.id)
        return True


def mark_no_show(user, public_id: str, *, reason: str) -> CareOrder:
    """The provider admin or community staff record that no caregiver came: the hold is released (once), a paid
    copay refunded in full, and the family told.

    :raises NoShowTooEarly: the scheduled start has not passed.
    """
    with atomic():
        order = get_order(public_id, lock=True)
        if order is None:
            raise CareOrderNotFound()
        authorize(user, "eldercare.order.no_show", order, not_found=CareOrderNotFound)
        if order.status is not CareOrderStatus.accepted:
            raise CareOrderStateConflict(details={"status": order.status.value})
        if order.scheduled_at > utcnow():
            raise NoShowTooEarly()
        visit = ensure_visit(order)
        visit.no_show_at, visit.no_show_by_user_id = utcnow(), user.id
        order.status, order.status_note = CareOrderStatus.no_show, reason
        subsidies.release(order)
        _refund(order, reason, "no_show", user)
        db.session.flush()
        notify(order, f"原因：{reason}")
        log.info("care order %s marked no-show by user %s", order.id, user.id)
        return order
