"""The state machine's one door: every transition of an application goes through ``transition`` here, which checks
the state it leaves, records who, when and why (``ApplicationEvent`` and the audit log) and tells the resident.

Callers hold the application row ``FOR UPDATE`` (``lock_application``) for the whole unit of work, so two staff acting
on one application at once are serialised and the second sees the state the first left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from app import audit
from app.extensions import db
from govservice import clock, notify
from govservice.application_models import (
    STATUS_LABELS,
    Application,
    ApplicationEvent,
    ApplicationNotFound,
    ApplicationStatus,
    InvalidTransition,
    Outcome,
)
from govservice.booking_views import item_names

log = logging.getLogger(__name__)

NOTE_LIMIT = 20  # a WeChat ``thing`` holds 20 characters; push shortens longer notes with "…"


def lock_application(public_id: str) -> Application:
    """The application with this public id, locked ``FOR UPDATE`` until the unit of work ends.

    :raises ApplicationNotFound:
    """
    application = db.session.scalar(
        sa.select(Application)
        .where(Application.public_id == public_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if application is None:
        raise ApplicationNotFound()
    return application


def get_application(public_id: str) -> Application:
    application = db.session.scalar(sa.select(Application).where(Application.public_id == public_id))
    if application is None:
        raise ApplicationNotFound()
    return application


def check_from(application: Application, action: str, allowed: Iterable[ApplicationStatus]) -> None:
    """:raises InvalidTransition: (409) the application is not in one of the ``allowed`` states."""
    allowed = tuple(allowed)
    if application.status not in allowed:
        raise InvalidTransition(
            f"办件当前为“{STATUS_LABELS[application.status]}”，不能{ACTION_LABELS.get(action, action)}",
            details={
                "action": action,
                "status": application.status.value,
                "allowed_from": [status.value for status in allowed],
            },
        )


ACTION_LABELS = {
    "submit": "提交",
    "pass_review": "通过预审",
    "return": "预审退回",
    "accept": "受理",
    "refuse": "不予受理",
    "request_correction": "要求补正",
    "supply_correction": "提交补正材料",
    "dispatch": "转部门办理",
    "start_special": "进入特别程序",
    "end_special": "结束特别程序",
    "complete": "办结",
    "withdraw": "撤回",
    "department_decide": "部门办理",
    "rate": "评价",
}


def transition(
    application: Application,
    to: ApplicationStatus | None,
    *,
    action: str,
    actor,
    allowed_from: Iterable[ApplicationStatus] | None = None,
    reason: str | None = None,
    department_id: int | None = None,
    details: dict[str, Any] | None = None,
    tell: bool = True,
    values: dict[str, Any] | None = None,
    then: Callable[[], None] | None = None,
) -> ApplicationEvent:
    """Move ``application`` to ``to`` (``None``: stay, e.g. one department's decision), recording the event.

    ``values`` are set on the application and ``then`` is called after the state check and before anything is
    flushed, so the row's CHECK constraints see the new state and its columns together.

    :raises InvalidTransition: the application is not in one of ``allowed_from``.
    """
    if allowed_from is not None:
        check_from(application, action, allowed_from)
    before = application.status
    with db.session.no_autoflush:  # the calendar's queries must not flush a half-changed row
        if to is not None:
            application.status = to
            if reason is not None:
                application.reason = reason
        for key, value in (values or {}).items():
            setattr(application, key, value)
        if then is not None:
            then()
    event = ApplicationEvent(
        application_id=application.id,
        action=action,
        from_status=before.value if before is not None else None,
        to_status=(to or before).value,
        actor_user_id=getattr(actor, "id", None),
        department_id=department_id,
        reason=reason,
        details=details or {},
        at=clock.now(),
    )
    db.session.add(event)
    db.session.flush()
    audit.record(
        f"govservice.application.{action}",
        actor=actor,
        subject=("resident", application.resident_id),
        target=("govservice_application", application.public_id),
        before={"status": before.value if before is not None else None},
        after={"status": (to or before).value, **(details or {})},
        reason=reason,
    )
    log.info(
        "application %s %s: %s -> %s by user %s",
        application.id,
        action,
        before.value if before is not None else None,
        (to or before).value,
        getattr(actor, "id", None),
    )
    if tell and to is not None:
        tell_resident(application, event)
    return event


def tell_resident(application: Application, event: ApplicationEvent) -> None:
    """Push the new state to the resident (and family holding an ``applications`` delegation), in this transaction."""
    item = item_names([application.item_id])[application.item_id]["name"]
    status = application.status
    if status is ApplicationStatus.completed:
        label = "已办结" if application.outcome is Outcome.approved else "未获批准"
        note = application.result or ""
    else:
        label = STATUS_LABELS[status]
        note = event.reason or ""
    if status is ApplicationStatus.correction and application.correction_materials:
        note = "请补正：" + "、".join(m["name"] for m in application.correction_materials)
    notify.notify(
        "govservice.application_status",
        [application.resident_id],
        {
            "application_id": application.public_id,
            "item": item,
            "status": label,
            "note": note or "详情请在办件进度中查看",
            "at": event.at,
        },
        source=("govservice_application", application.public_id),
        key=f"govservice:application:{application.id}:event:{event.id}",
    )
