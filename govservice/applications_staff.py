"""Use cases of online applications on the staff side: 预审 (pass or return), 受理 / 不予受理, 补正, dispatch to the
departments an item routes to (部门办理), the departments' decisions, 特别程序, 办结, and each item's routing.

Every public function here is one unit of work that locks the application row first, so concurrent acts on one
application are serialised (two handlers deciding the last parallel department at once make one 办结).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app import audit
from app.auth.scopes import authorize
from app.community.scope import region_ancestors
from app.db import atomic
from app.extensions import db
from govservice import applications_deadline as deadline
from govservice import centres, clock, departments, guides
from govservice.application_models import (
    Application,
    ApplicationNotFound,
    ApplicationStatus,
    ApplicationTask,
    ItemRouting,
    ItemRoutingDepartment,
    MaterialUnknown,
    NotRoutable,
    Outcome,
    RoutingConfigured,
    RoutingMode,
    TaskNotActive,
    TaskStatus,
)
from govservice.applications_flow import check_from, lock_application, transition
from govservice.department_models import Department, DepartmentInactive, DepartmentNotFound
from govservice.models import Centre, GuideMaterial
from govservice.permissions import APPLICATION_REVIEW, APPLICATION_SPECIAL, MANAGE

log = logging.getLogger(__name__)

S = ApplicationStatus


def staff_application(user, public_id: str, action: str = APPLICATION_REVIEW) -> Application:
    """The application, locked, if ``user`` may ``action`` on it: 404 outside their scopes, 403 inside without the
    role."""
    application = lock_application(public_id)
    authorize(user, action, application, not_found=ApplicationNotFound)
    return application


# --- 预审 and 受理 --------------------------------------------------------------------------------------------------


def pass_review(user, public_id: str, *, note: str | None) -> Application:
    """预审通过: the application waits for formal acceptance (待受理)."""
    with atomic():
        application = staff_application(user, public_id)
        transition(
            application,
            S.awaiting_acceptance,
            action="pass_review",
            actor=user,
            allowed_from=(S.pending_review,),
            reason=note,
        )
        return application


def return_application(user, public_id: str, *, reason: str) -> Application:
    """预审退回 with a reason: the application closes; the resident may apply again."""
    with atomic():
        application = staff_application(user, public_id)
        transition(
            application,
            S.returned,
            action="return",
            actor=user,
            allowed_from=(S.pending_review,),
            reason=reason,
            values={"ended_at": clock.now()},
        )
        return application


def accept(user, public_id: str, *, note: str | None) -> Application:
    """受理: the promised term starts the next day."""
    with atomic():
        application = staff_application(user, public_id)
        now, today = clock.now(), clock.today()
        transition(
            application,
            S.accepted,
            action="accept",
            actor=user,
            allowed_from=(S.pending_review, S.awaiting_acceptance),
            reason=note,
            values={
                "accepted_at": now,
                "accepted_on": today,
                "due_on": deadline.due_on(today, application.promised_days, 0),
            },
        )
        return application


def refuse(user, public_id: str, *, reason: str) -> Application:
    """不予受理 with a reason (the application closes)."""
    with atomic():
        application = staff_application(user, public_id)
        transition(
            application,
            S.rejected,
            action="refuse",
            actor=user,
            allowed_from=(S.pending_review, S.awaiting_acceptance),
            reason=reason,
            values={"ended_at": clock.now()},
        )
        return application


def request_correction(user, public_id: str, *, reason: str, material_codes: list[str]) -> Application:
    """补正: list the materials to supply; the clock stops until the resident supplies them.

    :raises MaterialUnknown: (422) a code the guide does not list.
    """
    with atomic():
        application = staff_application(user, public_id)
        names = dict(
            db.session.execute(
                sa.select(GuideMaterial.code, GuideMaterial.name).where(
                    GuideMaterial.version_id == application.version_id
                )
            ).all()
        )
        unknown = sorted(set(material_codes) - set(names))
        if unknown:
            raise MaterialUnknown(details={"materials": unknown})
        codes = list(dict.fromkeys(material_codes))
        transition(
            application,
            S.correction,
            action="request_correction",
            actor=user,
            allowed_from=(S.accepted,),
            reason=reason,
            details={"materials": codes},
            values={"correction_materials": [{"code": code, "name": names[code]} for code in codes]},
            then=lambda: deadline.pause(application, clock.today()),
        )
        return application


# --- 特别程序 -------------------------------------------------------------------------------------------------------


def start_special(user, public_id: str, *, reason: str) -> Application:
    """特别程序 (听证、检验检测、专家评审 …): the clock stops until it ends."""
    with atomic():
        application = staff_application(user, public_id, APPLICATION_SPECIAL)
        resume_to = application.status
        transition(
            application,
            S.special,
            action="start_special",
            actor=user,
            allowed_from=(S.accepted, S.processing),
            reason=reason,
            values={"resume_status": resume_to.value},
            then=lambda: deadline.pause(application, clock.today()),
        )
        return application


def end_special(user, public_id: str, *, note: str | None) -> Application:
    with atomic():
        application = staff_application(user, public_id, APPLICATION_SPECIAL)
        check_from(application, "end_special", (S.special,))
        back = S(application.resume_status)
        with db.session.no_autoflush:
            paused = deadline.resume(application, clock.today())
            application.resume_status = None
            transition(
                application, back, action="end_special", actor=user, reason=note, details={"paused_workdays": paused}
            )
        return application


# --- departments ---------------------------------------------------------------------------------------------------


def routing_of(item_id: int) -> tuple[RoutingMode, list[Department]] | None:
    routing = db.session.get(ItemRouting, item_id)
    if routing is None:
        return None
    rows = db.session.scalars(
        sa.select(Department)
        .join(ItemRoutingDepartment, ItemRoutingDepartment.department_id == Department.id)
        .where(ItemRoutingDepartment.item_id == item_id)
        .order_by(ItemRoutingDepartment.position)
    ).all()
    return (routing.mode, list(rows)) if rows else None


def get_routing(user, item_public_id: str) -> dict[str, Any]:
    """An item's routing, with the departments it may be routed to (active ones of the centre's region and above)."""
    item = guides.get_item(item_public_id)
    centre = centres.staff_centre(user, db.session.get(Centre, item.centre_id).public_id, MANAGE)
    found = routing_of(item.id)
    available = db.session.scalars(
        sa.select(Department)
        .options(selectinload(Department.region))
        .where(Department.region_id.in_(region_ancestors([centre.region_id])), Department.is_active)
        .order_by(Department.region_id, Department.code)
    ).all()
    return {**routing_view(item.public_id, found), "available_departments": list(available)}


def routing_view(item_public_id: str, found) -> dict[str, Any]:
    mode, rows = found if found else (None, [])
    return {"item_id": item_public_id, "mode": mode, "departments": rows}


def set_routing(user, item_public_id: str, *, mode: RoutingMode, department_ids: list[str]) -> dict[str, Any]:
    """Configure which departments an item's accepted applications go to, and whether in parallel or in order.

    Departments must belong to the centre's region or a region above it (a community centre may route to its
    street's departments). An empty list removes the routing (centre staff then complete applications themselves).
    Applications already dispatched keep the routing they got.
    """
    with atomic():
        item = guides.get_item(item_public_id)
        centre = centres.staff_centre(user, db.session.get(Centre, item.centre_id).public_id, MANAGE)
        wanted = list(dict.fromkeys(department_ids))
        found = (
            {d.public_id: d for d in db.session.scalars(sa.select(Department).where(Department.public_id.in_(wanted)))}
            if wanted
            else {}
        )
        allowed_regions = region_ancestors([centre.region_id])
        bad = [p for p in wanted if p not in found or found[p].region_id not in allowed_regions]
        if bad:
            raise DepartmentNotFound("部门不存在，或不属于本中心所在辖区及其上级", details={"department_ids": bad})
        inactive = [p for p in wanted if not found[p].is_active]
        if inactive:
            raise DepartmentInactive(details={"department_ids": inactive})
        db.session.execute(sa.delete(ItemRoutingDepartment).where(ItemRoutingDepartment.item_id == item.id))
        db.session.execute(sa.delete(ItemRouting).where(ItemRouting.item_id == item.id))
        if wanted:
            db.session.add(ItemRouting(item_id=item.id, mode=mode, updated_by_user_id=user.id))
            db.session.flush()
            db.session.add_all(
                ItemRoutingDepartment(item_id=item.id, position=n, department_id=found[p].id)
                for n, p in enumerate(wanted, start=1)
            )
            db.session.flush()
        audit.record(
            "govservice.item.routing",
            actor=user,
            target=("govservice_item", item.public_id),
            after={"mode": mode.value, "departments": wanted},
        )
        return routing_view(item.public_id, (mode, [found[p] for p in wanted]) if wanted else None)


def dispatch(user, public_id: str, *, note: str | None) -> Application:
    """部门办理: send an accepted application to the item's departments (all at once, or the first in order).

    :raises NotRoutable: (409 ``routing_not_configured``) the item has no departments; complete it directly.
    :raises DepartmentInactive: (409) a department of the routing was deactivated since.
    """
    with atomic():
        application = staff_application(user, public_id)
        check_from(application, "dispatch", (S.accepted,))
        found = routing_of(application.item_id)
        if found is None:
            raise NotRoutable()
        mode, rows = found
        inactive = [d.public_id for d in rows if not d.is_active]
        if inactive:
            raise DepartmentInactive("事项配置的办理部门已停用，请先调整办理部门", details={"department_ids": inactive})
        now = clock.now()
        for position, department in enumerate(rows, start=1):
            active = mode is RoutingMode.parallel or position == 1
            db.session.add(
                ApplicationTask(
                    application_id=application.id,
                    department_id=department.id,
                    region_id=department.region_id,
                    position=position,
                    status=TaskStatus.active if active else TaskStatus.waiting,
                    activated_at=now if active else None,
                )
            )
        application.routing_mode = mode
        application.__dict__.pop("_department_ids", None)
        transition(
            application,
            S.processing,
            action="dispatch",
            actor=user,
            reason=note,
            details={"mode": mode.value, "departments": [d.public_id for d in rows]},
        )
        return application


def decide_task(user, public_id: str, department_public_id: str, *, outcome: Outcome, result: str) -> Application:
    """A department's decision on its part. Parallel: 办结 once every department approved; the first denial denies
    at once (the other parts are cancelled). Serial: an approval passes it to the next department, the last one's
    approval completes it, a denial denies.

    :raises TaskNotActive: (409) the department has nothing active on this application (waiting its turn, already
        decided, or cancelled). :raises InvalidTransition: (409) the application is not 部门办理 (e.g. 特别程序).
    """
    with atomic():
        application = lock_application(public_id)
        task = db.session.scalar(
            sa.select(ApplicationTask)
            .join(Department, Department.id == ApplicationTask.department_id)
            .where(ApplicationTask.application_id == application.id, Department.public_id == department_public_id)
        )
        if task is None:
            authorize(user, APPLICATION_REVIEW, application, not_found=ApplicationNotFound)
            raise DepartmentNotFound("该办件未转到此部门")
        authorize(user, departments.HANDLE, task, not_found=ApplicationNotFound)
        check_from(application, "department_decide", (S.processing,))
        if task.status is not TaskStatus.active:
            raise TaskNotActive(details={"status": task.status.value})
        now = clock.now()
        task.status = TaskStatus(outcome.value)
        task.result, task.decided_at, task.decided_by_user_id = result, now, user.id
        db.session.flush()
        transition(
            application,
            None,
            action="department_decide",
            actor=user,
            department_id=task.department_id,
            reason=result,
            details={"outcome": outcome.value, "department": department_public_id},
            tell=False,
        )
        tasks = db.session.scalars(
            sa.select(ApplicationTask)
            .where(ApplicationTask.application_id == application.id)
            .order_by(ApplicationTask.position)
        ).all()
        if outcome is Outcome.denied:
            for other in tasks:
                if other.status in (TaskStatus.waiting, TaskStatus.active):
                    other.status = TaskStatus.cancelled
            _complete(application, user, Outcome.denied, result)
        elif application.routing_mode is RoutingMode.serial and (
            following := next((t for t in tasks if t.status is TaskStatus.waiting), None)
        ):
            following.status, following.activated_at = TaskStatus.active, now
        elif all(t.status is TaskStatus.approved for t in tasks):
            _complete(application, user, Outcome.approved, "；".join(t.result for t in tasks if t.result))
        db.session.flush()
        return application


def complete(user, public_id: str, *, outcome: Outcome, result: str) -> Application:
    """办结 by centre staff, for an item routed to no department.

    :raises RoutingConfigured: (409) the item has departments: they complete it.
    """
    with atomic():
        application = staff_application(user, public_id)
        check_from(application, "complete", (S.accepted,))
        if routing_of(application.item_id) is not None:
            raise RoutingConfigured()
        _complete(application, user, outcome, result)
        return application


def _complete(application: Application, user, outcome: Outcome, result: str) -> None:
    now, today = clock.now(), clock.today()
    transition(
        application,
        S.completed,
        action="complete",
        actor=user,
        allowed_from=(S.accepted, S.processing),
        values={"outcome": outcome, "result": result, "completed_at": now, "ended_at": now},
        then=lambda: deadline.finish(application, today),
        details={"outcome": outcome.value},
    )
