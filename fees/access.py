"""Who may see and pay a household's bills: its active members, delegates of a member (scope ``bills``) and staff.

A former member (ended membership), a pending applicant and anyone else get 404: the household's bills are not
theirs to read. Staff are checked with the scoped actions registered here (404 outside their communities, 403
inside without a role allowing the action).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.accounts.delegation import acting_for, delegate_or_refuse
from app.accounts.resident_models import (
    Delegation,
    DelegationStatus,
    HouseholdMembership,
    MembershipStatus,
    Resident,
)
from app.accounts.residents import resident_for_user
from app.auth.scopes import authorize, in_tenancy, register_action
from app.community.errors import HouseholdNotFound
from app.community.models import Household
from app.db import utcnow
from app.errors import Forbidden, NotFound
from app.extensions import db

SCOPE = "bills"

register_action("fees.read", ("admin", "staff"))  # bills, arrears, dashboards, receipts of the community
register_action("fees.manage", ("admin", "staff"))  # fee items, readings, billing runs, one-off bills, reminders
register_action("fees.adjust", ("admin", "staff"))  # discounts, late-fee waivers, cancellations (with a reason)
register_action("fees.export", ("admin", "staff"))  # CSV exports (masked, logged)


@dataclass(frozen=True)
class Access:
    """How the caller reaches a household: ``member``, ``delegate`` (for ``resident``) or ``staff``."""

    via: str
    household: Household
    #: The member the caller acts as or for (None for staff).
    resident: Resident | None


def _is_active_member(resident_id: int, household_id: int) -> bool:
    return bool(
        db.session.scalar(
            sa.select(
                sa.exists().where(
                    HouseholdMembership.resident_id == resident_id,
                    HouseholdMembership.household_id == household_id,
                    HouseholdMembership.status == MembershipStatus.active,
                )
            )
        )
    )


def _delegating_member(actor: Resident, household_id: int) -> Resident | None:
    """An active member of the household who has given ``actor`` an active, unexpired ``bills`` delegation."""
    return db.session.scalar(
        sa.select(Resident)
        .join(Delegation, Delegation.subject_resident_id == Resident.id)
        .join(HouseholdMembership, HouseholdMembership.resident_id == Resident.id)
        .where(
            Delegation.actor_resident_id == actor.id,
            Delegation.status == DelegationStatus.active,
            sa.or_(Delegation.expires_at.is_(None), Delegation.expires_at > utcnow()),
            sa.literal(SCOPE) == sa.any_(Delegation.scopes),
            HouseholdMembership.household_id == household_id,
            HouseholdMembership.status == MembershipStatus.active,
            Resident.erased_at.is_(None),
        )
        .order_by(HouseholdMembership.role, Resident.id)
        .limit(1)
    )


def resident_access(user, household: Household) -> Access | None:
    """A member's or delegate's access, or None. A delegate's access goes through ``acting_for`` (audited)."""
    me = resident_for_user(user)
    if me is None or me.erased_at is not None:
        return None
    if _is_active_member(me.id, household.id):
        return Access("member", household, me)
    subject = _delegating_member(me, household.id)
    if subject is not None:
        return Access("delegate", household, acting_for(user, subject.public_id, SCOPE))
    return None


def household_access(user, household_public_id: str, *, staff_action: str | None = "fees.read") -> Access:
    """The caller's access to a household's bills.

    :param staff_action: the scoped action staff need (None: residents only, e.g. to make a fee order).
    :raises HouseholdNotFound: (404) the caller neither belongs to it, acts for a member, nor has it in scope.
    :raises Forbidden: (403) staff in scope without a role allowing ``staff_action``.
    :raises DelegationDenied: (403) a delegate of a member whose delegation does not allow ``bills``.
    """
    household = db.session.scalar(sa.select(Household).where(Household.public_id == household_public_id))
    if household is None:
        raise HouseholdNotFound()
    access = resident_access(user, household)
    if access is not None:
        return access
    if staff_action is not None and in_tenancy(user, household):
        authorize(user, staff_action, household, not_found=HouseholdNotFound)
        return Access("staff", household, None)
    if staff_action is None and in_tenancy(user, household):
        raise Forbidden("只有本户成员或其授权的代办人可以缴费")
    delegate_or_refuse(user, SCOPE, household_id=household.id)  # every other way in failed: 403 or 404
    raise HouseholdNotFound()


def require_read(user, household: Household, not_found: type[NotFound]) -> None:
    """Let a member, a ``bills`` delegate or staff with ``fees.read`` read the household's bills, orders, receipts.

    :raises not_found: (404) the household lies outside the caller's tenancy.
    :raises DelegationDenied: (403) a delegate of a member without ``bills``.
    :raises Forbidden: (403) inside the caller's scope without a role allowing ``fees.read`` (a grid worker).
    """
    if resident_access(user, household) is not None:
        return
    if in_tenancy(user, household):
        authorize(user, "fees.read", household, not_found=not_found)
        return
    delegate_or_refuse(user, SCOPE, household_id=household.id)  # every other way in failed: 403 or 404
    raise not_found()


def payable_households(user) -> list[tuple[Household, str, Resident]]:
    """Households whose bills the caller may pay: their own (active memberships) and those of members who gave
    them a ``bills`` delegation; each with how (``member``/``delegate``) and the member it is paid for."""
    me = resident_for_user(user)
    if me is None or me.erased_at is not None:
        return []
    own = db.session.execute(
        sa.select(Household, sa.literal("member"), Resident)
        .join(HouseholdMembership, HouseholdMembership.household_id == Household.id)
        .join(Resident, Resident.id == HouseholdMembership.resident_id)
        .where(HouseholdMembership.resident_id == me.id, HouseholdMembership.status == MembershipStatus.active)
        .order_by(Household.id)
    ).all()
    delegated = db.session.execute(
        sa.select(Household, sa.literal("delegate"), Resident)
        .join(HouseholdMembership, HouseholdMembership.household_id == Household.id)
        .join(Resident, Resident.id == HouseholdMembership.resident_id)
        .join(Delegation, Delegation.subject_resident_id == Resident.id)
        .where(
            Delegation.actor_resident_id == me.id,
            Delegation.status == DelegationStatus.active,
            sa.or_(Delegation.expires_at.is_(None), Delegation.expires_at > utcnow()),
            sa.literal(SCOPE) == sa.any_(Delegation.scopes),
            HouseholdMembership.status == MembershipStatus.active,
            Resident.erased_at.is_(None),
        )
        .order_by(Household.id, Resident.id)
    ).all()
    seen: set[int] = set()
    result = []
    for household, via, resident in [*own, *delegated]:
        if household.id not in seen:
            seen.add(household.id)
            result.append((household, via, resident))
    return result
