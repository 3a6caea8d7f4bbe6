"""Role assignments over regions: admins of a region (or the platform) give staff and grid workers their scope."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit
from app.accounts.models import User
from app.auth.models import RoleAssignment
from app.auth.scopes import authorize
from app.community.errors import RegionNotFound, UserNotFound
from app.community.services import get_region
from app.db import atomic
from app.errors import NotFound
from app.extensions import db


def _user(public_id: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.public_id == public_id, User.is_active))
    if user is None:
        raise UserNotFound()
    return user


def list_roles(actor, region_public_id: str) -> list[dict]:
    """Who holds which role directly over a region (staff of the region may look)."""
    region = get_region(region_public_id)
    authorize(actor, "community.read", region, not_found=RegionNotFound)
    rows = db.session.execute(
        sa.select(User.public_id, User.display_name, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.scope_kind == "community", RoleAssignment.scope_id == region.id)
        .order_by(RoleAssignment.role, User.display_name)
    )
    return [{"user_id": u, "display_name": n, "role": r, "region": region.public_id} for u, n, r in rows]


def assign_role(actor, region_public_id: str, user_public_id: str, role: str) -> dict:
    """Give ``role`` over the region's subtree (idempotent)."""
    with atomic():
        region = get_region(region_public_id)
        authorize(actor, "roles.manage", region, not_found=RegionNotFound)
        user = _user(user_public_id)
        db.session.execute(
            pg_insert(RoleAssignment)
            .values(user_id=user.id, role=role, scope_kind="community", scope_id=region.id)
            .on_conflict_do_nothing()
        )
        audit.record(
            "role.assign",
            actor=actor,
            target=("user", user.public_id),
            after={"role": role, "region": region.public_id},
        )
        return {"user_id": user.public_id, "display_name": user.display_name, "role": role, "region": region.public_id}


def remove_role(actor, region_public_id: str, user_public_id: str, role: str) -> None:
    with atomic():
        region = get_region(region_public_id)
        authorize(actor, "roles.manage", region, not_found=RegionNotFound)
        user = _user(user_public_id)
        removed = db.session.execute(
            sa.delete(RoleAssignment)
            .where(
                RoleAssignment.user_id == user.id,
                RoleAssignment.role == role,
                RoleAssignment.scope_kind == "community",
                RoleAssignment.scope_id == region.id,
            )
            .returning(RoleAssignment.id)
        ).scalar()
        if removed is None:
            raise NotFound("该账号在此辖区没有这个角色")
        audit.record(
            "role.remove",
            actor=actor,
            target=("user", user.public_id),
            before={"role": role, "region": region.public_id},
        )
