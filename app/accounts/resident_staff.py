"""Staff use cases on residents: registering in person, corrections, linking an account, revealing, lists."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from app import audit
from app.accounts import crypto
from app.accounts.documents import DocumentType
from app.accounts.errors import DocumentAlreadyRegistered, ResidentProfileExists
from app.accounts.models import User
from app.accounts.resident_models import (
    ConsentKind,
    HouseholdMembership,
    MembershipRole,
    MembershipStatus,
    Resident,
    ResidentTag,
    VerificationStatus,
)
from app.accounts.residents import (
    HEALTH_PURPOSE,
    _apply_details,
    document_number,
    elderly_cutoff,
    find_by_document,
    resident_for_user,
    staff_resident,
)
from app.api import keyset_page
from app.auth.scopes import authorize, community_ids_for
from app.community.errors import RegionNotFound, UserNotFound
from app.community.integrity import flush_checked
from app.community.models import Household
from app.community.services import get_community, get_household
from app.db import atomic, utcnow
from app.errors import Forbidden, ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)


def register_resident(staff, data: dict[str, Any]) -> Resident:
    """Register a person in person (an elder without a phone): staff and grid workers of the community.

    With ``household_id`` and ``role`` the resident joins that household at once (approved by the registering
    staff). ``verified`` marks the document as checked in person, for roles allowed to verify.
    """
    from app.accounts.households import add_member_directly

    with atomic():
        community = get_community(data["community_id"])
        authorize(staff, "resident.register", community, not_found=RegionNotFound)
        resident = Resident(
            real_name=data["real_name"].strip(),
            registered_community_id=community.id,
            registered_by_user_id=staff.id,
        )
        db.session.add(resident)
        _apply_details(resident, data)
        if data.get("verified"):
            authorize(staff, "resident.verify", community, not_found=RegionNotFound)
            resident.verification_status = VerificationStatus.verified
            resident.verified_by_user_id = staff.id
            resident.verified_at = utcnow()
        flush_checked(unique=DocumentAlreadyRegistered("该证件已登记"))
        audit.record(
            "resident.register",
            actor=staff,
            target=("resident", resident.public_id),
            after={"real_name": resident.real_name, "document_number": resident.document_masked},
        )
        if data.get("household_id"):
            household = get_household(data["household_id"])
            if household.community_id != community.id:
                raise ValidationFailed(details={"fields": {"household_id": ["房屋不在该社区"]}})
            add_member_directly(staff, household, resident, data.get("role") or MembershipRole.family)
        return resident


def update_resident(staff, resident_public_id: str, changes: dict[str, Any], *, reason: str) -> Resident:
    """Staff correct a resident's details (audited with the reason). A new document number resets verification."""
    with atomic():
        resident = staff_resident(staff, resident_public_id, "resident.update")
        before = {
            "real_name": resident.real_name,
            "document_number": resident.document_masked,
            "hukou_status": resident.hukou_status.value if resident.hukou_status else None,
            "birth_date": resident.birth_date.isoformat() if resident.birth_date else None,
        }
        had = resident.document_lookup
        _apply_details(resident, changes)
        if resident.document_lookup != had and resident.verification_status is VerificationStatus.verified:
            resident.verification_status = VerificationStatus.unverified
            resident.verified_at = resident.verified_by_user_id = None
        flush_checked(unique=DocumentAlreadyRegistered("该证件已登记"))
        audit.record(
            "resident.update",
            actor=staff,
            target=("resident", resident.public_id),
            before=before,
            after={
                "real_name": resident.real_name,
                "document_number": resident.document_masked,
                "hukou_status": resident.hukou_status.value if resident.hukou_status else None,
                "birth_date": resident.birth_date.isoformat() if resident.birth_date else None,
            },
            reason=reason,
        )
        return resident


def link_account(staff, resident_public_id: str, user_public_id: str, *, reason: str) -> Resident:
    """Staff link an account to a resident they registered, after checking the person in person."""
    with atomic():
        resident = staff_resident(staff, resident_public_id, "resident.update")
        user = db.session.scalar(sa.select(User).where(User.public_id == user_public_id, User.is_active))
        if user is None:
            raise UserNotFound()
        if resident.user_id is not None:
            raise ResidentProfileExists("该居民已绑定账号")
        if resident_for_user(user) is not None:
            raise ResidentProfileExists("该账号已填写实名信息，请先由工作人员合并")
        resident.user_id = user.id
        flush_checked(unique=ResidentProfileExists("该账号已绑定其他居民"))
        audit.record(
            "resident.link_account",
            actor=staff,
            target=("resident", resident.public_id),
            after={"user": user.public_id},
            reason=reason,
        )
        return resident


def reveal(staff, resident_public_id: str, *, reason: str) -> dict[str, Any]:
    """The clear document number (and health notes when consented) for staff who need them; every view is logged."""
    from app.accounts.consent import has_consent

    with atomic():
        resident = staff_resident(staff, resident_public_id, "resident.unmask")
        notes = None
        if resident.health_notes_ciphertext is not None and has_consent(resident, ConsentKind.sensitive_data):
            notes = crypto.decrypt(resident.health_notes_ciphertext, purpose=HEALTH_PURPOSE)
        audit.record(
            "resident.reveal",
            actor=staff,
            target=("resident", resident.public_id),
            subject=("resident", resident.id),
            reason=reason,
            after={"fields": "document_number,health_notes" if notes else "document_number"},
        )
        return {
            "document_type": resident.document_type,
            "document_number": document_number(resident),
            "health_notes": notes,
        }


def list_residents(staff, filters: dict[str, Any], *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Residents in the caller's communities (newest first): by community, tag, 高龄, verification, name or document."""
    from app.accounts.tags import get_tag

    communities = community_ids_for(staff, "resident.read")
    if communities is not None and not communities:
        raise Forbidden("只有社区工作人员可以查看居民名单")
    if filters.get("community_id"):
        community = get_community(filters["community_id"])
        if communities is not None and community.id not in communities:
            raise RegionNotFound("社区不存在")
        communities = frozenset({community.id})
    query = sa.select(Resident).where(Resident.erased_at.is_(None))
    if communities is not None:
        in_household = (
            sa.select(HouseholdMembership.id)
            .join(Household, Household.id == HouseholdMembership.household_id)
            .where(
                HouseholdMembership.resident_id == Resident.id,
                HouseholdMembership.status.in_([MembershipStatus.pending, MembershipStatus.active]),
                Household.community_id.in_(communities),
            )
            .exists()
        )
        query = query.where(sa.or_(Resident.registered_community_id.in_(communities), in_household))
    if filters.get("tag"):
        tag = get_tag(filters["tag"])
        query = query.where(
            sa.select(ResidentTag.id)
            .where(ResidentTag.resident_id == Resident.id, ResidentTag.tag_id == tag.id)
            .exists()
        )
    if filters.get("elderly"):
        query = query.where(Resident.birth_date <= elderly_cutoff())
    if filters.get("verification_status"):
        query = query.where(Resident.verification_status == filters["verification_status"])
    if filters.get("name"):
        escaped = filters["name"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Resident.real_name.like(escaped + "%", escape="\\"))
    if filters.get("document_number"):
        doc_type = filters.get("document_type") or DocumentType.resident_id_card
        found = find_by_document(doc_type, filters["document_number"], filters.get("document_country"))
        query = query.where(Resident.id == found.id) if found else query.where(sa.false())
    return keyset_page(db.session, query, [Resident.created_at, Resident.public_id], cursor=cursor, limit=limit)
