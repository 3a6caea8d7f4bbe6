"""Residents, collected once: lookups, documents, one's own details, verification, health notes."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import sqlalchemy as sa

from app import audit
from app.accounts import crypto
from app.accounts.documents import DocumentInvalid as DocumentCheckFailed
from app.accounts.documents import DocumentType, check_document
from app.accounts.errors import (
    CommunityRequired,
    DocumentAlreadyRegistered,
    DocumentInvalid,
    ResidentNotFound,
    ResidentProfileExists,
    ResidentProfileRequired,
    ResidentVerifiedLocked,
    SensitiveConsentRequired,
    VerificationNotPending,
)
from app.accounts.models import User
from app.accounts.resident_models import (
    ConsentKind,
    Gender,
    Resident,
    VerificationStatus,
)
from app.api import SHANGHAI
from app.auth.linking import register_data_check
from app.auth.scopes import authorize, can
from app.community.integrity import flush_checked
from app.community.services import get_community
from app.db import atomic, utcnow
from app.errors import ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)

DOCUMENT_PURPOSE = "accounts_residents.document"
HEALTH_PURPOSE = "accounts_residents.health_notes"
#: 高龄: computed from the birth date on every read, never stored (it changes on a birthday, not on a write).
ELDERLY_AGE = 80


def today() -> date:
    """Business dates are dates in Asia/Shanghai."""
    return utcnow().astimezone(SHANGHAI).date()


def age_on(born: date | None, on: date | None = None) -> int | None:
    if born is None:
        return None
    on = on or today()
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def is_elderly(resident: Resident, on: date | None = None) -> bool:
    age = age_on(resident.birth_date, on)
    return age is not None and age >= ELDERLY_AGE


def elderly_cutoff(on: date | None = None) -> date:
    """Residents born on or before this date are 高龄 (age ≥ 80) today."""
    on = on or today()
    try:
        return on.replace(year=on.year - ELDERLY_AGE)
    except ValueError:  # 29 February
        return on.replace(year=on.year - ELDERLY_AGE, day=28)


# --- lookups -------------------------------------------------------------------------------------------------------


def _holds_resident(user_id: int) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(Resident.user_id == user_id))))


# An account that has given its details holds data: linking by phone must not fold it into another account.
register_data_check("resident", _holds_resident)


def resident_for_user(user) -> Resident | None:
    """The resident behind an account, or None while the account has not given its details."""
    return db.session.scalar(sa.select(Resident).where(Resident.user_id == user.id))


def require_resident(user) -> Resident:
    resident = resident_for_user(user)
    if resident is None or resident.erased_at is not None:
        raise ResidentProfileRequired()
    return resident


def get_resident(public_id: str) -> Resident:
    resident = db.session.scalar(
        sa.select(Resident).where(Resident.public_id == public_id, Resident.erased_at.is_(None))
    )
    if resident is None:
        raise ResidentNotFound()
    return resident


def staff_resident(user, public_id: str, action: str = "resident.read") -> Resident:
    """A resident for staff: 404 outside the caller's communities, 403 inside without a role allowing ``action``."""
    resident = get_resident(public_id)
    authorize(user, action, resident, not_found=ResidentNotFound)
    return resident


def account_phone(resident: Resident) -> str | None:
    """The verified phone of the resident's account (E.164), if any; residents without an account have none."""
    if resident.user_id is None:
        return None
    return db.session.scalar(
        sa.select(User.phone).where(User.id == resident.user_id, User.phone_verified_at.is_not(None))
    )


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = phone.removeprefix("+86")
    return digits[:3] + "*" * max(len(digits) - 7, 1) + digits[-4:] if len(digits) >= 7 else "***"


# --- documents -----------------------------------------------------------------------------------------------------


def _set_document(resident: Resident, doc_type: DocumentType, number: str, country: str | None) -> set[str]:
    """Check, encrypt and index a document; birth date and gender follow it when the number carries them.

    :return: the fields the number carried (``birth_date``, ``gender``).
    """
    try:
        checked = check_document(doc_type, number, country=country)
    except DocumentCheckFailed as exc:
        raise DocumentInvalid(str(exc), details={"fields": {"document_number": [str(exc)]}}) from None
    resident.document_type = checked.type
    resident.document_country = checked.country
    resident.document_ciphertext = crypto.encrypt(checked.number, purpose=DOCUMENT_PURPOSE)
    resident.document_lookup = crypto.lookup_hash(checked.lookup_value, purpose=DOCUMENT_PURPOSE)
    resident.document_masked = checked.masked
    carried = set()
    if checked.birth_date is not None:
        resident.birth_date = checked.birth_date
        carried.add("birth_date")
    if checked.gender is not None:
        resident.gender = Gender(checked.gender)
        carried.add("gender")
    return carried


def find_by_document(doc_type: DocumentType, number: str, country: str | None = None) -> Resident | None:
    """Exact search by document number through the lookup hash (nothing is decrypted)."""
    try:
        checked = check_document(doc_type, number, country=country)
    except DocumentCheckFailed:
        return None
    lookup = crypto.lookup_hash(checked.lookup_value, purpose=DOCUMENT_PURPOSE)
    return db.session.scalar(
        sa.select(Resident).where(
            Resident.document_type == doc_type, Resident.document_lookup == lookup, Resident.erased_at.is_(None)
        )
    )


def document_number(resident: Resident) -> str | None:
    """The clear document number; callers log why they needed it."""
    if resident.document_ciphertext is None:
        return None
    return crypto.decrypt(resident.document_ciphertext, purpose=DOCUMENT_PURPOSE)


def _apply_details(resident: Resident, data: dict[str, Any]) -> None:
    """Set name, document and hukou; birth date and gender only where the document does not carry them (a
    passport), since an ID card number states both."""
    if data.get("real_name"):
        resident.real_name = data["real_name"].strip()
    if data.get("document_number"):
        carried = _set_document(resident, data["document_type"], data["document_number"], data.get("document_country"))
    elif resident.document_type in (DocumentType.resident_id_card, DocumentType.hmt_residence_permit):
        carried = {"birth_date", "gender"}
    else:
        carried = set()
    if "hukou_status" in data:
        resident.hukou_status = data["hukou_status"]
    for key in ("birth_date", "gender"):
        if data.get(key) is not None and key not in carried:
            setattr(resident, key, data[key])
    if resident.birth_date is not None and resident.birth_date > today():
        raise ValidationFailed(details={"fields": {"birth_date": ["出生日期不能晚于今天"]}})


# --- one's own details ---------------------------------------------------------------------------------------------


def save_own_details(user, data: dict[str, Any]) -> Resident:
    """Give one's details once (creates the resident), or correct them before staff have verified them.

    A document already registered (by staff for a walk-in, or by another account) is refused with 409: an ID number
    alone must not hand over someone's record; staff link the account after checking in person.
    """
    with atomic():
        resident = resident_for_user(user)
        if resident is not None and resident.erased_at is not None:
            raise ResidentProfileExists("该账号已注销")
        creating = resident is None
        if creating:
            if not data.get("document_number"):
                raise ValidationFailed(details={"fields": {"document_number": ["首次填写须提供证件号码"]}})
            resident = Resident(user_id=user.id, real_name=data["real_name"].strip())
            db.session.add(resident)
        elif resident.verification_status is VerificationStatus.verified:
            raise ResidentVerifiedLocked()
        before = {"real_name": resident.real_name, "document_number": resident.document_masked}
        _apply_details(resident, data)
        if not creating and resident.verification_status is VerificationStatus.pending:
            resident.verification_status = VerificationStatus.unverified  # changed: staff must look again
        flush_checked(unique=DocumentAlreadyRegistered())
        audit.record(
            "resident.create" if creating else "resident.update",
            actor=user,
            target=("resident", resident.public_id),
            before=None if creating else before,
            after={"real_name": resident.real_name, "document_number": resident.document_masked},
        )
        return resident


def request_verification(user, community_public_id: str | None = None) -> Resident:
    """Ask staff to verify one's details (unverified/rejected → pending).

    Staff of the resident's household community see the request; without a household the resident names a community.
    """
    with atomic():
        resident = require_resident(user)
        if resident.verification_status is VerificationStatus.verified:
            raise ResidentVerifiedLocked("实名信息已核验")
        if community_public_id:
            resident.registered_community_id = get_community(community_public_id).id
        if not resident.scope_community_ids():
            raise CommunityRequired()
        updated = db.session.execute(
            sa.update(Resident)
            .where(
                Resident.id == resident.id,
                Resident.verification_status.in_([VerificationStatus.unverified, VerificationStatus.rejected]),
            )
            .values(verification_status=VerificationStatus.pending, verification_note=None)
            .returning(Resident.id)
        ).scalar()
        if updated is None:
            raise VerificationNotPending("已提交核验申请，请等待工作人员处理")
        db.session.refresh(resident)
        audit.record("resident.verification.request", actor=user, target=("resident", resident.public_id))
        return resident


def decide_verification(staff, resident_public_id: str, *, approve: bool, note: str | None = None) -> Resident:
    """Staff verify (or reject) a pending resident after checking the document; who and when are kept."""
    with atomic():
        resident = staff_resident(staff, resident_public_id, "resident.verify")
        values: dict[str, Any] = {"verification_note": note}
        if approve:
            values.update(
                verification_status=VerificationStatus.verified, verified_by_user_id=staff.id, verified_at=utcnow()
            )
        else:
            values.update(verification_status=VerificationStatus.rejected)
        updated = db.session.execute(
            sa.update(Resident)
            .where(Resident.id == resident.id, Resident.verification_status == VerificationStatus.pending)
            .values(**values)
            .returning(Resident.id)
        ).scalar()
        if updated is None:
            raise VerificationNotPending()
        db.session.refresh(resident)
        audit.record(
            "resident.verify" if approve else "resident.verification.reject",
            actor=staff,
            target=("resident", resident.public_id),
            reason=note,
        )
        log.info("resident %s %s by user %s", resident.id, "verified" if approve else "rejected", staff.id)
        return resident


# --- health notes --------------------------------------------------------------------------------------------------


def set_health_notes(actor, resident: Resident, notes: str | None) -> None:
    """Store (or clear) health notes; refused without the resident's separate consent to sensitive data."""
    from app.accounts.consent import has_consent

    if notes and not has_consent(resident, ConsentKind.sensitive_data):
        raise SensitiveConsentRequired()
    resident.health_notes_ciphertext = crypto.encrypt(notes, purpose=HEALTH_PURPOSE) if notes else None
    audit.record("resident.health_notes", actor=actor, target=("resident", resident.public_id), reason="更新健康备注")


def update_health_notes(user, resident_public_id: str | None, notes: str | None) -> None:
    """The resident themself (``resident_public_id`` None) or staff allowed to update residents."""
    with atomic():
        if resident_public_id is None:
            resident = require_resident(user)
        else:
            resident = staff_resident(user, resident_public_id, "resident.update")
        set_health_notes(user, resident, notes)


def can_read_resident(user, resident: Resident) -> bool:
    return resident.user_id == user.id or can(user, "resident.read", resident)
