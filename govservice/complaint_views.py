"""What residents and staff see of complaints: batch-loaded names (a page costs the same statements at any size)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from app.accounts import crypto
from app.accounts.models import User
from app.accounts.resident_models import Resident
from app.accounts.residents import account_phone, mask_phone
from app.community.models import Region
from app.extensions import db
from app.files import services as files
from govservice import complaints
from govservice.complaint_models import Complaint, ComplaintCategory
from govservice.department_models import Department


def _by_id(model, ids: set[int], *columns) -> dict[int, Any]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row[0]: row for row in db.session.execute(sa.select(model.id, *columns).where(model.id.in_(ids)))}


def views(rows: list[Complaint]) -> list[dict[str, Any]]:
    categories = _by_id(
        ComplaintCategory, {r.category_id for r in rows}, ComplaintCategory.code, ComplaintCategory.name
    )
    communities = _by_id(Region, {r.community_id for r in rows}, Region.public_id, Region.name)
    departments = _by_id(Department, {r.department_id for r in rows}, Department.public_id, Department.name)
    workers = _by_id(User, {r.grid_worker_user_id for r in rows}, User.public_id, User.display_name)
    out = []
    for row in rows:
        category, community = categories[row.category_id], communities[row.community_id]
        item = {
            "id": row.public_id,
            "kind": row.kind.value,
            "source": row.source.value,
            "category": {"code": category.code, "name": category.name},
            "community": {"id": community.public_id, "name": community.name},
            "description": row.description,
            "location": row.location,
            "latitude": row.latitude,
            "longitude": row.longitude,
            "status": row.status,
            "status_label": complaints.STATUS_LABELS[row.status],
            "reject_reason": row.reject_reason,
            "department": (
                {"id": departments[row.department_id].public_id, "name": departments[row.department_id].name}
                if row.department_id
                else None
            ),
            "grid_worker": (
                {
                    "id": workers[row.grid_worker_user_id].public_id,
                    "name": workers[row.grid_worker_user_id].display_name,
                }
                if row.grid_worker_user_id
                else None
            ),
            "reply": row.reply,
            "replied_at": row.replied_at,
            "due_on": row.due_on,
            "remaining_workdays": complaints.remaining_workdays(row),
            "escalated": row.escalated_at is not None,
            "reopen_count": row.reopen_count,
            "rating": row.rating,
            "rating_comment": row.rating_comment,
            "created_at": row.created_at,
            "closed_at": row.closed_at,
        }
        out.append(item)
    return out


def _contact(row: Complaint, resident: Resident | None) -> dict[str, Any]:
    """Who to call back: the resident (masked phone), or an Open311 caller's details (decrypted, for staff)."""
    if resident is not None:
        return {"name": resident.real_name, "phone": mask_phone(account_phone(resident))}
    if row.contact_ciphertext:
        data = json.loads(crypto.decrypt(row.contact_ciphertext, purpose="govservice.open311.contact"))
        name = "".join(filter(None, (data.get("last_name"), data.get("first_name")))) or None
        return {"name": name, "phone": mask_phone(data.get("phone"))}
    return {"name": None, "phone": None}


def detail(row: Complaint, *, staff: bool, user) -> dict[str, Any]:
    item = views([row])[0]
    if staff:
        item["contact"] = _contact(row, db.session.get(Resident, row.resident_id) if row.resident_id else None)
    events = complaints.history(row)
    actors = _by_id(User, {e.actor_user_id for e in events}, User.display_name)
    item["history"] = [
        {
            "action": event.action,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "actor": actors[event.actor_user_id].display_name if event.actor_user_id in actors else None,
            "note": event.note,
            "at": event.created_at,
        }
        for event in events
    ]
    item["photos"] = [files.describe_file(f, user=user) for f in files.files_of(complaints.PHOTO_OWNER, row.id)]
    return item
