"""Caregivers: the accounts holding the ``caregiver`` role on a provider, and their skills (the care categories
they may be assigned). The provider admin keeps both; an assignment needs the role and the order's category."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from app import audit
from app.accounts.models import User
from app.api import keyset_page
from app.auth.models import RoleAssignment
from app.db import atomic
from app.extensions import db
from eldercare.models import CareCategory
from eldercare.providers import provider_for
from eldercare.visit_models import Caregiver
from eldercare.visits_errors import CaregiverNotFound

log = logging.getLogger(__name__)


def holds_caregiver_role(provider_id: int, user_id: int) -> bool:
    return (
        db.session.scalar(
            sa.select(RoleAssignment.id).where(
                RoleAssignment.user_id == user_id,
                RoleAssignment.role == "caregiver",
                RoleAssignment.scope_kind == "provider",
                RoleAssignment.scope_id == provider_id,
            )
        )
        is not None
    )


def caregiver_user(provider_id: int, user_public_id: str) -> User:
    """An active account holding the caregiver role on the provider.

    :raises CaregiverNotFound: no such account, or not this provider's caregiver.
    """
    user = db.session.scalar(sa.select(User).where(User.public_id == user_public_id, User.is_active))
    if user is None or not holds_caregiver_role(provider_id, user.id):
        raise CaregiverNotFound(details={"caregiver_id": user_public_id})
    return user


def skills_of(provider_id: int, user_id: int) -> list[str]:
    return (
        db.session.scalar(
            sa.select(Caregiver.skills).where(Caregiver.provider_id == provider_id, Caregiver.user_id == user_id)
        )
        or []
    )


def set_skills(user, provider_public_id: str, caregiver_public_id: str, skills: list[str]) -> dict[str, Any]:
    """The provider admin sets the categories a caregiver may be assigned (replacing the earlier list)."""
    with atomic():
        provider = provider_for(user, provider_public_id, "eldercare.provider.manage")
        member = caregiver_user(provider.id, caregiver_public_id)
        ordered = [c.value for c in CareCategory if c.value in set(skills)]
        db.session.execute(
            insert(Caregiver)
            .values(provider_id=provider.id, user_id=member.id, skills=ordered, updated_by_user_id=user.id)
            .on_conflict_do_update(
                index_elements=["provider_id", "user_id"],
                set_={"skills": ordered, "updated_by_user_id": user.id, "updated_at": sa.func.now()},
            )
        )
        audit.record(
            "eldercare.caregiver.skills",
            actor=user,
            target=("provider", provider.public_id),
            after={"user": member.public_id, "skills": ordered},
        )
        log.info("caregiver %s of provider %s given skills %s by user %s", member.id, provider.id, ordered, user.id)
        return {"user_id": member.public_id, "name": member.display_name, "skills": ordered}


def list_caregivers(user, provider_public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """The provider's caregivers with their skills (provider admins), newest role first; two statements a page."""
    provider = provider_for(user, provider_public_id, "eldercare.provider.manage")
    query = sa.select(RoleAssignment).where(
        RoleAssignment.scope_kind == "provider",
        RoleAssignment.scope_id == provider.id,
        RoleAssignment.role == "caregiver",
    )
    page = keyset_page(db.session, query, [RoleAssignment.id], cursor=cursor, limit=limit)
    user_ids = [row.user_id for row in page["items"]]
    found = {
        row.id: row
        for row in db.session.execute(
            sa.select(User.id, User.public_id, User.display_name, Caregiver.skills)
            .outerjoin(Caregiver, sa.and_(Caregiver.user_id == User.id, Caregiver.provider_id == provider.id))
            .where(User.id.in_(user_ids))
        )
    }
    page["items"] = [
        {
            "user_id": found[uid].public_id,
            "name": found[uid].display_name,
            "skills": list(found[uid].skills or []),
        }
        for uid in user_ids
    ]
    return page
