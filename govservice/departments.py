"""Back-office departments: the ``department`` scope kind, its actions, lookups other code calls, and staff CRUD.

A department belongs to a district, street or community. Its people hold ``handler`` or ``head`` over
``("department", department.id)``; that scope contains the department and every record naming it (``department_id``,
or ``scope_department_ids()`` for a record routed to several departments). Staff of the department's region, or of a
region above it, reach it through the ``community`` scope kind and may act too; anyone else gets 404.

Public functions (used by applications and by complaints dispatch): ``get_department``, ``department_for``,
``handles``, ``handled_department_ids``.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased, selectinload

from app import audit
from app.accounts.models import User
from app.auth.models import RoleAssignment
from app.auth.scopes import ACTIONS, assignments_of, authorize, can, register_action, register_scope_kind
from app.community.integrity import refusals
from app.community.models import Region
from app.community.services import get_region
from app.db import atomic
from app.errors import NotFound
from app.extensions import db
from govservice.department_models import Department, DepartmentCodeTaken, DepartmentInUse, DepartmentNotFound

log = logging.getLogger(__name__)

SCOPE_KIND = "department"
#: Roles held over a department.
DEPARTMENT_ROLES = ("handler", "head")
ROLE_LABELS = {"handler": "经办人", "head": "部门负责人"}
COMMUNITY_STAFF = ("admin", "staff")

#: Create, edit, delete departments and give people their roles there (staff of the region or above).
MANAGE = "govservice.department.manage"
#: See a department and the work routed to it.
READ = "govservice.department.read"
#: Work a department's records: accept, reply, complete (its handlers and head, and staff of the region above).
HANDLE = "govservice.department.handle"
#: What only the head (or region staff) may do, e.g. start a 特别程序 or approve an extension.
LEAD = "govservice.department.lead"


def _contains(scope_id: int | None, entity: Any) -> bool:
    if scope_id is None:
        return False
    method = getattr(entity, "scope_department_ids", None)
    if callable(method):
        return scope_id in method()
    return getattr(entity, "department_id", None) == scope_id


register_scope_kind(SCOPE_KIND, contains=_contains, resolve_community_ids=lambda _scope_id: frozenset())

for _action, _roles in {
    MANAGE: COMMUNITY_STAFF,
    READ: (*COMMUNITY_STAFF, *DEPARTMENT_ROLES),
    HANDLE: (*COMMUNITY_STAFF, *DEPARTMENT_ROLES),
    LEAD: (*COMMUNITY_STAFF, "head"),
}.items():
    register_action(_action, _roles)

FIELDS = ("name", "code", "phone", "is_active")


# --- lookups other code calls --------------------------------------------------------------------------------------


def get_department(public_id: str) -> Department:
    """The department with this public id.

    :raises DepartmentNotFound: none has it.
    """
    department = db.session.scalar(sa.select(Department).where(Department.public_id == public_id))
    if department is None:
        raise DepartmentNotFound()
    return department


def department_for(user, public_id: str, action: str = HANDLE, *, lock: bool = False) -> Department:
    """A department ``user`` may ``action`` on (its handlers/head, or staff of its region or above).

    :raises DepartmentNotFound: it does not exist or lies outside every scope the user holds (404).
    :raises Forbidden: inside a scope, but the user's roles there do not allow ``action`` (403).
    """
    department = get_department(public_id)
    authorize(user, action, department, not_found=DepartmentNotFound)
    if lock:
        db.session.execute(sa.select(Department.id).where(Department.id == department.id).with_for_update())
    return department


def handles(user, department: Department, action: str = HANDLE) -> bool:
    """Whether ``user`` may ``action`` on ``department``'s work (department role, or region staff above it)."""
    return can(user, action, department)


def handled_department_ids(user, action: str = HANDLE) -> frozenset[int] | None:
    """Ids of the departments whose work ``user`` may ``action`` on, for list filters (``None``: every department).

    Direct ``handler``/``head`` roles count, and so do community roles over the department's region or a region above.
    """
    allowed = ACTIONS[action]
    direct: set[int] = set()
    regions: set[int] = set()
    for item in assignments_of(user):
        if item.role not in allowed:
            continue
        if item.scope_kind == "platform":
            return None
        if item.scope_kind == SCOPE_KIND and item.scope_id is not None:
            direct.add(item.scope_id)
        elif item.scope_kind == "community" and item.scope_id is not None:
            regions.add(item.scope_id)
    if regions:
        down = sa.select(Region.id).where(Region.id.in_(regions)).cte("down", recursive=True)
        child = aliased(Region)
        down = down.union(sa.select(child.id).join(down, child.parent_id == down.c.id))
        direct.update(
            db.session.scalars(sa.select(Department.id).where(Department.region_id.in_(sa.select(down.c.id))))
        )
    return frozenset(direct)


def department_views(ids: list[int]) -> dict[int, Department]:
    """Departments by id (one query)."""
    if not ids:
        return {}
    return {d.id: d for d in db.session.scalars(sa.select(Department).where(Department.id.in_(set(ids))))}


# --- staff CRUD ----------------------------------------------------------------------------------------------------


def list_departments(user, *, region_public_id: str | None, pagination) -> list[Department]:
    """Departments the caller may read, by region then code (page pagination with totals)."""
    ids = handled_department_ids(user, READ)
    query = sa.select(Department).options(selectinload(Department.region))
    if ids is not None:
        query = query.where(Department.id.in_(ids))
    if region_public_id:
        query = query.where(Department.region_id == get_region(region_public_id).id)
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    return list(
        db.session.scalars(
            query.order_by(Department.region_id, Department.code, Department.id)
            .offset(pagination.first_item)
            .limit(pagination.page_size)
        )
    )


def create_department(user, region_public_id: str, data: dict[str, Any]) -> Department:
    """Create a department in a region (district, street or community) the caller manages."""
    with atomic():
        region = get_region(region_public_id)
        authorize(user, MANAGE, region)
        department = Department(region_id=region.id, **{key: value for key, value in data.items() if key in FIELDS})
        with refusals(unique=DepartmentCodeTaken()):
            db.session.add(department)
        audit.record(
            "govservice.department.create",
            actor=user,
            target=("govservice_department", department.public_id),
            after={key: getattr(department, key) for key in FIELDS},
        )
        log.info("department %s created by user %s", department.id, user.id)
        return department


def update_department(user, public_id: str, data: dict[str, Any]) -> Department:
    with atomic():
        department = department_for(user, public_id, MANAGE, lock=True)
        before = {key: getattr(department, key) for key in data if key in FIELDS}
        with refusals(unique=DepartmentCodeTaken()):
            for key in before:
                setattr(department, key, data[key])
        audit.record(
            "govservice.department.update",
            actor=user,
            target=("govservice_department", department.public_id),
            before=before,
            after={key: getattr(department, key) for key in before},
        )
        log.info("department %s updated by user %s", department.id, user.id)
        return department


def delete_department(user, public_id: str) -> None:
    """Delete a department no record names yet (else 409 ``department_in_use``: deactivate it instead)."""
    with atomic():
        department = department_for(user, public_id, MANAGE, lock=True)
        with refusals(restrict=DepartmentInUse()):
            db.session.execute(
                sa.delete(RoleAssignment).where(
                    RoleAssignment.scope_kind == SCOPE_KIND, RoleAssignment.scope_id == department.id
                )
            )
            db.session.delete(department)
        audit.record("govservice.department.delete", actor=user, target=("govservice_department", public_id))
        log.info("department %s deleted by user %s", department.id, user.id)


def list_members(user, public_id: str) -> list[dict[str, str]]:
    department = department_for(user, public_id, READ)
    rows = db.session.execute(
        sa.select(User.public_id, User.display_name, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.scope_kind == SCOPE_KIND, RoleAssignment.scope_id == department.id)
        .order_by(RoleAssignment.role, User.display_name, User.id)
    )
    return [{"user_id": u, "display_name": n, "role": r} for u, n, r in rows]


def add_member(user, public_id: str, *, user_public_id: str, role: str) -> dict[str, str]:
    """Give an account the ``handler`` or ``head`` role in the department (idempotent)."""
    with atomic():
        department = department_for(user, public_id, MANAGE)
        member = db.session.scalar(sa.select(User).where(User.public_id == user_public_id, User.is_active))
        if member is None:
            raise NotFound("账号不存在", details={"user_id": user_public_id})
        inserted = db.session.execute(
            pg_insert(RoleAssignment)
            .values(user_id=member.id, role=role, scope_kind=SCOPE_KIND, scope_id=department.id)
            .on_conflict_do_nothing()
            .returning(RoleAssignment.id)
        ).scalar()
        if inserted is not None:
            audit.record(
                "govservice.department.member_add",
                actor=user,
                target=("govservice_department", department.public_id),
                after={"user": member.public_id, "role": role},
            )
        return {"user_id": member.public_id, "display_name": member.display_name, "role": role}


def remove_member(user, public_id: str, *, user_public_id: str, role: str) -> None:
    with atomic():
        department = department_for(user, public_id, MANAGE)
        removed = db.session.execute(
            sa.delete(RoleAssignment)
            .where(
                RoleAssignment.user_id == sa.select(User.id).where(User.public_id == user_public_id).scalar_subquery(),
                RoleAssignment.role == role,
                RoleAssignment.scope_kind == SCOPE_KIND,
                RoleAssignment.scope_id == department.id,
            )
            .returning(RoleAssignment.id)
        ).scalar()
        if removed is None:
            raise NotFound("该账号在此部门没有这个角色")
        audit.record(
            "govservice.department.member_remove",
            actor=user,
            target=("govservice_department", department.public_id),
            before={"user": user_public_id, "role": role},
        )
