"""Staff merge two accounts of one person that both hold data (what linking by phone refuses), audited.

``merge_accounts(staff, keep=…, fold=…, reason=…)`` in one unit of work:

- login identifiers of ``fold`` move to ``keep`` where ``keep`` lacks them (``app.auth.linking.fold_account``, the
  code linking by phone uses); where both hold one, ``keep``'s stays and ``fold``'s is dropped (named in the answer
  and the audit entry, so staff can tell the person which login no longer works);
- role assignments move (one ``keep`` already holds is dropped as a duplicate);
- the resident (the person's real-name record) moves when only ``fold`` has one. When both accounts have one, the
  merge is refused with 409 ``residents_must_be_merged``: residents carry memberships, delegations, tags, consents
  and other domains' records (payments keep a resident with ``RESTRICT``), so merging two of them is its own
  reviewed operation, not a side effect of merging logins. Every way a resident gets linked to an account requires a
  document, so in practice both residents hold documents;
- the merge steps domains registered run (``register_merge_step``), for rows they key by account;
- ``fold`` is deactivated with ``merged_into_id`` and its sessions are revoked.

Who may merge: a platform admin, or community staff/admins over the resident of the accounts (``account.merge``;
outside their communities 404, a grid worker 403). Accounts holding role assignments are merged by platform admins
only, since moving roles changes who may do what; and nobody merges their own account.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app import audit
from app.accounts.models import User
from app.auth import errors
from app.auth.core import has_platform_role
from app.auth.linking import fold_account, lock_users
from app.auth.models import RoleAssignment
from app.auth.scopes import authorize, register_action
from app.community.integrity import refusals
from app.db import atomic
from app.extensions import db

log = logging.getLogger(__name__)

register_action("account.merge", ("admin", "staff"))

#: name → ``step(absorbed_user_id, survivor_user_id)``: move the domain's rows keyed by account.
_merge_steps: dict[str, Callable[[int, int], None]] = {}


def register_merge_step(name: str, step: Callable[[int, int], None]) -> None:
    """Register ``step(absorbed_user_id, survivor_user_id)``, run inside a staff merge's unit of work after the
    identities, roles and resident moved. Move the domain's own rows keyed by account (an UPDATE); raise an
    ``APIError`` to refuse the merge (everything rolls back). A domain that registers a data check
    (``register_data_check``) says here what a merge does with that data; rows left behind stay with the folded
    account, which keeps existing (inactive) for the records that name it."""
    _merge_steps[name] = step


@dataclass
class Merged:
    """The outcome of a staff merge."""

    user: User
    folded: User
    moved: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    roles_moved: list[dict[str, Any]] = field(default_factory=list)
    resident_public_id: str | None = None


@dataclass(frozen=True)
class _NoResident:
    """An account without a resident lies in no community: only the platform scope covers it."""

    def scope_community_ids(self) -> set[int]:
        return set()


def _account(public_id: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.public_id == public_id))
    if user is None:
        raise errors.AccountNotFound(details={"user_id": public_id})
    return user


def _residents_of(*user_ids: int) -> dict[int, Any]:
    from app.accounts.resident_models import Resident

    rows = db.session.scalars(
        sa.select(Resident).where(Resident.user_id.in_(user_ids)).order_by(Resident.id).with_for_update()
    ).all()
    return {resident.user_id: resident for resident in rows}


def _move_roles(absorbed: User, survivor: User) -> list[dict[str, Any]]:
    """Move the role assignments the survivor lacks and drop the duplicates (helper: flushes only)."""
    held = aliased(RoleAssignment)
    duplicate = sa.exists().where(
        held.user_id == survivor.id,
        held.role == RoleAssignment.role,
        held.scope_kind == RoleAssignment.scope_kind,
        held.scope_id.is_not_distinct_from(RoleAssignment.scope_id),
    )
    moved = db.session.execute(
        sa.update(RoleAssignment)
        .where(RoleAssignment.user_id == absorbed.id, ~duplicate)
        .values(user_id=survivor.id)
        .returning(RoleAssignment.role, RoleAssignment.scope_kind, RoleAssignment.scope_id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.execute(
        sa.delete(RoleAssignment)
        .where(RoleAssignment.user_id == absorbed.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(
        ({"role": role, "scope_kind": kind, "scope_id": scope_id} for role, kind, scope_id in moved),
        key=lambda item: (item["scope_kind"], item["scope_id"] or 0, item["role"]),
    )


def merge_accounts(staff: User, *, keep: str, fold: str, reason: str) -> Merged:
    """Fold account ``fold`` into account ``keep`` (public ids): the same person, checked by staff.

    :raises MergeSameAccount: ``keep`` and ``fold`` are one account (422).
    :raises AccountNotFound: no such account, or outside the caller's communities (404).
    :raises Forbidden: inside them, but the caller's role does not allow merging (403).
    :raises MergeOwnAccount: the caller is one of the two (403).
    :raises MergeNeedsPlatformAdmin: an account holds role assignments and the caller is not a platform admin (403).
    :raises AccountInactive: either account is deactivated or already merged (409).
    :raises ResidentsMustBeMerged: both accounts are linked to residents (409).
    """
    if keep == fold:
        raise errors.MergeSameAccount()
    with atomic():
        found = {public_id: _account(public_id) for public_id in (keep, fold)}
        locked = lock_users(*(user.id for user in found.values()))
        survivor, absorbed = locked[found[keep].id], locked[found[fold].id]
        residents = _residents_of(survivor.id, absorbed.id)
        for subject in [*residents.values()] or [_NoResident()]:
            authorize(staff, "account.merge", subject, not_found=errors.AccountNotFound)
        if staff.id in (survivor.id, absorbed.id):
            raise errors.MergeOwnAccount()
        holds_roles = db.session.scalar(
            sa.select(sa.exists().where(RoleAssignment.user_id.in_([survivor.id, absorbed.id])))
        )
        if holds_roles and not has_platform_role(staff, "admin"):
            raise errors.MergeNeedsPlatformAdmin()
        for user in (survivor, absorbed):
            if not user.is_active:
                merged_into = db.session.get(User, user.merged_into_id) if user.merged_into_id else None
                raise errors.AccountInactive(
                    details={"user_id": user.public_id, "merged_into": merged_into.public_id if merged_into else None}
                )
        if survivor.id in residents and absorbed.id in residents:
            raise errors.ResidentsMustBeMerged(
                details={
                    "keep_resident": residents[survivor.id].public_id,
                    "fold_resident": residents[absorbed.id].public_id,
                }
            )

        folded = fold_account(absorbed, survivor, survivor_wins=True, reason="account_merged")
        merged = Merged(user=survivor, folded=absorbed, moved=folded.moved, dropped=folded.dropped)
        merged.roles_moved = _move_roles(absorbed, survivor)
        resident = residents.get(absorbed.id)
        if resident is not None:
            # The database decides if the kept account gave its details meanwhile (one resident per account).
            with refusals(unique=errors.ResidentsMustBeMerged(details={"fold_resident": resident.public_id})):
                resident.user_id = survivor.id
        resident = resident or residents.get(survivor.id)
        merged.resident_public_id = resident.public_id if resident is not None else None
        for step in _merge_steps.values():
            step(absorbed.id, survivor.id)
        db.session.flush()
        audit.record(
            "auth.accounts_merged",
            actor=staff,
            target=("user", survivor.public_id),
            before={"keep": survivor.public_id, "fold": absorbed.public_id},
            after={
                "moved": merged.moved,
                "dropped": merged.dropped,
                "roles_moved": merged.roles_moved,
                "resident_moved": residents[absorbed.id].public_id if absorbed.id in residents else None,
                "steps": sorted(_merge_steps),
            },
            reason=reason,
        )
        log.info("account %s merged into %s by user %s", absorbed.id, survivor.id, staff.id)
        return merged
