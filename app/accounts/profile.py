"""Profile requirements registered by domains, one public read of a resident's profile, and ``GET /me``.

A domain says which facts a form needs (``register_requirement("eldercare.order", ["verified", "hukou",
"birth_date"])``); ``/me`` answers ``ready_for`` (requirements met) and ``missing`` (what to ask once, per
requirement), so a client prefills every form it can. Domains read a resident through ``get_profile`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from app.accounts.consent import has_consent
from app.accounts.documents import DOCUMENT_LABELS, DocumentType
from app.accounts.errors import ProfileIncomplete, ResidentNotFound
from app.accounts.resident_models import (
    ConsentKind,
    Gender,
    HouseholdMembership,
    HukouStatus,
    MembershipRole,
    MembershipStatus,
    Resident,
    VerificationStatus,
)
from app.accounts.residents import account_phone, age_on, is_elderly, mask_phone, resident_for_user
from app.accounts.tags import tags_of
from app.community.models import Household
from app.community.services import household_address
from app.extensions import db


@dataclass(frozen=True)
class ResidentProfile:
    """What other domains may know of a resident: masked, read-only, current."""

    id: int
    public_id: str
    has_account: bool
    real_name: str
    document_type: DocumentType | None
    document_label: str | None
    document_masked: str | None
    gender: Gender | None
    birth_date: date | None
    age: int | None
    elderly: bool
    phone_masked: str | None
    has_phone: bool
    hukou_status: HukouStatus | None
    verification_status: VerificationStatus
    verified_at: datetime | None
    households: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    sensitive_consent: bool = False

    @property
    def tag_codes(self) -> set[str]:
        return {tag["code"] for tag in self.tags if tag.get("code")}


#: Facts a requirement may name, each a check on a profile.
FACTS: dict[str, tuple[str, Callable[[ResidentProfile], bool]]] = {
    "real_name": ("姓名", lambda p: bool(p.real_name)),
    "document": ("证件", lambda p: p.document_type is not None),
    "verified": ("实名核验", lambda p: p.verification_status is VerificationStatus.verified),
    "birth_date": ("出生日期", lambda p: p.birth_date is not None),
    "gender": ("性别", lambda p: p.gender is not None),
    "hukou": ("户籍", lambda p: p.hukou_status is not None),
    "phone": ("手机号", lambda p: p.has_phone),
    "household": ("房屋", lambda p: bool(p.households)),
    "sensitive_consent": ("敏感个人信息单独同意", lambda p: p.sensitive_consent),
}

REQUIREMENTS: dict[str, tuple[str, ...]] = {}


def register_requirement(name: str, facts: Iterable[str]) -> None:
    """Declare the facts a domain's form needs; an unknown fact name is a programming error."""
    facts = tuple(facts)
    unknown = [fact for fact in facts if fact not in FACTS]
    if unknown:
        raise ValueError(f"unknown profile facts {unknown} for {name!r}; known: {sorted(FACTS)}")
    REQUIREMENTS[name] = facts


# Requirements of the identity work itself.
register_requirement("household.join", ["real_name", "document"])
register_requirement("delegation.request", ["real_name", "document"])


def _households(resident_id: int) -> list[dict[str, Any]]:
    rows = db.session.execute(
        sa.select(HouseholdMembership, Household)
        .join(Household, Household.id == HouseholdMembership.household_id)
        .where(HouseholdMembership.resident_id == resident_id, HouseholdMembership.status == MembershipStatus.active)
        .order_by(HouseholdMembership.id)
    )
    return [
        {
            "id": household.public_id,
            "community_id": household.community_id,
            "membership_id": membership.public_id,
            "role": membership.role,
            "is_head": membership.role is MembershipRole.head,
            "since": membership.starts_on,
            "address": household_address(household),
        }
        for membership, household in rows
    ]


def profile_of(resident: Resident, *, include_sensitive_tags: bool | None = None) -> ResidentProfile:
    """The profile of a loaded resident. Sensitive tags are shown when asked, else only with the resident's
    separate consent."""
    consent = has_consent(resident, ConsentKind.sensitive_data)
    phone = account_phone(resident)
    return ResidentProfile(
        id=resident.id,
        public_id=resident.public_id,
        has_account=resident.user_id is not None,
        real_name=resident.real_name,
        document_type=resident.document_type,
        document_label=DOCUMENT_LABELS.get(resident.document_type) if resident.document_type else None,
        document_masked=resident.document_masked,
        gender=resident.gender,
        birth_date=resident.birth_date,
        age=age_on(resident.birth_date),
        elderly=is_elderly(resident),
        phone_masked=mask_phone(phone),
        has_phone=phone is not None,
        hukou_status=resident.hukou_status,
        verification_status=resident.verification_status,
        verified_at=resident.verified_at,
        households=_households(resident.id),
        tags=tags_of(resident, include_sensitive=consent if include_sensitive_tags is None else include_sensitive_tags),
        sensitive_consent=consent,
    )


def get_profile(resident_id: int, *, include_sensitive_tags: bool = False) -> ResidentProfile:
    """The public read of a resident for other domains (eligibility, prefilled forms).

    ``include_sensitive_tags`` is for rules that need them (e.g. a 低保 subsidy); never show them to third parties.

    :raises ResidentNotFound: no such resident (or the account was deleted).
    """
    resident = db.session.get(Resident, resident_id)
    if resident is None or resident.erased_at is not None:
        raise ResidentNotFound()
    return profile_of(resident, include_sensitive_tags=include_sensitive_tags)


def missing_for(profile: ResidentProfile | None, requirement: str) -> list[str]:
    facts = REQUIREMENTS[requirement]
    if profile is None:
        return list(facts)
    return [fact for fact in facts if not FACTS[fact][1](profile)]


def readiness(profile: ResidentProfile | None) -> tuple[list[str], dict[str, list[str]]]:
    """``(ready_for, missing)`` over every registered requirement."""
    ready, missing = [], {}
    for name in sorted(REQUIREMENTS):
        lacking = missing_for(profile, name)
        if lacking:
            missing[name] = lacking
        else:
            ready.append(name)
    return ready, missing


def require_ready(resident_id: int, requirement: str) -> ResidentProfile:
    """The profile, or 422 ``profile_incomplete`` naming the missing facts (for a domain's create endpoint)."""
    profile = get_profile(resident_id, include_sensitive_tags=True)
    lacking = missing_for(profile, requirement)
    if lacking:
        raise ProfileIncomplete(
            "个人信息不完整：" + "、".join(FACTS[fact][0] for fact in lacking),
            details={"requirement": requirement, "missing": lacking},
        )
    return profile


def me(user) -> dict[str, Any]:
    """Everything ``GET /me`` shows: the account, the masked profile, households, tags, ``ready_for``, ``missing``."""
    resident = resident_for_user(user)
    profile = profile_of(resident) if resident is not None and resident.erased_at is None else None
    ready_for, missing = readiness(profile)
    return {
        "account": {
            "id": user.public_id,
            "display_name": user.display_name,
            "phone": mask_phone(getattr(user, "phone", None)),
        },
        "resident": profile,
        "households": profile.households if profile else [],
        "tags": profile.tags if profile else [],
        "ready_for": ready_for,
        "missing": missing,
    }
