"""Staff worklists of online applications: a centre's queues (待预审, 待受理, 待补正, 部门办理, 特别程序, 即将超期,
已超期) and a department's own (active, waiting, done). Page numbers with totals (``X-Pagination``); each page is
built in a fixed number of queries."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from app import calendar
from app.extensions import db
from govservice import applications_views, centres, clock, departments
from govservice.application_models import RUNNING, Application, ApplicationStatus, ApplicationTask, TaskStatus
from govservice.errors import GuideNotFound
from govservice.models import GuideItem
from govservice.permissions import APPLICATION_REVIEW

#: Queues of a centre's worklist: a state, or the deadline views.
CENTRE_QUEUES = (
    "pending_review",
    "awaiting_acceptance",
    "correction",
    "accepted",
    "processing",
    "special",
    "due_soon",
    "overdue",
    "closed",
    "all",
)
DEPARTMENT_QUEUES = ("active", "waiting", "done", "all")


def _page(query, order_by, pagination) -> list[Application]:
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    return list(db.session.scalars(query.order_by(*order_by).offset(pagination.first_item).limit(pagination.page_size)))


def centre_worklist(
    user, centre_public_id: str, *, queue: str, item_id: str | None, pagination
) -> list[dict[str, Any]]:
    """A centre's applications in one queue.

    ``due_soon``: running (受理 or 部门办理), due within ``GOVSERVICE_DUE_SOON_WORKDAYS`` working days, not overdue;
    ``overdue``: running and past the due day (paused ones are neither: their clock is stopped).
    """
    centre = centres.staff_centre(user, centre_public_id, APPLICATION_REVIEW)
    query = sa.select(Application).where(Application.centre_id == centre.id)
    if item_id:
        item = db.session.scalar(
            sa.select(GuideItem.id).where(GuideItem.public_id == item_id, GuideItem.centre_id == centre.id)
        )
        if item is None:
            raise GuideNotFound()
        query = query.where(Application.item_id == item)
    today = clock.today()
    order = [Application.submitted_at, Application.id]
    if queue == "due_soon":
        horizon = calendar.add_workdays(today, int(current_app.config["GOVSERVICE_DUE_SOON_WORKDAYS"]))
        query = query.where(Application.status.in_(RUNNING), Application.due_on.between(today, horizon))
        order = [Application.due_on, Application.id]
    elif queue == "overdue":
        query = query.where(Application.status.in_(RUNNING), Application.due_on < today)
        order = [Application.due_on, Application.id]
    elif queue == "closed":
        query = query.where(Application.ended_at.is_not(None))
        order = [Application.ended_at.desc(), Application.id.desc()]
    elif queue != "all":
        query = query.where(Application.status == ApplicationStatus(queue))
    return applications_views.views(_page(query, order, pagination), staff=True)


def department_worklist(user, department_public_id: str, *, queue: str, pagination) -> list[dict[str, Any]]:
    """Applications routed to a department: ``active`` (its turn now), ``waiting`` (serial, an earlier department
    first), ``done`` (decided or cancelled), ``all``. Most urgent first."""
    department = departments.department_for(user, department_public_id, departments.READ)
    statuses = {
        "active": (TaskStatus.active,),
        "waiting": (TaskStatus.waiting,),
        "done": (TaskStatus.approved, TaskStatus.denied, TaskStatus.cancelled),
        "all": tuple(TaskStatus),
    }[queue]
    query = (
        sa.select(Application)
        .join(ApplicationTask, ApplicationTask.application_id == Application.id)
        .where(ApplicationTask.department_id == department.id, ApplicationTask.status.in_(statuses))
    )
    return applications_views.views(
        _page(query, [Application.due_on.nulls_last(), Application.submitted_at, Application.id], pagination),
        staff=True,
    )
