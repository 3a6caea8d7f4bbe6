"""Elder records: care level assessed by staff; emergency contacts and health notes kept by the elder, their family
(an ``eldercare`` delegation) or staff. Health notes live on the resident, behind the sensitive-data consent."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from app import audit
from app.accounts.errors import ResidentNotFound
from app.accounts.profile import get_profile
from app.accounts.resident_models import Resident
from app.accounts.residents import set_health_notes
from app.auth.scopes import acting_for, can
from app.db import atomic, utcnow
from app.errors import Forbidden
from app.extensions import db
from eldercare import subsidies
from eldercare.models import CareLevel, Elder

log = logging.getLogger(__name__)


def _resident(public_id: str) -> Resident:
    resident = db.session.scalar(
        sa.select(Resident).where(Resident.public_id == public_id, Resident.erased_at.is_(None))
    )
    if resident is None:
        raise ResidentNotFound()
    return resident


def _reach(user, resident_public_id: str, reason: str | None) -> tuple[Resident, bool]:
    """The resident and whether the caller is staff who may assess them; else the elder or a family delegate."""
    resident = _resident(resident_public_id)
    if can(user, "eldercare.elder.assess", resident):
        return resident, True
    return acting_for(user, resident_public_id, "eldercare", reason=reason), False


def elder_of(resident_id: int, *, lock: bool = False) -> Elder | None:
    query = sa.select(Elder).where(Elder.resident_id == resident_id)
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


def update_elder(user, resident_public_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Create or update the elder record.

    :raises Forbidden: someone other than community staff setting the care level.
    :raises SensitiveConsentRequired: health notes without the elder's separate consent.
    """
    with atomic():
        resident, staff = _reach(user, resident_public_id, data.get("reason"))
        if "care_level" in data and not staff:
            raise Forbidden("护理等级须由社区工作人员评估", details={"action": "eldercare.elder.assess"})
        db.session.execute(
            insert(Elder)
            .values(resident_id=resident.id, emergency_contacts=[])
            .on_conflict_do_nothing(index_elements=["resident_id"])
        )
        elder = elder_of(resident.id, lock=True)
        if "care_level" in data:
            before = elder.care_level.value if elder.care_level else None
            elder.care_level = CareLevel(data["care_level"]) if data["care_level"] else None
            elder.assessed_by_user_id, elder.assessed_at = user.id, utcnow()
            audit.record(
                "eldercare.elder.assess",
                actor=user,
                subject=("resident", resident.id),
                target=("resident", resident.public_id),
                before={"care_level": before},
                after={"care_level": data["care_level"]},
            )
        if "emergency_contacts" in data:
            elder.emergency_contacts = data["emergency_contacts"]
            audit.record(
                "eldercare.elder.contacts",
                actor=user,
                subject=("resident", resident.id),
                target=("resident", resident.public_id),
                after={"count": len(data["emergency_contacts"])},
            )
        if "health_notes" in data:
            set_health_notes(user, resident, data["health_notes"])
        db.session.flush()
        log.info("elder record of resident %s updated by user %s", resident.id, user.id)
        return elder_view(resident, elder)


def read_elder(user, resident_public_id: str) -> dict[str, Any]:
    with atomic():
        resident = _resident(resident_public_id)
        if not can(user, "resident.read", resident):
            resident = acting_for(user, resident_public_id, "eldercare")
        return elder_view(resident, elder_of(resident.id))


def elder_view(resident: Resident, elder: Elder | None) -> dict[str, Any]:
    """The record with the subsidy rule that applies today in the elder's first community (None: full price)."""
    profile = get_profile(resident.id, include_sensitive_tags=True)
    rule = None
    if profile.households:
        today = subsidies.month_of(utcnow())
        rule = subsidies.match_rule(
            profile, profile.households[0]["community_id"], utcnow().astimezone(subsidies.SHANGHAI).date()
        )
        remaining = subsidies.remaining_fen(resident.id, today, rule) if rule else 0
    else:
        remaining = 0
    return {
        "resident_id": resident.public_id,
        "real_name": resident.real_name,
        "age": profile.age,
        "care_level": elder.care_level.value if elder and elder.care_level else None,
        "assessed_at": elder.assessed_at if elder else None,
        "emergency_contacts": elder.emergency_contacts if elder else [],
        "has_health_notes": resident.health_notes_ciphertext is not None,
        "subsidy_rule": subsidies.snapshot(rule) if rule else None,
        "remaining_quota_fen": remaining,
    }
