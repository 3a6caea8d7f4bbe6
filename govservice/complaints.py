"""Complaints and suggestions (诉求): residents submit, staff accept or reject, dispatch (转办) to a department or a
grid worker, who replies; the resident confirms or reopens. Each category has a time limit in working days;
an unanswered complaint past it is escalated to the street. Open311 (``govservice.open311``) is a thin adapter
over the same functions.

Status flow::

    submitted ─accept→ accepted ─dispatch→ dispatched ─reply→ replied ─confirm→ resolved
        │                  └────────reply (staff)────────────↗   │  └─(no answer in N days)→ resolved
        └─reject→ rejected                         dispatched ←reopen┘
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app import audit, calendar, push
from app.accounts.households import active_household_ids
from app.accounts.models import User
from app.accounts.residents import require_resident, resident_for_user
from app.api import keyset_page
from app.auth.models import RoleAssignment
from app.auth.scopes import authorize, can, community_ids_for, register_action
from app.community.integrity import refusals
from app.community.models import Household, Region, RegionKind
from app.community.scope import region_ancestors
from app.community.services import get_community, get_region
from app.db import atomic
from app.extensions import db
from app.files import services as files
from govservice import clock
from govservice.complaint_errors import (
    ComplaintCategoryCodeTaken,
    ComplaintCategoryNotFound,
    ComplaintNotFound,
    ComplaintStateConflict,
    GridWorkerNotFound,
    HandlerRequired,
    NotACommunityMember,
    NotYourComplaintToAnswer,
)
from govservice.complaint_models import (
    CLOSED,
    RUNNING,
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    ComplaintKind,
    ComplaintSource,
    ComplaintStatus,
)
from govservice.departments import get_department, handled_department_ids

log = logging.getLogger(__name__)

#: Accept, reject, dispatch, answer any complaint of one's region; edit categories and Open311 clients.
MANAGE = "govservice.complaint.manage"
#: See the region's complaints (grid workers follow up door to door).
READ = "govservice.complaint.read"
#: Answer a complaint dispatched to one's department.
REPLY = "govservice.complaint.reply"

register_action(MANAGE, ("admin", "staff"))
register_action(READ, ("admin", "staff", "grid_worker", "handler", "head"))
register_action(REPLY, ("admin", "staff", "handler", "head"))

PHOTO_OWNER = "govservice_complaint"
MAX_PHOTOS = 6

STATUS_LABELS = {
    ComplaintStatus.submitted: "待受理",
    ComplaintStatus.rejected: "不予受理",
    ComplaintStatus.accepted: "已受理",
    ComplaintStatus.dispatched: "办理中",
    ComplaintStatus.replied: "已答复",
    ComplaintStatus.resolved: "已办结",
}

EVENT = "govservice.complaint_update"
push.register_event(
    EVENT,
    "诉求办理进度",
    channels=("inbox", "wechat"),
    template_id="GOV_COMPLAINT_PROGRESS",
    fields={"thing1": "category", "phrase2": "status", "thing3": "note"},
    scope="applications",
    title="您的诉求“{category}”{status}",
    body="您提交的“{category}”诉求{status}。{note}",
    page="pages/govservice/complaint?id={complaint_id}",
)


def _files_can_read(user, complaint_id: int) -> bool:
    complaint = db.session.get(Complaint, complaint_id)
    return complaint is not None and (_is_author(user, complaint) or _may_read(user, complaint))


files.register_owner_kind(PHOTO_OWNER, _files_can_read)


# --- categories ----------------------------------------------------------------------------------------------------


def categories_for_community(community: Region, *, active_only: bool = True) -> list[ComplaintCategory]:
    """Categories a community's residents may choose: those of the community and of every region above it."""
    query = sa.select(ComplaintCategory).where(ComplaintCategory.region_id.in_(region_ancestors([community.id])))
    if active_only:
        query = query.where(ComplaintCategory.active)
    return list(db.session.scalars(query.order_by(ComplaintCategory.code)))


def get_category(code_or_id: str) -> ComplaintCategory:
    category = db.session.scalar(
        sa.select(ComplaintCategory).where(
            sa.or_(ComplaintCategory.public_id == code_or_id, ComplaintCategory.code == code_or_id)
        )
    )
    if category is None:
        raise ComplaintCategoryNotFound()
    return category


def create_category(user, region_public_id: str, data: dict[str, Any]) -> ComplaintCategory:
    with atomic():
        region = get_region(region_public_id)
        authorize(user, MANAGE, region)
        category = ComplaintCategory(region_id=region.id, **data)
        with refusals(unique=ComplaintCategoryCodeTaken()):
            db.session.add(category)
        audit.record(
            "govservice.complaint_category.create", actor=user, target=("complaint_category", category.code), after=data
        )
        return category


def update_category(user, public_id: str, changes: dict[str, Any]) -> ComplaintCategory:
    with atomic():
        category = get_category(public_id)
        authorize(user, MANAGE, category, not_found=ComplaintCategoryNotFound)
        before = {key: getattr(category, key) for key in changes}
        for key, value in changes.items():
            setattr(category, key, value)
        db.session.flush()
        audit.record(
            "govservice.complaint_category.update",
            actor=user,
            target=("complaint_category", category.code),
            before=before,
            after=changes,
        )
        return category


# --- submitting ----------------------------------------------------------------------------------------------------


def _community_of_resident(resident, community: Region) -> None:
    """The resident must live in the community (an active household membership there) or be registered there."""
    if resident.registered_community_id == community.id:
        return
    household_ids = active_household_ids(resident.id)
    if household_ids and db.session.scalar(
        sa.select(sa.func.count()).where(Household.id.in_(household_ids), Household.community_id == community.id)
    ):
        return
    raise NotACommunityMember()


def _category_in(community: Region, category_code: str) -> ComplaintCategory:
    category = db.session.scalar(
        sa.select(ComplaintCategory).where(
            sa.or_(ComplaintCategory.code == category_code, ComplaintCategory.public_id == category_code),
            ComplaintCategory.active,
            ComplaintCategory.region_id.in_(region_ancestors([community.id])),
        )
    )
    if category is None:
        raise ComplaintCategoryNotFound()
    return category


def _record(complaint: Complaint, action: str, before: ComplaintStatus | None, *, actor=None, note=None) -> None:
    db.session.add(
        ComplaintEvent(
            complaint_id=complaint.id,
            action=action,
            from_status=before.value if before else None,
            to_status=complaint.status.value,
            actor_user_id=getattr(actor, "id", None),
            note=note,
        )
    )


def _tell_resident(complaint: Complaint, category: ComplaintCategory, note: str | None, key: str) -> None:
    if complaint.resident_id is None:
        return  # an Open311 caller follows it through the Open311 reads
    push.send(
        EVENT,
        [complaint.resident_id],
        {
            "category": category.name,
            "status": STATUS_LABELS[complaint.status],
            "note": (note or "")[:20] or "请在“我的诉求”中查看",
            "complaint_id": complaint.public_id,
        },
        source=("govservice_complaint", complaint.public_id),
        key=f"govservice.complaint:{complaint.public_id}:{key}",
    )


def submit(user, data: dict[str, Any]) -> Complaint:
    """A resident submits a complaint or suggestion in a community they live in (photos: their own uploads)."""
    with atomic():
        resident = require_resident(user)
        community = get_community(data["community_id"])
        _community_of_resident(resident, community)
        category = _category_in(community, data["category"])
        complaint = Complaint(
            community_id=community.id,
            category_id=category.id,
            kind=data.get("kind") or ComplaintKind.complaint,
            source=ComplaintSource.app,
            resident_id=resident.id,
            submitted_by_user_id=user.id,
            description=data["description"],
            location=data.get("location"),
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
        )
        db.session.add(complaint)
        db.session.flush()
        for file_id in data.get("photo_ids") or []:
            files.attach(file_id, PHOTO_OWNER, complaint.id, by_user=user)
        _record(complaint, "submit", None, actor=user)
        return complaint


def submit_from_open311(
    client, community: Region, category: ComplaintCategory, data: dict[str, Any], contact: bytes | None
) -> Complaint:
    """An Open311 client's request becomes a complaint waiting in the community's worklist like any other."""
    with atomic():
        complaint = Complaint(
            community_id=community.id,
            category_id=category.id,
            kind=ComplaintKind.complaint,
            source=ComplaintSource.open311,
            client_id=client.id,
            contact_ciphertext=contact,
            description=data["description"],
            location=data.get("address_string"),
            latitude=data.get("lat"),
            longitude=data.get("long"),
        )
        db.session.add(complaint)
        db.session.flush()
        _record(complaint, "submit", None, note=f"Open311：{client.name}")
        return complaint


# --- reading -------------------------------------------------------------------------------------------------------


def _get(public_id: str, *, lock: bool = False) -> Complaint:
    query = sa.select(Complaint).where(Complaint.public_id == public_id)
    if lock:
        query = query.with_for_update()
    complaint = db.session.scalar(query)
    if complaint is None:
        raise ComplaintNotFound()
    return complaint


def _is_author(user, complaint: Complaint) -> bool:
    if complaint.resident_id is None:
        return False
    own = resident_for_user(user)
    return own is not None and own.id == complaint.resident_id


def _may_read(user, complaint: Complaint) -> bool:
    return complaint.grid_worker_user_id == user.id or can(user, READ, complaint)


def mine(user, public_id: str) -> Complaint:
    """The author's own complaint (404 for anyone else)."""
    complaint = _get(public_id)
    if not _is_author(user, complaint):
        raise ComplaintNotFound()
    return complaint


def staff_read(user, public_id: str) -> Complaint:
    complaint = _get(public_id)
    if not _may_read(user, complaint):
        raise ComplaintNotFound()
    return complaint


def my_complaints(user, *, cursor: str | None, limit: int) -> dict[str, Any]:
    resident = require_resident(user)
    query = sa.select(Complaint).where(Complaint.resident_id == resident.id)
    return keyset_page(db.session, query, [Complaint.id], cursor=cursor, limit=limit)


def history(complaint: Complaint) -> list[ComplaintEvent]:
    return list(
        db.session.scalars(
            sa.select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id)
        )
    )


def worklist(
    user, *, status=None, community_id=None, category=None, department_id=None, overdue=None, escalated=None, pagination
) -> list[Complaint]:
    """Complaints the user may see: of their region (staff, grid workers), dispatched to a department they handle,
    or to themselves as grid worker; oldest first, filters combined with AND."""
    communities = community_ids_for(user, READ)
    departments = handled_department_ids(user, REPLY)
    if communities is None or departments is None:
        query = sa.select(Complaint)
    else:
        query = sa.select(Complaint).where(
            sa.or_(
                Complaint.community_id.in_(communities),
                Complaint.department_id.in_(departments),
                Complaint.grid_worker_user_id == user.id,
            )
        )
    if status is not None:
        query = query.where(Complaint.status == status)
    if community_id:
        query = query.where(Complaint.community_id == get_community(community_id).id)
    if category:
        query = query.where(Complaint.category_id == get_category(category).id)
    if department_id:
        query = query.where(Complaint.department_id == get_department(department_id).id)
    if overdue is not None:
        late = sa.and_(Complaint.status.in_(RUNNING), Complaint.due_on < clock.today())
        query = query.where(late if overdue else sa.not_(late))
    if escalated is not None:
        query = query.where(Complaint.escalated_at.isnot(None) if escalated else Complaint.escalated_at.is_(None))
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    return list(
        db.session.scalars(
            query.order_by(Complaint.created_at, Complaint.id).offset(pagination.first_item).limit(pagination.page_size)
        )
    )


def remaining_workdays(complaint: Complaint) -> int | None:
    """Working days left to answer (negative: how far overdue); None when the clock is not running."""
    if complaint.status not in RUNNING or complaint.due_on is None:
        return None
    return calendar.workdays_between(clock.today(), complaint.due_on)


# --- handling ------------------------------------------------------------------------------------------------------


def _staff_complaint(user, public_id: str, action: str = MANAGE) -> Complaint:
    complaint = _get(public_id, lock=True)
    authorize(user, action, complaint, not_found=ComplaintNotFound)
    return complaint


def _require_status(complaint: Complaint, *allowed: ComplaintStatus, action: str) -> ComplaintStatus:
    if complaint.status not in allowed:
        raise ComplaintStateConflict(details={"status": complaint.status.value, "action": action})
    return complaint.status


def _start_clock(complaint: Complaint) -> None:
    category = db.session.get(ComplaintCategory, complaint.category_id)
    complaint.due_on = calendar.add_workdays(clock.today(), category.time_limit_days)
    complaint.escalated_at = None
    complaint.escalated_region_id = None


def accept(user, public_id: str, *, note: str | None = None) -> Complaint:
    with atomic():
        complaint = _staff_complaint(user, public_id)
        before = _require_status(complaint, ComplaintStatus.submitted, action="accept")
        _start_clock(complaint)
        complaint.status = ComplaintStatus.accepted
        complaint.accepted_at = clock.now()
        _record(complaint, "accept", before, actor=user, note=note)
        _tell_resident(complaint, db.session.get(ComplaintCategory, complaint.category_id), note, "accept")
        return complaint


def reject(user, public_id: str, *, reason: str) -> Complaint:
    with atomic():
        complaint = _staff_complaint(user, public_id)
        before = _require_status(complaint, ComplaintStatus.submitted, action="reject")
        complaint.status = ComplaintStatus.rejected
        complaint.reject_reason = reason
        complaint.closed_at = clock.now()
        _record(complaint, "reject", before, actor=user, note=reason)
        _tell_resident(complaint, db.session.get(ComplaintCategory, complaint.category_id), reason, "reject")
        return complaint


def _grid_worker(public_id: str, complaint: Complaint) -> User:
    """A user holding ``grid_worker`` over the complaint's community or a region above it."""
    user = db.session.scalar(sa.select(User).where(User.public_id == public_id, User.is_active))
    if user is None:
        raise GridWorkerNotFound()
    holds = db.session.scalar(
        sa.select(sa.func.count()).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == "grid_worker",
            RoleAssignment.scope_kind == "community",
            RoleAssignment.scope_id.in_(region_ancestors([complaint.community_id])),
        )
    )
    if not holds:
        raise GridWorkerNotFound()
    return user


def dispatch(
    user, public_id: str, *, department_id: str | None, grid_worker_id: str | None, note: str | None = None
) -> Complaint:
    """转办 to one department or one grid worker; from ``submitted`` it accepts too (the clock starts)."""
    if bool(department_id) == bool(grid_worker_id):
        raise HandlerRequired()
    with atomic():
        complaint = _staff_complaint(user, public_id)
        before = _require_status(
            complaint,
            ComplaintStatus.submitted,
            ComplaintStatus.accepted,
            ComplaintStatus.dispatched,
            action="dispatch",
        )
        if department_id:
            department = get_department(department_id)
            from govservice.department_models import DepartmentInactive

            if not department.is_active:
                raise DepartmentInactive()
            # Only a department of the complaint's community or of a region above it.
            if department.region_id not in region_ancestors([complaint.community_id]):
                from govservice.department_models import DepartmentNotFound

                raise DepartmentNotFound()
            complaint.department_id, complaint.grid_worker_user_id = department.id, None
            target = department.name
        else:
            worker = _grid_worker(grid_worker_id, complaint)
            complaint.department_id, complaint.grid_worker_user_id = None, worker.id
            target = f"网格员 {worker.display_name}"
        if before is ComplaintStatus.submitted:
            complaint.accepted_at = clock.now()
            _start_clock(complaint)
        complaint.status = ComplaintStatus.dispatched
        _record(complaint, "dispatch", before, actor=user, note=f"转办至{target}" + (f"：{note}" if note else ""))
        if before is ComplaintStatus.submitted:
            _tell_resident(complaint, db.session.get(ComplaintCategory, complaint.category_id), None, "accept")
        return complaint


def reply(user, public_id: str, *, text: str) -> Complaint:
    """The handler answers: the department it went to, the grid worker it went to, or staff of the region."""
    with atomic():
        complaint = _get(public_id, lock=True)
        if not _may_read(user, complaint) and not can(user, REPLY, complaint):
            raise ComplaintNotFound()
        allowed = (
            complaint.grid_worker_user_id == user.id
            or can(user, MANAGE, complaint)
            or (complaint.department_id is not None and can(user, REPLY, complaint))
        )
        if not allowed:
            raise NotYourComplaintToAnswer()
        before = _require_status(complaint, ComplaintStatus.accepted, ComplaintStatus.dispatched, action="reply")
        complaint.status = ComplaintStatus.replied
        complaint.reply = text
        complaint.replied_by_user_id = user.id
        complaint.replied_at = clock.now()
        _record(complaint, "reply", before, actor=user, note=text)
        _tell_resident(
            complaint, db.session.get(ComplaintCategory, complaint.category_id), text, f"reply:{complaint.reopen_count}"
        )
        return complaint


def confirm(user, public_id: str, *, rating: int | None = None, comment: str | None = None) -> Complaint:
    """The resident accepts the answer (and may rate it); the complaint is resolved."""
    with atomic():
        complaint = _get(public_id, lock=True)
        if not _is_author(user, complaint):
            raise ComplaintNotFound()
        before = _require_status(complaint, ComplaintStatus.replied, action="confirm")
        complaint.status = ComplaintStatus.resolved
        complaint.closed_at = clock.now()
        complaint.rating, complaint.rating_comment = rating, comment
        _record(complaint, "confirm", before, actor=user, note=comment)
        return complaint


def reopen(user, public_id: str, *, reason: str) -> Complaint:
    """The resident is not satisfied: back to whoever answered, counted, with a fresh time limit."""
    with atomic():
        complaint = _get(public_id, lock=True)
        if not _is_author(user, complaint):
            raise ComplaintNotFound()
        before = _require_status(complaint, ComplaintStatus.replied, action="reopen")
        handled = complaint.department_id is not None or complaint.grid_worker_user_id is not None
        _start_clock(complaint)
        complaint.status = ComplaintStatus.dispatched if handled else ComplaintStatus.accepted
        complaint.reopen_count += 1
        complaint.reply = None
        _record(complaint, "reopen", before, actor=user, note=reason)
        return complaint


# --- jobs ----------------------------------------------------------------------------------------------------------


def _street_of(community_id: int) -> int | None:
    return db.session.scalar(
        sa.select(Region.id).where(Region.id.in_(region_ancestors([community_id])), Region.kind == RegionKind.street)
    )


def escalate_overdue() -> int:
    """Flag every running complaint past its last working day to the street above its community (督办), once."""
    today = clock.today()
    escalated = 0
    with atomic():
        rows = db.session.scalars(
            sa.select(Complaint)
            .where(Complaint.status.in_(RUNNING), Complaint.due_on < today, Complaint.escalated_at.is_(None))
            .with_for_update(skip_locked=True)
        ).all()
        for complaint in rows:
            complaint.escalated_at = clock.now()
            complaint.escalated_region_id = _street_of(complaint.community_id)
            _record(complaint, "escalate", complaint.status, note=f"超过办理时限（{complaint.due_on}），上报街道督办")
            escalated += 1
    if escalated:
        log.info("escalated %d overdue complaints", escalated)
    return escalated


def close_unconfirmed() -> int:
    """Resolve answers the resident left unconfirmed for the confirmation period."""
    days = current_app.config["GOVSERVICE_COMPLAINT_CONFIRM_DAYS"]
    cutoff = clock.now() - timedelta(days=days)
    closed = 0
    with atomic():
        rows = db.session.scalars(
            sa.select(Complaint)
            .where(Complaint.status == ComplaintStatus.replied, Complaint.replied_at < cutoff)
            .with_for_update(skip_locked=True)
        ).all()
        for complaint in rows:
            complaint.status = ComplaintStatus.resolved
            complaint.closed_at = clock.now()
            _record(complaint, "auto_close", ComplaintStatus.replied, note=f"{days} 天内未确认，自动办结")
            closed += 1
    return closed


def is_closed(complaint: Complaint) -> bool:
    return complaint.status in CLOSED
