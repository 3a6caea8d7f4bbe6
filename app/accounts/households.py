"""Household memberships: asking to join, approval by the head or staff, moving out, and who sees a household."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import sqlalchemy as sa

from app import audit
from app.accounts.errors import (
    AlreadyMember,
    HouseholdHasHead,
    MembershipNotActive,
    MembershipNotFound,
    MembershipNotPending,
)
from app.accounts.resident_models import HouseholdMembership, MembershipRole, MembershipStatus, Resident
from app.accounts.residents import require_resident, resident_for_user, today
from app.auth.scopes import can, in_tenancy
from app.community.errors import HouseholdNotFound
from app.community.integrity import refusals
from app.community.models import Household
from app.community.services import get_household
from app.db import atomic, utcnow
from app.errors import Forbidden, ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)

OPEN = (MembershipStatus.pending, MembershipStatus.active)


def _unique_errors() -> dict[str, Any]:
    return {
        "uq_accounts_household_memberships_open": AlreadyMember(),
        "uq_accounts_household_memberships_one_head": HouseholdHasHead(),
    }


# --- who is who ----------------------------------------------------------------------------------------------------


def _active_membership(user, household_id: int) -> HouseholdMembership | None:
    return db.session.scalar(
        sa.select(HouseholdMembership)
        .join(Resident, Resident.id == HouseholdMembership.resident_id)
        .where(
            Resident.user_id == user.id,
            HouseholdMembership.household_id == household_id,
            HouseholdMembership.status == MembershipStatus.active,
        )
    )


def is_head(user, household_id: int) -> bool:
    membership = _active_membership(user, household_id)
    return membership is not None and membership.role is MembershipRole.head


def household_for(user, public_id: str) -> tuple[Household, str]:
    """A household with how the caller sees it: ``"staff"`` (any role over it) or ``"member"`` (an active member).

    A pending applicant, a former member and anyone else get 404: the household's data is not theirs to read.
    """
    household = get_household(public_id)
    if _active_membership(user, household.id) is not None:
        return household, "member"
    if in_tenancy(user, household):
        return household, "staff"
    raise HouseholdNotFound()


def members_of(household_id: int, *, statuses=(MembershipStatus.active,)) -> list[tuple[HouseholdMembership, Resident]]:
    return list(
        db.session.execute(
            sa.select(HouseholdMembership, Resident)
            .join(Resident, Resident.id == HouseholdMembership.resident_id)
            .where(HouseholdMembership.household_id == household_id, HouseholdMembership.status.in_(statuses))
            .order_by(HouseholdMembership.role, HouseholdMembership.id)
        )
    )


def list_memberships(user, household_public_id: str, *, include_history: bool = False) -> list[tuple]:
    """Members (and open join requests for the head and staff); history (ended, rejected) for staff only."""
    household, view = household_for(user, household_public_id)
    statuses: tuple[MembershipStatus, ...] = (MembershipStatus.active,)
    if view == "staff" or is_head(user, household.id):
        statuses = (MembershipStatus.active, MembershipStatus.pending)
    if include_history and view == "staff":
        statuses = tuple(MembershipStatus)
    return members_of(household.id, statuses=statuses)


def my_memberships(user, *, include_history: bool = False) -> list[tuple[HouseholdMembership, Household]]:
    resident = resident_for_user(user)
    if resident is None:
        return []
    query = (
        sa.select(HouseholdMembership, Household)
        .join(Household, Household.id == HouseholdMembership.household_id)
        .where(HouseholdMembership.resident_id == resident.id)
        .order_by(HouseholdMembership.id.desc())
    )
    if not include_history:
        query = query.where(HouseholdMembership.status.in_(OPEN))
    return list(db.session.execute(query))


def get_membership(public_id: str) -> HouseholdMembership:
    membership = db.session.scalar(sa.select(HouseholdMembership).where(HouseholdMembership.public_id == public_id))
    if membership is None:
        raise MembershipNotFound()
    return membership


# --- joining and deciding ------------------------------------------------------------------------------------------


def request_join(user, household_public_id: str, *, role: MembershipRole, note: str | None = None):
    """Ask to join a household; the head (or staff, always for a head) approves. Until then nothing is shown."""
    with atomic():
        resident = require_resident(user)
        household = get_household(household_public_id)
        membership = HouseholdMembership(
            household_id=household.id,
            resident_id=resident.id,
            role=role,
            status=MembershipStatus.pending,
            requested_by_user_id=user.id,
            decision_note=note,
        )
        with refusals(unique=_unique_errors()):
            db.session.add(membership)
        audit.record(
            "household.join.request",
            actor=user,
            target=("membership", membership.public_id),
            after={"household": household.public_id, "role": role.value},
        )
        return membership


def add_member_directly(staff, household: Household, resident: Resident, role: MembershipRole, starts_on=None):
    """Staff add a resident to a household they checked in person (joins the caller's unit of work)."""
    if not can(staff, "membership.decide", household):
        raise Forbidden(details={"action": "membership.decide"})
    membership = HouseholdMembership(
        household_id=household.id,
        resident_id=resident.id,
        role=role,
        status=MembershipStatus.active,
        starts_on=starts_on or today(),
        requested_by_user_id=staff.id,
        decided_by_user_id=staff.id,
        decided_at=utcnow(),
    )
    with refusals(unique=_unique_errors()):
        db.session.add(membership)
    audit.record(
        "household.member.add",
        actor=staff,
        target=("membership", membership.public_id),
        subject=("resident", resident.id),
        after={"household": household.public_id, "role": role.value},
    )
    return membership


def staff_add_member(staff, household_public_id: str, resident_public_id: str, *, role, starts_on=None):
    from app.accounts.residents import staff_resident

    with atomic():
        household = get_household(household_public_id)
        if not in_tenancy(staff, household):
            raise HouseholdNotFound()
        resident = staff_resident(staff, resident_public_id)
        return add_member_directly(staff, household, resident, role, starts_on)


def _decider(user, membership: HouseholdMembership, household: Household) -> str:
    """``"staff"`` or ``"head"`` when the user may decide this request; else 403 (can see it) or 404."""
    if can(user, "membership.decide", household):
        return "staff"
    if membership.role is not MembershipRole.head and is_head(user, household.id):
        return "head"
    requester = db.session.scalar(sa.select(Resident.user_id).where(Resident.id == membership.resident_id))
    if requester == user.id or in_tenancy(user, household) or _active_membership(user, household.id) is not None:
        raise Forbidden(
            "只有户主或社区工作人员可以审核"
            if membership.role is not MembershipRole.head
            else "户主身份须由社区工作人员审核"
        )
    raise MembershipNotFound()


def decide_join(user, membership_public_id: str, *, approve: bool, note: str | None = None, starts_on=None):
    """Approve or reject a join request: exactly one decision wins, even when the head and staff click together."""
    with atomic():
        membership = get_membership(membership_public_id)
        household = db.session.get(Household, membership.household_id)
        via = _decider(user, membership, household)
        values: dict[str, Any] = {"decided_by_user_id": user.id, "decided_at": utcnow(), "decision_note": note}
        if approve:
            values.update(status=MembershipStatus.active, starts_on=starts_on or today())
        else:
            values.update(status=MembershipStatus.rejected)
        with refusals(unique=_unique_errors()):
            updated = db.session.execute(
                sa.update(HouseholdMembership)
                .where(HouseholdMembership.id == membership.id, HouseholdMembership.status == MembershipStatus.pending)
                .values(**values)
                .returning(HouseholdMembership.id)
            ).scalar()
        if updated is None:
            raise MembershipNotPending()
        db.session.refresh(membership)
        audit.record(
            "household.join.approve" if approve else "household.join.reject",
            actor=user,
            target=("membership", membership.public_id),
            subject=("resident", membership.resident_id),
            after={"via": via},
            reason=note,
        )
        log.info("membership %s %s by user %s (%s)", membership.id, values["status"].value, user.id, via)
        return membership


def end_membership(user, membership_public_id: str, *, ends_on: date | None = None, note: str | None = None):
    """Move out (active → ended on ``ends_on``, default today) or withdraw a pending request (→ cancelled).

    The member, the head of the household or staff may end a membership; an ended one drops out of every scope.
    """
    with atomic():
        membership = get_membership(membership_public_id)
        household = db.session.get(Household, membership.household_id)
        own = db.session.scalar(sa.select(Resident.user_id).where(Resident.id == membership.resident_id)) == user.id
        staff = can(user, "membership.decide", household)
        head = is_head(user, household.id)
        if not (own or staff or head):
            if in_tenancy(user, household):
                raise Forbidden()
            raise MembershipNotFound()
        if membership.status is MembershipStatus.pending:
            if not (own or staff):
                raise Forbidden("只有申请人或工作人员可以撤回申请")
            new_status, values = MembershipStatus.cancelled, {}
        elif membership.status is MembershipStatus.active:
            ends_on = ends_on or today()
            if ends_on > today():
                raise ValidationFailed(details={"fields": {"ends_on": ["迁出日期不能晚于今天"]}})
            if membership.starts_on and ends_on < membership.starts_on:
                raise ValidationFailed(details={"fields": {"ends_on": ["迁出日期不能早于入户日期"]}})
            new_status, values = MembershipStatus.ended, {"ends_on": ends_on}
        else:
            raise MembershipNotActive()
        updated = db.session.execute(
            sa.update(HouseholdMembership)
            .where(HouseholdMembership.id == membership.id, HouseholdMembership.status == membership.status)
            .values(status=new_status, ended_by_user_id=user.id, **values)
            .returning(HouseholdMembership.id)
        ).scalar()
        if updated is None:
            raise MembershipNotActive()
        db.session.refresh(membership)
        audit.record(
            "household.member.end" if new_status is MembershipStatus.ended else "household.join.cancel",
            actor=user,
            target=("membership", membership.public_id),
            subject=("resident", membership.resident_id),
            reason=note,
        )
        return membership


# --- for other packages --------------------------------------------------------------------------------------------


def active_household_ids(resident_id: int) -> list[int]:
    """Households the resident belongs to now (ended memberships excluded)."""
    return list(
        db.session.scalars(
            sa.select(HouseholdMembership.household_id).where(
                HouseholdMembership.resident_id == resident_id, HouseholdMembership.status == MembershipStatus.active
            )
        )
    )


def household_resident_ids(household_id: int, *, include_ended: bool = False) -> list[int]:
    """Residents of a household: active members, or everyone who ever was with ``include_ended``."""
    statuses = [MembershipStatus.active, MembershipStatus.ended] if include_ended else [MembershipStatus.active]
    return list(
        db.session.scalars(
            sa.select(HouseholdMembership.resident_id).where(
                HouseholdMembership.household_id == household_id, HouseholdMembership.status.in_(statuses)
            )
        )
    )


def resident_ids_in_communities(community_ids: list[int]) -> list[int]:
    """Residents with an active membership in any of the communities (audiences for notices, bills)."""
    return list(
        db.session.scalars(
            sa.select(HouseholdMembership.resident_id)
            .distinct()
            .join(Household, Household.id == HouseholdMembership.household_id)
            .where(Household.community_id.in_(community_ids), HouseholdMembership.status == MembershipStatus.active)
        )
    )


# --- views ---------------------------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1)


def member_rows(rows: list[tuple[HouseholdMembership, Resident]], *, staff: bool) -> list[dict[str, Any]]:
    """Members for display: staff see full names and who approved; members see masked names."""
    deciders = {}
    if staff:
        from app.accounts.models import User

        ids = {m.decided_by_user_id for m, _ in rows if m.decided_by_user_id}
        if ids:
            deciders = dict(list(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids)))))
    return [
        {
            "membership_id": membership.public_id,
            "resident_id": resident.public_id,
            "name": resident.real_name if staff else mask_name(resident.real_name),
            "role": membership.role.value,
            "status": membership.status.value,
            "starts_on": membership.starts_on,
            "ends_on": membership.ends_on,
            "decided_by": deciders.get(membership.decided_by_user_id),
            "decided_at": membership.decided_at,
        }
        for membership, resident in rows
    ]


def household_view(user, public_id: str) -> dict[str, Any]:
    """A household for its members (masked co-members) or staff in scope; 404 for anyone else."""
    from app.community.services import household_address

    household, view = household_for(user, public_id)
    statuses = (MembershipStatus.active,)
    if view == "staff" or is_head(user, household.id):
        statuses = (MembershipStatus.active, MembershipStatus.pending)
    return {
        "id": household.public_id,
        "address": household_address(household),
        "floor": household.floor,
        "floor_area_dm2": household.floor_area_dm2,
        "view": view,
        "members": member_rows(members_of(household.id, statuses=statuses), staff=view == "staff"),
    }


def membership_view(membership: HouseholdMembership, address: dict[str, Any] | None = None) -> dict[str, Any]:
    """A membership as its resident sees it: the address they chose and the status, nothing of the members.
    ``address``: the household's, when a list has read them all at once (``household_addresses``)."""
    from app.community.services import household_address

    household = db.session.get(Household, membership.household_id)
    return {
        "id": membership.public_id,
        "household": {"id": household.public_id, "address": address or household_address(household)},
        "role": membership.role.value,
        "status": membership.status.value,
        "starts_on": membership.starts_on,
        "ends_on": membership.ends_on,
        "decided_at": membership.decided_at,
        "created_at": membership.created_at,
    }
