"""Visit alerts: a late check-in, and "no answer at the door".

- When the provider accepts an order, an outbox row is scheduled at the start + ``ELDERCARE_LATE_CHECKIN_MINUTES``.
  If nobody has checked in by then (the order is still ``accepted``), the family (inbox and SMS, urgent) and the
  provider's admins are alerted, once (``late_alert_at`` set under the order's lock). A check-in, a cancellation or a
  no-show before it makes the job a no-op.
- The assigned caregiver reports nobody answering the door: the family and the provider are alerted, and each of the
  elder's emergency contacts gets an SMS from a job of its own (contacts have a phone but no account, so push cannot
  reach them). The order stays open: the caregiver may still check in.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app import outbox, push
from app.accounts.resident_models import Resident
from app.auth.models import RoleAssignment
from app.db import atomic, utcnow
from app.extensions import db
from app.sms import TEMPLATES as SMS_TEMPLATES
from app.sms import SmsError, get_sender
from eldercare.errors import CareOrderStateConflict
from eldercare.models import CareOrder, CareOrderStatus, Elder, Provider
from eldercare.visits import _caregiver_order, _local, _names, _tell_family, ensure_visit, visit_of, visit_view
from eldercare.visits_errors import NoAnswerAlreadyReported

log = logging.getLogger(__name__)

LATE_EVENT = "eldercare.late_check_in"
NO_ANSWER_EVENT = "eldercare.no_answer"
PROVIDER_ALERT_EVENT = "eldercare.provider_alert"
CONTACT_SMS = "eldercare.no_answer_contact"

LATE_TEXT = "{elder}的{item}服务（{start}开始）护理员尚未签到，服务机构正在核实，请留意老人情况。"
push.register_event(
    LATE_EVENT,
    "护理员未按时到达",
    channels=("inbox", "sms"),
    scope="eldercare",
    urgent=True,
    title="{item}：护理员未按时签到",
    body=LATE_TEXT,
    sms=LATE_TEXT,
)
NO_ANSWER_TEXT = "护理员{caregiver}于{time}上门为{elder}提供{item}服务，敲门无人应答，请尽快联系老人。"
push.register_event(
    NO_ANSWER_EVENT,
    "上门无人应答",
    channels=("inbox", "sms"),
    scope="eldercare",
    urgent=True,
    title="{item}：上门无人应答",
    body=NO_ANSWER_TEXT,
    sms=NO_ANSWER_TEXT,
)
PROVIDER_TEXT = "{elder}的{item}服务（{start}开始，订单{order}）：{what}。"
push.register_event(
    PROVIDER_ALERT_EVENT,
    "服务机构预警",
    channels=("inbox", "sms"),
    scope="eldercare",
    urgent=True,
    title="服务预警：{what}",
    body=PROVIDER_TEXT,
    sms=PROVIDER_TEXT,
)
PROVIDER_SMS = "eldercare.provider_alert_contact"
SMS_TEMPLATES[PROVIDER_SMS] = "服务预警：" + PROVIDER_TEXT
# Emergency contacts have a phone but no account, so push cannot reach them: they get a plain SMS from a job.
SMS_TEMPLATES[CONTACT_SMS] = (
    "您是{elder}的紧急联系人：护理员于{time}上门提供{item}服务，敲门无人应答，请尽快联系老人或服务机构（{phone}）。"
)


def late_minutes() -> int:
    return int(current_app.config.get("ELDERCARE_LATE_CHECKIN_MINUTES", 30))


def schedule_late_alert(order: CareOrder) -> None:
    """Called when the provider accepts: the late-check-in check becomes due N minutes after the start."""
    from eldercare import jobs

    outbox.enqueue(
        jobs.late_check_in_alert,
        order.id,
        run_at=order.scheduled_at + timedelta(minutes=late_minutes()),
        key=f"eldercare.late:{order.id}",
    )


def _tell_provider(order: CareOrder, what: str, key: str) -> None:
    """Alert the provider's admins who have a resident profile (push reaches residents)."""
    admins = list(
        db.session.scalars(
            sa.select(Resident.id)
            .join(RoleAssignment, RoleAssignment.user_id == Resident.user_id)
            .where(
                RoleAssignment.scope_kind == "provider",
                RoleAssignment.scope_id == order.provider_id,
                RoleAssignment.role == "provider_admin",
                Resident.erased_at.is_(None),
            )
        )
    )
    if not admins:
        # Nobody push can reach: the provider's contact phone gets the alert by SMS instead.
        from eldercare import jobs

        log.warning("care order %s: provider %s has no admin reachable by push, SMS", order.id, order.provider_id)
        outbox.enqueue(jobs.sms_provider_contact, order.id, what, key=f"{key}:sms")
        return
    push.send(
        PROVIDER_ALERT_EVENT,
        admins,
        _provider_data(order, what),
        source=("eldercare.care_order", order.public_id),
        key=key,
    )


def _provider_data(order: CareOrder, what: str) -> dict[str, str]:
    return {
        "elder": _names(order, None)["elder"],
        "item": order.item_name,
        "start": _local(order.scheduled_at),
        "order": order.public_id,
        "what": what,
    }


# --- jobs and steps ---------------------------------------------------------------------------------------------------


def late_check_in_alert(order_id: int) -> bool:
    """Job, due N minutes after the start: if nobody checked in, alert the provider and the family (once).

    A no-op when the caregiver checked in, the order ended (cancelled, no-show …) or it was alerted already.
    """
    with atomic():
        order = db.session.get(CareOrder, order_id, with_for_update=True, populate_existing=True)
        if order is None or order.status is not CareOrderStatus.accepted:
            return False
        if order.scheduled_at + timedelta(minutes=late_minutes()) > utcnow():
            return False
        visit = ensure_visit(order)
        if visit.checked_in_at is not None or visit.late_alert_at is not None:
            return False
        visit.late_alert_at = utcnow()
        db.session.flush()
        _tell_family(LATE_EVENT, order, visit, visit.late_alert_at, f"eldercare.late:{order.public_id}")
        what = "护理员未按时签到" if visit.caregiver_user_id else "尚未指派护理员，已超过开始时间"
        _tell_provider(order, what, f"eldercare.late.provider:{order.public_id}")
        log.warning("care order %s: no check-in %s minutes after the start, alerted", order.id, late_minutes())
        return True


def report_no_answer(user, public_id: str, *, note: str | None) -> dict[str, Any]:
    """The assigned caregiver found nobody answering the door: family, provider and emergency contacts alerted.

    The order stays open (the caregiver may still check in if the door opens).
    """
    from eldercare import jobs

    with atomic():
        order, visit = _caregiver_order(user, public_id)
        if order.status is not CareOrderStatus.accepted:
            raise CareOrderStateConflict(details={"status": order.status.value})
        if visit.no_answer_at is not None:
            raise NoAnswerAlreadyReported()
        now = utcnow()
        visit.no_answer_at, visit.no_answer_note = now, note
        db.session.flush()
        _tell_family(NO_ANSWER_EVENT, order, visit, now, f"eldercare.no_answer:{order.public_id}")
        _tell_provider(order, "护理员上门敲门无人应答", f"eldercare.no_answer.provider:{order.public_id}")
        contacts = db.session.scalar(sa.select(Elder.emergency_contacts).where(Elder.resident_id == order.resident_id))
        for index, _contact in enumerate(contacts or []):
            outbox.enqueue(jobs.sms_emergency_contact, order.id, index, key=f"eldercare.contact:{order.id}:{index}")
        log.warning("care order %s: no answer at the door reported by caregiver %s", order.id, user.id)
        return visit_view(order, visit, user=user)


def sms_emergency_contact(order_id: int, index: int) -> None:
    """Job: one SMS to one emergency contact of the elder (the outbox row makes it once; SMS failures retry)."""
    order = db.session.get(CareOrder, order_id)
    visit = visit_of(order_id) if order is not None else None
    if visit is None or visit.no_answer_at is None:
        return
    contacts = db.session.scalar(sa.select(Elder.emergency_contacts).where(Elder.resident_id == order.resident_id))
    if not contacts or index >= len(contacts):
        return
    phone = db.session.scalar(sa.select(Provider.contact_phone).where(Provider.id == order.provider_id))
    names = _names(order, visit)
    try:
        get_sender().send(
            contacts[index]["phone"],
            CONTACT_SMS,
            {"elder": names["elder"], "item": order.item_name, "time": _local(visit.no_answer_at), "phone": phone},
        )
    except SmsError:
        log.warning("care order %s: SMS to emergency contact %s failed, will retry", order_id, index)
        raise
    log.info("care order %s: emergency contact %s told by SMS", order_id, index)


def sms_provider_contact(order_id: int, what: str) -> None:
    """Job: the alert by SMS to the provider's contact phone, when no provider admin can be reached by push."""
    order = db.session.get(CareOrder, order_id)
    if order is None:
        return
    phone = db.session.scalar(sa.select(Provider.contact_phone).where(Provider.id == order.provider_id))
    try:
        get_sender().send(phone, PROVIDER_SMS, _provider_data(order, what))
    except SmsError:
        log.warning("care order %s: SMS to the provider's contact phone failed, will retry", order_id)
        raise
    log.info("care order %s: provider %s alerted by SMS", order_id, order.provider_id)
