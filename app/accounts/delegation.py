"""Delegation (代办 / 家属绑定): asking to act for someone, approval by them or by staff, revocation, ``acting_for``."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app import audit
from app.accounts.errors import (
    DelegationDenied,
    DelegationExists,
    DelegationNotFound,
    DelegationNotOpen,
    DelegationNotPending,
    ResidentNotFound,
    StaffReasonRequired,
)
from app.accounts.resident_models import (
    DELEGATION_SCOPES,
    Delegation,
    DelegationStatus,
    HouseholdMembership,
    MembershipStatus,
    Relationship,
    Resident,
)
from app.accounts.residents import find_by_document, get_resident, require_resident, resident_for_user
from app.auth.scopes import can, in_tenancy
from app.community.integrity import refusals
from app.db import atomic, utcnow
from app.errors import APIError, Forbidden, ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)

OPEN = (DelegationStatus.pending, DelegationStatus.active)

#: Why a delegation does not allow an act (``details.reason`` of the 403).
DENIAL_MESSAGES = {
    "pending": "代办授权尚未确认",
    "expired": "代办授权已过期",
    "revoked": "代办授权已撤销",
    "rejected": "代办授权已被拒绝",
    "scope_missing": "代办授权不包含此类事项",
}


def state_of(delegation: Delegation, now: datetime | None = None) -> str:
    """The status as a person sees it: an approved delegation past its expiry is ``expired``."""
    now = now or utcnow()
    if delegation.status is DelegationStatus.active and delegation.expires_at and delegation.expires_at <= now:
        return "expired"
    return delegation.status.value


def _co_member(actor: Resident, subject_public_id: str) -> Resident:
    """A resident the actor may name by id: someone sharing an active household with them; else 404."""
    subject = get_resident(subject_public_id)
    mine = sa.select(HouseholdMembership.household_id).where(
        HouseholdMembership.resident_id == actor.id, HouseholdMembership.status == MembershipStatus.active
    )
    shared = db.session.scalar(
        sa.select(
            sa.exists().where(
                HouseholdMembership.resident_id == subject.id,
                HouseholdMembership.status == MembershipStatus.active,
                HouseholdMembership.household_id.in_(mine),
            )
        )
    )
    if not shared:
        raise ResidentNotFound()
    return subject


def request_delegation(
    user,
    *,
    relationship: Relationship,
    scopes: list[str],
    expires_at: datetime | None = None,
    subject_id: str | None = None,
    subject: dict[str, Any] | None = None,
) -> Delegation:
    """Resident A asks to act for resident B; B approves in the app, or staff approve after checking in person.

    B is named by public id (a member of one of A's households) or by real name and document, which must both match
    (a mismatch is the same 404 as no such person, so the endpoint cannot be used to probe names).
    """
    with atomic():
        actor = require_resident(user)
        if subject_id:
            target = _co_member(actor, subject_id)
        elif subject:
            target = find_by_document(
                subject["document_type"], subject["document_number"], subject.get("document_country")
            )
            if target is None or target.real_name != subject["real_name"].strip():
                raise ResidentNotFound()
        else:
            raise ValidationFailed(details={"fields": {"subject_id": ["请指定被代办人"]}})
        if target.id == actor.id:
            raise ValidationFailed(details={"fields": {"subject_id": ["不能为自己申请代办"]}})
        if expires_at is not None and expires_at <= utcnow():
            raise ValidationFailed(details={"fields": {"expires_at": ["到期时间须晚于现在"]}})
        delegation = Delegation(
            actor_resident_id=actor.id,
            subject_resident_id=target.id,
            relationship=relationship,
            scopes=sorted(set(scopes), key=DELEGATION_SCOPES.index),
            expires_at=expires_at,
            requested_by_user_id=user.id,
        )
        with refusals(unique=DelegationExists()):
            db.session.add(delegation)
        audit.record(
            "delegation.request",
            actor=user,
            target=("delegation", delegation.public_id),
            subject=("resident", target.id),
            after={"relationship": relationship.value, "scopes": ",".join(delegation.scopes)},
        )
        return delegation


def get_delegation(public_id: str) -> Delegation:
    delegation = db.session.scalar(sa.select(Delegation).where(Delegation.public_id == public_id))
    if delegation is None:
        raise DelegationNotFound()
    return delegation


def _parties(delegation: Delegation) -> tuple[Resident, Resident]:
    actor = db.session.get(Resident, delegation.actor_resident_id)
    subject = db.session.get(Resident, delegation.subject_resident_id)
    return actor, subject


def view_of(user, delegation: Delegation) -> str:
    """``"actor"``, ``"subject"`` or ``"staff"``; 404 for anyone else."""
    actor, subject = _parties(delegation)
    if actor.user_id == user.id:
        return "actor"
    if subject.user_id == user.id:
        return "subject"
    if can(user, "resident.read", subject) or can(user, "resident.read", actor):
        return "staff"
    raise DelegationNotFound()


def delegation_for(user, public_id: str) -> tuple[Delegation, Resident, Resident]:
    delegation = get_delegation(public_id)
    view_of(user, delegation)
    return (delegation, *_parties(delegation))


def _transition(delegation: Delegation, from_statuses, **values) -> bool:
    updated = db.session.execute(
        sa.update(Delegation)
        .where(Delegation.id == delegation.id, Delegation.status.in_(from_statuses))
        .values(**values)
        .returning(Delegation.id)
    ).scalar()
    if updated is not None:
        db.session.refresh(delegation)
    return updated is not None


def _decision_by(user, delegation: Delegation, note: str | None) -> str:
    """The subject decides in the app; staff over the subject decide after an in-person check (note required)."""
    actor, subject = _parties(delegation)
    if subject.user_id == user.id:
        return "subject"
    if can(user, "delegation.decide", subject):
        if not (note or "").strip():
            raise StaffReasonRequired("工作人员审核须填写核实情况（如：已当面核实本人意愿）")
        return "staff"
    if actor.user_id == user.id or in_tenancy(user, subject):
        raise Forbidden("只有被代办人本人或社区工作人员可以确认")
    raise DelegationNotFound()


def approve_delegation(user, public_id: str, *, note: str | None = None) -> Delegation:
    with atomic():
        delegation = get_delegation(public_id)
        via = _decision_by(user, delegation, note)
        if delegation.expires_at is not None and delegation.expires_at <= utcnow():
            raise DelegationNotPending("该授权已过期，请重新申请")
        if not _transition(
            delegation,
            [DelegationStatus.pending],
            status=DelegationStatus.active,
            decided_by_user_id=user.id,
            decided_at=utcnow(),
            approved_via=via,
            staff_note=note if via == "staff" else None,
        ):
            raise DelegationNotPending()
        audit.record(
            "delegation.approve",
            actor=user,
            target=("delegation", delegation.public_id),
            subject=("resident", delegation.subject_resident_id),
            after={"via": via},
            reason=note,
        )
        return delegation


def reject_delegation(user, public_id: str, *, note: str | None = None) -> Delegation:
    with atomic():
        delegation = get_delegation(public_id)
        via = _decision_by(user, delegation, note)
        if not _transition(
            delegation,
            [DelegationStatus.pending],
            status=DelegationStatus.rejected,
            decided_by_user_id=user.id,
            decided_at=utcnow(),
            staff_note=note if via == "staff" else None,
        ):
            raise DelegationNotPending()
        audit.record(
            "delegation.reject",
            actor=user,
            target=("delegation", delegation.public_id),
            subject=("resident", delegation.subject_resident_id),
            reason=note,
        )
        return delegation


def revoke_delegation(user, public_id: str, *, reason: str | None = None) -> Delegation:
    """Either side (or staff over the subject) ends a delegation, pending or active, at once."""
    with atomic():
        delegation = get_delegation(public_id)
        view = view_of(user, delegation)
        if view == "staff" and not can(
            user, "delegation.decide", db.session.get(Resident, delegation.subject_resident_id)
        ):
            raise Forbidden()
        if not _transition(
            delegation, OPEN, status=DelegationStatus.revoked, revoked_by_user_id=user.id, revoked_at=utcnow()
        ):
            raise DelegationNotOpen()
        audit.record(
            "delegation.revoke",
            actor=user,
            target=("delegation", delegation.public_id),
            subject=("resident", delegation.subject_resident_id),
            after={"by": view},
            reason=reason,
        )
        return delegation


def my_delegations(user) -> list[tuple[Delegation, Resident, Resident]]:
    """Delegations where the caller acts for someone, or someone acts for the caller (newest first)."""
    resident = resident_for_user(user)
    if resident is None:
        return []
    return _listing(sa.or_(Delegation.actor_resident_id == resident.id, Delegation.subject_resident_id == resident.id))


def resident_delegations(staff, resident_public_id: str) -> list[tuple[Delegation, Resident, Resident]]:
    from app.accounts.residents import staff_resident

    resident = staff_resident(staff, resident_public_id)
    return _listing(sa.or_(Delegation.actor_resident_id == resident.id, Delegation.subject_resident_id == resident.id))


def _listing(condition) -> list[tuple[Delegation, Resident, Resident]]:
    actor, subject = sa.orm.aliased(Resident), sa.orm.aliased(Resident)
    return list(
        db.session.execute(
            sa.select(Delegation, actor, subject)
            .join(actor, actor.id == Delegation.actor_resident_id)
            .join(subject, subject.id == Delegation.subject_resident_id)
            .where(condition)
            .order_by(Delegation.id.desc())
            .limit(200)
        )
    )


# --- the one way to act for someone else ---------------------------------------------------------------------------


def acting_for(actor_user, subject_public_id: str, scope: str, *, reason: str | None = None) -> Resident:
    """The resident ``actor_user`` may act for in ``scope``, recorded in the audit log with actor and subject.

    Call it inside the unit of work that does the act, so the audit entry commits (or rolls back) with it:

    - the subject is the actor themself: returned as is;
    - the actor holds an approved, unexpired delegation from the subject covering ``scope``;
    - the actor is staff allowed ``resident.act_for`` over the subject (a walk-in or phone caller): ``reason`` is
      required and recorded.

    :raises ResidentNotFound: (404) no such subject, or the actor has no delegation from them and no role over them.
    :raises DelegationDenied: (403) a delegation exists but is pending, expired, revoked, rejected, or lacks ``scope``
        (``details.reason``).
    :raises StaffReasonRequired: (422) staff acting without a reason.
    """
    subject = db.session.scalar(
        sa.select(Resident).where(Resident.public_id == subject_public_id, Resident.erased_at.is_(None))
    )
    return _act_for(actor_user, subject, scope, reason=reason)


def _act_for(
    actor_user, subject: Resident | None, scope: str, *, reason: str | None = None, actor: Resident | None = None
) -> Resident:
    """``acting_for`` once the subject is read (None: no such resident, or erased); ``actor``: the caller's
    resident when the caller already read it (else read here)."""
    if scope not in DELEGATION_SCOPES:
        raise ValueError(f"unknown delegation scope {scope!r}")
    if subject is None:
        raise ResidentNotFound()
    if subject.user_id is not None and subject.user_id == actor_user.id:
        return subject
    actor = actor or resident_for_user(actor_user)
    delegation = None
    if actor is not None:
        delegation = db.session.scalar(
            sa.select(Delegation)
            .where(Delegation.actor_resident_id == actor.id, Delegation.subject_resident_id == subject.id)
            .order_by(Delegation.status.in_(OPEN).desc(), Delegation.id.desc())
            .limit(1)
        )
    denial = None
    if delegation is not None:
        state = state_of(delegation)
        denial = state if state != "active" else (None if scope in delegation.scopes else "scope_missing")
        if denial is None:
            audit.record(
                "acting_for",
                actor=actor_user,
                subject=("resident", subject.id),
                target=("delegation", delegation.public_id),
                after={"scope": scope, "via": "delegation"},
                reason=reason,
            )
            return subject
    if can(actor_user, "resident.act_for", subject):
        if not (reason or "").strip():
            raise StaffReasonRequired()
        audit.record(
            "acting_for",
            actor=actor_user,
            subject=("resident", subject.id),
            target=("resident", subject.public_id),
            after={"scope": scope, "via": "staff"},
            reason=reason,
        )
        return subject
    if denial is not None:
        raise DelegationDenied(DENIAL_MESSAGES[denial], details={"reason": denial, "scope": scope})
    if in_tenancy(actor_user, subject):
        raise Forbidden(details={"action": "resident.act_for"})
    raise ResidentNotFound()


def delegate_or_refuse(
    user,
    scope: str,
    *,
    resident_id: int | None = None,
    household_id: int | None = None,
    not_found: APIError | type[APIError] | None = None,
    reason: str | None = None,
) -> Resident | None:
    """The one answer every domain gives about reaching a resident's thing through a delegation (issue #12):

    - allowed: the resident themself, a family member whose active delegation covers ``scope``, or staff allowed
      ``resident.act_for`` giving a ``reason``: the resident is returned, recorded as ``acting_for`` records it;
    - 403 ``delegation_denied``: a family member bound to the resident whose delegation does not allow ``scope``
      (another scope only, pending, expired, revoked, rejected). They know the resident already, so the refusal
      reveals nothing, and it tells them what to ask for;
    - 404 for anyone else (not bound at all, another community, staff without a reason): ``not_found`` is raised,
      or without it None is returned and the domain raises its own.

    A domain that tries its other ways in first (staff roles, the provider's people) calls this last, to refuse.

    :param resident_id: the resident the thing belongs to.
    :param household_id: instead of ``resident_id``, for household-based things (fees): the caller acts for the
        active member who gave them a delegation, one allowing ``scope`` first (then by membership role and id).
        The household's own members are the domain's to let in (fees does, before asking this): here they are None.
    :raises DelegationDenied: (403) see above.
    """
    actor = None
    if household_id is not None:
        actor = resident_for_user(user)
        subject = None if actor is None else _delegating_member(actor, household_id, scope)
    else:
        subject = db.session.get(Resident, resident_id)
        if subject is not None and subject.erased_at is not None:
            subject = None
    if subject is not None:
        try:
            return _act_for(user, subject, scope, reason=reason, actor=actor)
        except DelegationDenied:
            raise
        except APIError:
            pass  # no tie to the resident, or staff without a reason: not a delegate's refusal
    if not_found is not None:
        raise not_found
    return None


def _delegating_member(actor: Resident, household_id: int, scope: str) -> Resident | None:
    """An active member of the household who gave ``actor`` a delegation, in any state: one allowing ``scope`` now
    first, then by membership role (stored as text: family, head, tenant) and id."""
    allows = sa.and_(
        Delegation.status == DelegationStatus.active,
        sa.or_(Delegation.expires_at.is_(None), Delegation.expires_at > utcnow()),
        sa.literal(scope) == sa.any_(Delegation.scopes),
    )
    return db.session.scalar(
        sa.select(Resident)
        .join(Delegation, Delegation.subject_resident_id == Resident.id)
        .join(HouseholdMembership, HouseholdMembership.resident_id == Resident.id)
        .where(
            Delegation.actor_resident_id == actor.id,
            HouseholdMembership.household_id == household_id,
            HouseholdMembership.status == MembershipStatus.active,
            Resident.erased_at.is_(None),
        )
        .order_by(allows.desc(), HouseholdMembership.role, Resident.id)
        .limit(1)
    )


def delegation_view(delegation: Delegation, actor: Resident, subject: Resident, my_role: str) -> dict[str, Any]:
    from app.accounts.households import mask_name

    def party(resident: Resident) -> dict[str, Any]:
        return {
            "id": resident.public_id,
            "name": mask_name(resident.real_name),
            "has_account": resident.user_id is not None,
        }

    return {
        "id": delegation.public_id,
        "actor": party(actor),
        "subject": party(subject),
        "relationship": delegation.relationship.value,
        "scopes": list(delegation.scopes),
        "status": state_of(delegation),
        "expires_at": delegation.expires_at,
        "approved_via": delegation.approved_via,
        "decided_at": delegation.decided_at,
        "revoked_at": delegation.revoked_at,
        "created_at": delegation.created_at,
        "my_role": my_role,
    }


def describe(user, delegation: Delegation) -> dict[str, Any]:
    actor, subject = _parties(delegation)
    return delegation_view(delegation, actor, subject, view_of(user, delegation))


def subject_profile(actor_user, subject_public_id: str, scope: str | None = None):
    """The profile of a resident the caller acts for, with the name masked for anyone but the person themself.

    With ``scope`` the delegation must cover it; without, any active delegation will do (knowing whom one acts
    for comes before any single act). Errors and the audit entry are ``acting_for``'s.
    """
    from dataclasses import replace

    from app.accounts.profile import profile_of
    from app.audit import mask_value

    with atomic():
        if scope is None:
            actor = resident_for_user(actor_user)
            delegation = None
            if actor is not None:
                delegation = db.session.scalar(
                    sa.select(Delegation)
                    .where(
                        Delegation.actor_resident_id == actor.id,
                        Delegation.subject_resident_id == Resident.id,
                        Resident.public_id == subject_public_id,
                    )
                    .order_by(Delegation.id.desc())
                    .limit(1)
                )
            active = delegation is not None and state_of(delegation) == "active" and delegation.scopes
            # No active delegation: let acting_for give the same answer it gives every domain (404 or 403).
            scope = delegation.scopes[0] if active else DELEGATION_SCOPES[0]
        subject = acting_for(actor_user, subject_public_id, scope)
        result = profile_of(subject, include_sensitive_tags=False)
        if subject.user_id != actor_user.id:
            result = replace(result, real_name=mask_value("real_name", result.real_name))
        return result
