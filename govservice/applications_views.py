"""Applications as residents and staff see them: state, term (remaining or overdue working days), materials,
departments, history and rating. Lists load everything in a fixed number of queries, whatever the page size."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.accounts.households import mask_name
from app.accounts.models import User
from app.accounts.resident_models import Resident
from app.extensions import db
from app.files.models import StoredFile
from govservice import applications_deadline as deadline
from govservice import clock
from govservice.application_models import (
    STATUS_LABELS,
    Application,
    ApplicationEvent,
    ApplicationMaterial,
    ApplicationRating,
    ApplicationTask,
)
from govservice.booking_views import item_names
from govservice.department_models import Department
from govservice.models import Centre


def views(applications: list[Application], *, staff: bool = False, detail: bool = False) -> list[dict[str, Any]]:
    """Applications for display: list rows in five queries; ``detail`` adds materials and history (three more)."""
    if not applications:
        return []
    ids = [a.id for a in applications]
    today = clock.today()
    centres = {
        c.id: c for c in db.session.scalars(sa.select(Centre).where(Centre.id.in_({a.centre_id for a in applications})))
    }
    items = item_names([a.item_id for a in applications])
    residents = {
        r.id: r
        for r in db.session.scalars(sa.select(Resident).where(Resident.id.in_({a.resident_id for a in applications})))
    }
    tasks: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for task, department in db.session.execute(
        sa.select(ApplicationTask, Department)
        .join(Department, Department.id == ApplicationTask.department_id)
        .where(ApplicationTask.application_id.in_(ids))
        .order_by(ApplicationTask.application_id, ApplicationTask.position)
    ):
        tasks[task.application_id].append(
            {
                "department": {"id": department.public_id, "name": department.name, "code": department.code},
                "position": task.position,
                "status": task.status,
                "result": task.result,
                "activated_at": task.activated_at,
                "decided_at": task.decided_at,
            }
        )
    ratings = {
        r.application_id: r
        for r in db.session.scalars(sa.select(ApplicationRating).where(ApplicationRating.application_id.in_(ids)))
    }
    result = []
    for application in applications:
        centre, resident = centres[application.centre_id], residents[application.resident_id]
        rating = ratings.get(application.id)
        row = {
            "id": application.public_id,
            "status": application.status,
            "status_label": STATUS_LABELS[application.status],
            "via": application.via,
            "item": items[application.item_id],
            "centre": {"id": centre.public_id, "name": centre.name},
            "resident": {
                "id": resident.public_id,
                "name": resident.real_name if staff else mask_name(resident.real_name),
            },
            "reason": application.reason,
            "correction_materials": application.correction_materials,
            "routing_mode": application.routing_mode,
            "departments": tasks[application.id],
            "outcome": application.outcome,
            "result": application.result,
            "term": deadline.timing(application, today),
            "rating": {"score": rating.score, "comment": rating.comment, "created_at": rating.created_at}
            if rating
            else None,
            "submitted_at": application.submitted_at,
            "accepted_at": application.accepted_at,
            "completed_at": application.completed_at,
            "ended_at": application.ended_at,
        }
        if detail:
            row["form"] = application.form
        result.append(row)
    if detail:
        _add_detail(result, applications, staff=staff)
    return result


def _add_detail(rows: list[dict[str, Any]], applications: list[Application], *, staff: bool) -> None:
    ids = [a.id for a in applications]
    materials: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for material, file_public_id, content_type in db.session.execute(
        sa.select(ApplicationMaterial, StoredFile.public_id, StoredFile.content_type)
        .outerjoin(StoredFile, StoredFile.id == ApplicationMaterial.file_id)
        .where(ApplicationMaterial.application_id.in_(ids))
        .order_by(ApplicationMaterial.application_id, ApplicationMaterial.round, ApplicationMaterial.id)
    ):
        materials[material.application_id].append(
            {
                "code": material.code,
                "name": material.name,
                "source": material.source,
                "file_id": file_public_id,
                "content_type": content_type,
                "profile_fact": material.profile_fact,
                "round": material.round,
            }
        )
    history: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for event, actor_name, department_name in db.session.execute(
        sa.select(ApplicationEvent, User.display_name, Department.name)
        .outerjoin(User, User.id == ApplicationEvent.actor_user_id)
        .outerjoin(Department, Department.id == ApplicationEvent.department_id)
        .where(ApplicationEvent.application_id.in_(ids))
        .order_by(ApplicationEvent.application_id, ApplicationEvent.id)
    ):
        history[event.application_id].append(
            {
                "action": event.action,
                "from_status": event.from_status,
                "to_status": event.to_status,
                "actor": actor_name if staff else None,
                "department": department_name,
                "reason": event.reason,
                "details": event.details if staff else {},
                "at": event.at,
            }
        )
    for row, application in zip(rows, applications, strict=True):
        row["materials"] = materials[application.id]
        row["history"] = history[application.id]


def view(application: Application, *, staff: bool = False) -> dict[str, Any]:
    return views([application], staff=staff, detail=True)[0]
