"""Consent (PIPL): policy versions accepted, separate consent for sensitive data, export of one's records, and
account deletion (注销) that keeps only what domains register in the retention registry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app import audit
from app.accounts.errors import ResidentErased
from app.accounts.models import User
from app.accounts.resident_models import (
    Consent,
    ConsentKind,
    Delegation,
    DelegationStatus,
    HouseholdMembership,
    MembershipStatus,
    Resident,
    ResidentTag,
    VerificationStatus,
)
from app.db import atomic, utcnow
from app.errors import Conflict
from app.extensions import db

log = logging.getLogger(__name__)

#: The policy texts in force; a client shows the text and sends back the version the person accepted.
POLICY_VERSIONS = {ConsentKind.privacy_policy: "2026-11", ConsentKind.sensitive_data: "2026-11"}


class PolicyVersionOutdated(Conflict):
    code, message = "policy_version_outdated", "协议已更新，请阅读最新版本后再同意"


class StaffAccountNotErasable(Conflict):
    code, message = "staff_account", "工作人员账号须先由管理员解除职务后再注销"


# --- consent -------------------------------------------------------------------------------------------------------


def _consent_rows(resident: Resident | None, user_id: int | None, kind: ConsentKind):
    conditions = []
    if resident is not None:
        conditions.append(Consent.resident_id == resident.id)
        if resident.user_id is not None:
            conditions.append(Consent.user_id == resident.user_id)
    if user_id is not None:
        conditions.append(Consent.user_id == user_id)
    if not conditions:
        return sa.select(Consent).where(sa.false())
    return sa.select(Consent).where(sa.or_(*conditions), Consent.kind == kind)


def has_consent(resident: Resident | None, kind: ConsentKind, *, user_id: int | None = None) -> bool:
    """Whether a consent of ``kind`` is in force (given and not withdrawn) for the resident or account."""
    query = _consent_rows(resident, user_id, kind).where(Consent.withdrawn_at.is_(None))
    return bool(db.session.scalar(sa.select(query.exists())))


def give_consent(user, kind: ConsentKind, policy_version: str) -> Consent:
    """Record that the signed-in person accepted the current version of a policy."""
    from app.accounts.residents import resident_for_user

    with atomic():
        if policy_version != POLICY_VERSIONS[kind]:
            raise PolicyVersionOutdated(details={"current": POLICY_VERSIONS[kind]})
        resident = resident_for_user(user)
        consent = Consent(
            user_id=user.id, resident_id=resident.id if resident else None, kind=kind, policy_version=policy_version
        )
        db.session.add(consent)
        db.session.flush()
        audit.record("consent.give", actor=user, target=("consent", consent.id), after={"kind": kind.value})
        return consent


def record_consent_in_person(staff, resident_public_id: str, kind: ConsentKind, policy_version: str) -> Consent:
    """Staff record a consent given in person (a resident without an account, e.g. for sensitive tags)."""
    from app.accounts.residents import staff_resident

    with atomic():
        resident = staff_resident(staff, resident_public_id, "resident.update")
        if policy_version != POLICY_VERSIONS[kind]:
            raise PolicyVersionOutdated(details={"current": POLICY_VERSIONS[kind]})
        consent = Consent(
            resident_id=resident.id, kind=kind, policy_version=policy_version, recorded_by_user_id=staff.id
        )
        db.session.add(consent)
        db.session.flush()
        audit.record(
            "consent.record",
            actor=staff,
            target=("consent", consent.id),
            subject=("resident", resident.id),
            after={"kind": kind.value},
        )
        return consent


def withdraw_consent(user, kind: ConsentKind) -> int:
    """Withdraw a consent; returns how many records were withdrawn. Sensitive tags stop showing at once."""
    from app.accounts.residents import resident_for_user

    with atomic():
        resident = resident_for_user(user)
        ids = [
            c.id
            for c in db.session.scalars(_consent_rows(resident, user.id, kind).where(Consent.withdrawn_at.is_(None)))
        ]
        if ids:
            db.session.execute(sa.update(Consent).where(Consent.id.in_(ids)).values(withdrawn_at=utcnow()))
        audit.record("consent.withdraw", actor=user, target=("user", user.public_id), after={"kind": kind.value})
        return len(ids)


def consents_of(user) -> list[Consent]:
    from app.accounts.residents import resident_for_user

    resident = resident_for_user(user)
    conditions = [Consent.user_id == user.id]
    if resident is not None:
        conditions.append(Consent.resident_id == resident.id)
    return list(db.session.scalars(sa.select(Consent).where(sa.or_(*conditions)).order_by(Consent.id)))


# --- export and deletion -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    name: str
    keeps: str  # what is kept, in Chinese, shown to the person deleting their account
    basis: str  # the law or reason
    erase: Callable[[int, int | None], None] | None  # (user_id, resident_id): remove the rest of the domain's data
    export: Callable[[int, int | None], Any] | None


RETENTIONS: dict[str, Retention] = {}


def register_retention(
    name: str,
    *,
    keeps: str,
    basis: str,
    erase: Callable[[int, int | None], None] | None = None,
    export: Callable[[int, int | None], Any] | None = None,
) -> None:
    """A domain declares what it keeps after an account is deleted (e.g. payments keep financial records as the
    law requires), with hooks to erase the rest and to add its records to a person's export."""
    RETENTIONS[name] = Retention(name, keeps, basis, erase, export)


register_retention(
    "accounts.household_history",
    keeps="房屋成员记录（姓名已匿名化）",
    basis="物业与社区台账留存",
)


def export_my_data(user) -> dict[str, Any]:
    """Everything held about the signed-in person, in clear (their own data), each export logged."""
    from app.accounts.delegation import my_delegations, state_of
    from app.accounts.households import my_memberships
    from app.accounts.residents import HEALTH_PURPOSE, document_number, resident_for_user
    from app.accounts.tags import tags_of
    from app.community.services import household_address

    with atomic():
        resident = resident_for_user(user)
        data: dict[str, Any] = {
            "exported_at": utcnow(),
            "account": {
                "id": user.public_id,
                "display_name": user.display_name,
                "phone": getattr(user, "phone", None),
                "created_at": user.created_at,
            },
            "resident": None,
            "memberships": [],
            "delegations": [],
            "consents": [
                {
                    "kind": c.kind.value,
                    "policy_version": c.policy_version,
                    "accepted_at": c.accepted_at,
                    "withdrawn_at": c.withdrawn_at,
                }
                for c in consents_of(user)
            ],
            "domains": {},
        }
        if resident is not None:
            from app.accounts import crypto

            data["resident"] = {
                "id": resident.public_id,
                "real_name": resident.real_name,
                "document_type": resident.document_type.value if resident.document_type else None,
                "document_number": document_number(resident),
                "document_country": resident.document_country,
                "gender": resident.gender.value if resident.gender else None,
                "birth_date": resident.birth_date,
                "hukou_status": resident.hukou_status.value if resident.hukou_status else None,
                "verification_status": resident.verification_status.value,
                "health_notes": crypto.decrypt(resident.health_notes_ciphertext, purpose=HEALTH_PURPOSE)
                if resident.health_notes_ciphertext
                else None,
                "tags": [
                    {"name": t["name"], "reason": t.get("reason"), "since": t.get("since")}
                    for t in tags_of(resident, include_sensitive=True)
                ],
            }
            data["memberships"] = [
                {
                    "household": household_address(household)["label"],
                    "role": membership.role.value,
                    "status": membership.status.value,
                    "starts_on": membership.starts_on,
                    "ends_on": membership.ends_on,
                }
                for membership, household in my_memberships(user, include_history=True)
            ]
            data["delegations"] = [
                {
                    "actor": actor.real_name,
                    "subject": subject.real_name,
                    "relationship": delegation.relationship.value,
                    "scopes": delegation.scopes,
                    "status": state_of(delegation),
                    "expires_at": delegation.expires_at,
                }
                for delegation, actor, subject in my_delegations(user)
            ]
        for item in RETENTIONS.values():
            if item.export is not None:
                data["domains"][item.name] = item.export(user.id, resident.id if resident else None)
        audit.record("me.export", actor=user, target=("user", user.public_id), reason="本人导出个人信息")
        log.info("user %s exported their data", user.id)
        return data


#: Account columns cleared on deletion when the account model has them (login identifiers).
_ACCOUNT_IDENTIFIERS = ("phone", "phone_verified_at", "wechat_openid", "wechat_unionid", "username", "password_hash")


def erase_account(user) -> dict[str, Any]:
    """Delete (注销) the signed-in account: personal data removed or anonymised, what domains must keep kept.

    The resident row stays (anonymised) because memberships, orders and payments point at it; memberships end,
    delegations are revoked, tags and health notes are deleted, consents withdrawn, and the account is deactivated
    with its login identifiers cleared, so its tokens stop working on the next request.
    """
    from app.accounts.residents import resident_for_user, today
    from app.auth.models import RoleAssignment

    with atomic():
        locked = db.session.scalar(sa.select(User).where(User.id == user.id).with_for_update())
        if locked is None or not locked.is_active:
            raise ResidentErased()
        if db.session.scalar(sa.select(sa.exists().where(RoleAssignment.user_id == user.id))):
            raise StaffAccountNotErasable()
        resident = resident_for_user(user)
        now = utcnow()
        resident_id = resident.id if resident else None
        if resident is not None:
            db.session.execute(
                sa.update(HouseholdMembership)
                .where(
                    HouseholdMembership.resident_id == resident.id,
                    HouseholdMembership.status == MembershipStatus.active,
                )
                .values(status=MembershipStatus.ended, ends_on=sa.func.greatest(HouseholdMembership.starts_on, today()))
            )
            db.session.execute(
                sa.update(HouseholdMembership)
                .where(
                    HouseholdMembership.resident_id == resident.id,
                    HouseholdMembership.status == MembershipStatus.pending,
                )
                .values(status=MembershipStatus.cancelled)
            )
            db.session.execute(
                sa.update(Delegation)
                .where(
                    sa.or_(Delegation.actor_resident_id == resident.id, Delegation.subject_resident_id == resident.id),
                    Delegation.status.in_([DelegationStatus.pending, DelegationStatus.active]),
                )
                .values(status=DelegationStatus.revoked, revoked_by_user_id=user.id, revoked_at=now)
            )
            db.session.execute(sa.delete(ResidentTag).where(ResidentTag.resident_id == resident.id))
            db.session.execute(
                sa.update(Consent)
                .where(Consent.resident_id == resident.id, Consent.withdrawn_at.is_(None))
                .values(withdrawn_at=now)
            )
            for key, value in {
                "user_id": None,
                "real_name": "已注销用户",
                "document_type": None,
                "document_country": None,
                "document_ciphertext": None,
                "document_lookup": None,
                "document_masked": None,
                "gender": None,
                "birth_date": None,
                "hukou_status": None,
                "verification_status": VerificationStatus.unverified,
                "verification_note": None,
                "verified_at": None,
                "verified_by_user_id": None,
                "health_notes_ciphertext": None,
                "erased_at": now,
            }.items():
                setattr(resident, key, value)
        db.session.execute(
            sa.update(Consent)
            .where(Consent.user_id == user.id, Consent.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        )
        kept = []
        for item in RETENTIONS.values():
            if item.erase is not None:
                item.erase(user.id, resident_id)
            kept.append({"name": item.name, "keeps": item.keeps, "basis": item.basis})
        from app.auth.sessions import revoke_user_sessions

        revoke_user_sessions(user.id, reason="account_erased")
        locked.is_active = False
        locked.display_name = "已注销用户"
        for column in _ACCOUNT_IDENTIFIERS:
            if hasattr(User, column):
                setattr(locked, column, None)
        db.session.flush()
        audit.record("account.erase", actor=user, target=("user", user.public_id), reason="本人申请注销")
        log.info("user %s erased their account", user.id)
        return {"erased_at": now, "kept": kept}
