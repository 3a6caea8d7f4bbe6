"""The same verified phone is the same person: linking two accounts that turn out to share a phone.

Whether an account "holds data" is a registry the domains fill: ``register_data_check(name, fn)`` with
``fn(user_id) -> bool``. The platform registers one check itself, ``role_assignments`` (an account holding any role
holds data: it is staff, a vendor or a provider). Residents, orders, applications and posts register theirs as
they land; until then an account holds data exactly when it has role assignments.

When a phone verified for account A is already held by account B:

- B holds no data: B is folded into A (A keeps the phone, and any login identifier A lacks);
- else A holds no data: A is folded into B, and the caller continues as B (new tokens);
- both hold data: refused with ``phone_bound_to_other_account``; staff merge them (``app.auth.merge``, audited).

Folding (``fold_account``, shared by both) moves login identifiers (WeChat openid/unionid, phone, username with its
password), deactivates the folded account (``merged_into_id``) and revokes its sessions; the caller writes the audit
entry. A folded account keeps no login identifier. When linking by phone, an identifier both accounts hold with
different values (two WeChat identities, two usernames) is a conflict: staff decide. A staff merge decides: the kept
account keeps its own, and the folded account's value is dropped (named in the audit entry).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from app import audit
from app.accounts.models import User
from app.auth.errors import PhoneBoundToOtherAccount
from app.auth.models import RoleAssignment
from app.db import atomic, utcnow
from app.extensions import db

log = logging.getLogger(__name__)

_data_checks: dict[str, Callable[[int], bool]] = {}

#: Login identifiers that move with a link (password_hash goes with username).
IDENTIFIERS = ("wechat_openid", "wechat_unionid", "phone", "username")


def register_data_check(name: str, check: Callable[[int], bool]) -> None:
    """Register ``check(user_id) -> bool``: does the account hold this domain's data? (Runs in the caller's
    transaction; keep it to one EXISTS query.)"""
    _data_checks[name] = check


def registered_data_checks() -> dict[str, Callable[[int], bool]]:
    return dict(_data_checks)


def _has_role_assignments(user_id: int) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(RoleAssignment.user_id == user_id))))


register_data_check("role_assignments", _has_role_assignments)


def holds_data(user_id: int) -> bool:
    """Whether any registered domain says the account holds its data."""
    return any(check(user_id) for check in _data_checks.values())


@dataclass
class PhoneBinding:
    """The outcome of binding a verified phone: the account that now holds it."""

    user: User
    #: The account folded into ``user`` (None when no link was needed).
    absorbed: User | None = None
    #: The caller's own account was the one folded away: the client continues as ``user`` with new tokens.
    switched: bool = False


def lock_users(*ids: int) -> dict[int, User]:
    """Lock the accounts ``FOR UPDATE`` (fresh from the database) and return them by id."""
    # Always in id order, so two requests linking the same pair cannot deadlock.
    users = db.session.scalars(
        sa.select(User)
        .where(User.id.in_(ids))
        .order_by(User.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {user.id: user for user in users}


@dataclass
class Folded:
    """What folding moved: identifiers now on the survivor, and the absorbed account's identifiers dropped because
    the survivor holds its own (staff merge only)."""

    moved: list[str]
    dropped: list[str]


def fold_account(
    absorbed: User,
    survivor: User,
    *,
    identifiers: tuple[str, ...] = IDENTIFIERS,
    survivor_wins: bool = False,
    reason: str = "account_linked",
) -> Folded:
    """Move ``absorbed``'s login ``identifiers`` to ``survivor``, deactivate ``absorbed`` (``merged_into_id``) and
    revoke its sessions (helper: flushes only; both rows locked by the caller, who writes the audit entry).

    The phone goes with its ``phone_verified_at``, the username with its password hash. Identifiers not named in
    ``identifiers`` are cleared on ``absorbed`` without moving.

    :param survivor_wins: when both hold an identifier with different values, keep the survivor's and drop the
        absorbed one's (a staff merge); otherwise refuse.
    :raises PhoneBoundToOtherAccount: (``details.reason = identity_conflict``) a conflict and not ``survivor_wins``.
    """
    from app.auth.sessions import revoke_user_sessions

    held = {name: getattr(absorbed, name) for name in identifiers if getattr(absorbed, name) is not None}
    moving = {name: value for name, value in held.items() if getattr(survivor, name) is None}
    conflicting = sorted(
        name for name, value in held.items() if name not in moving and getattr(survivor, name) != value
    )
    if conflicting and not survivor_wins:
        raise PhoneBoundToOtherAccount(details={"reason": "identity_conflict"})
    carried = {"password_hash": absorbed.password_hash, "phone_verified_at": absorbed.phone_verified_at}
    for name in IDENTIFIERS:
        setattr(absorbed, name, None)
    absorbed.password_hash = absorbed.phone_verified_at = None
    absorbed.is_active = False
    absorbed.merged_into_id = survivor.id
    db.session.flush()  # free the unique identifiers before the survivor takes them
    for name, value in moving.items():
        setattr(survivor, name, value)
    if "username" in moving:
        survivor.password_hash = carried["password_hash"]
    if "phone" in moving:
        survivor.phone_verified_at = carried["phone_verified_at"]
    # Accounts folded into ``absorbed`` earlier now point at the survivor, so ``merged_into_id`` never chains.
    db.session.execute(sa.update(User).where(User.merged_into_id == absorbed.id).values(merged_into_id=survivor.id))
    db.session.flush()
    revoke_user_sessions(absorbed.id, reason=reason)
    return Folded(moved=sorted(moving), dropped=conflicting)


def _link(absorbed: User, survivor: User, *, actor: User, phone: str) -> None:
    """Fold an account that holds no data into the one sharing its verified phone (the caller sets the phone)."""
    identifiers = tuple(name for name in IDENTIFIERS if name != "phone")
    before = {"survivor": survivor.public_id, "absorbed": absorbed.public_id}
    folded = fold_account(absorbed, survivor, identifiers=identifiers)
    audit.record(
        "auth.account_linked",
        actor=actor,
        target=("user", survivor.public_id),
        before=before,
        after={"moved": folded.moved, "phone": phone},
        reason="same verified phone",
    )
    log.info("account %s linked into %s (same verified phone)", absorbed.id, survivor.id)


def bind_verified_phone(user: User, phone: str) -> PhoneBinding:
    """Give ``user`` the verified ``phone`` (E.164), linking accounts when another one holds it.

    :raises PhoneBoundToOtherAccount: both accounts hold data (or hold different identities of one kind).
    """
    with atomic():
        other_id = db.session.scalar(sa.select(User.id).where(User.phone == phone, User.id != user.id))
        locked = lock_users(user.id, *([other_id] if other_id else []))
        me = locked[user.id]
        other = locked.get(other_id) if other_id else None
        if other is not None and other.phone != phone:
            other = None  # it let go of the phone while we waited for the lock
        binding = PhoneBinding(user=me)
        if other is not None:
            if not holds_data(other.id):
                _link(other, me, actor=me, phone=phone)
                binding = PhoneBinding(user=me, absorbed=other)
            elif not holds_data(me.id):
                _link(me, other, actor=me, phone=phone)
                binding = PhoneBinding(user=other, absorbed=me, switched=True)
            else:
                raise PhoneBoundToOtherAccount()
        survivor = binding.user
        if survivor.phone != phone:
            previous = survivor.phone
            survivor.phone = phone
            if previous:
                audit.record(
                    "auth.phone_changed",
                    actor=me,
                    target=("user", survivor.public_id),
                    before={"phone": previous},
                    after={"phone": phone},
                )
        survivor.phone_verified_at = utcnow()
        db.session.flush()
        return binding
