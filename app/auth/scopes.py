"""Scope kinds, scoped actions and the checks: 404 outside a caller's tenancy, 403 inside it but beyond their role.

A user holds role assignments ``(role, scope_kind, scope_id)``. Each scope kind is registered with two callables:

- ``contains(scope_id, entity) -> bool``: does this scope cover the entity?
- ``resolve_community_ids(scope_id) -> frozenset[int] | None``: the communities the scope covers, for list filters
  (``None`` means every community; a kind unrelated to communities returns an empty set).

The platform ships ``platform`` (covers everything) and, from ``app.community``, ``community`` (a region's subtree:
staff of a street or district see its communities). Domains register their own kinds (vendor, provider) and their
own actions (``register_action("marketplace.refund", {"owner", "clerk"})``).

Endpoints declare their rule with ``scoped(...)``, which signs the caller in and writes the rule into the OpenAPI
operation (``x-access``), and services enforce it with ``authorize(user, action, entity)`` once they hold the entity.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.errors import Forbidden, NotFound
from app.extensions import db

#: Roles this issue ships for the platform and community scopes.
ROLES = ("admin", "staff", "grid_worker")
ROLE_LABELS = {"admin": "管理员", "staff": "工作人员", "grid_worker": "网格员"}


@dataclass(frozen=True)
class ScopeKind:
    kind: str
    contains: Callable[[int | None, Any], bool]
    resolve_community_ids: Callable[[int | None], frozenset[int] | None]


SCOPE_KINDS: dict[str, ScopeKind] = {}

#: action → roles allowed to perform it over an entity inside their scope.
ACTIONS: dict[str, frozenset[str]] = {}


def register_scope_kind(
    kind: str,
    *,
    contains: Callable[[int | None, Any], bool],
    resolve_community_ids: Callable[[int | None], frozenset[int] | None] | None = None,
) -> None:
    """Register a scope kind (idempotent for the same callables; a different registration under a taken name fails)."""
    existing = SCOPE_KINDS.get(kind)
    item = ScopeKind(kind, contains, resolve_community_ids or (lambda _scope_id: frozenset()))
    if existing is not None and existing.contains is not contains:
        raise ValueError(f"scope kind {kind!r} is already registered")
    SCOPE_KINDS[kind] = item


def register_action(action: str, roles: Iterable[str]) -> None:
    """Declare which roles may perform ``action`` inside their scope."""
    ACTIONS[action] = frozenset(roles)


register_scope_kind("platform", contains=lambda _scope_id, _entity: True, resolve_community_ids=lambda _scope_id: None)

_ALL = ROLES
_STAFF = ("admin", "staff")
for _action, _roles in {
    "community.read": _ALL,  # see the tree with floor areas and members
    "community.manage": _STAFF,  # create, edit, delete and import tree nodes
    "roles.manage": ("admin",),  # assign roles over a region
    "resident.read": _ALL,
    "resident.register": _ALL,  # grid workers register residents door to door; staff verify them
    "resident.update": _STAFF,
    "resident.verify": _STAFF,
    "resident.tag": _STAFF,
    "resident.unmask": _STAFF,  # view a full document number (logged)
    "resident.act_for": _STAFF,  # act for a walk-in or phone caller (with a reason, logged)
    "membership.decide": _STAFF,
    "delegation.decide": _STAFF,
}.items():
    register_action(_action, _roles)


@dataclass(frozen=True)
class Assignment:
    role: str
    scope_kind: str
    scope_id: int | None


def assignments_of(user) -> list[Assignment]:
    """The user's role assignments (one query)."""
    from app.auth.models import RoleAssignment

    rows = db.session.execute(
        sa.select(RoleAssignment.role, RoleAssignment.scope_kind, RoleAssignment.scope_id).where(
            RoleAssignment.user_id == user.id
        )
    ).all()
    return [Assignment(*row) for row in rows]


def roles_over(user, entity: Any, *, assignments: list[Assignment] | None = None) -> set[str]:
    """Every role the user holds over ``entity`` through any registered scope kind."""
    roles: set[str] = set()
    for item in assignments if assignments is not None else assignments_of(user):
        kind = SCOPE_KINDS.get(item.scope_kind)
        if kind is not None and item.role not in roles and kind.contains(item.scope_id, entity):
            roles.add(item.role)
    return roles


def can(user, action: str, entity: Any) -> bool:
    """Whether ``user`` may perform ``action`` on ``entity``."""
    return bool(roles_over(user, entity) & ACTIONS[action])


def authorize(user, action: str, entity: Any, *, not_found: type[NotFound] = NotFound) -> set[str]:
    """Raise unless ``user`` may perform ``action`` on ``entity``; return the roles they hold over it.

    :raises NotFound: the entity is outside every scope the user holds (its existence is not revealed).
    :raises Forbidden: inside a scope, but none of the user's roles there allows the action.
    """
    roles = roles_over(user, entity)
    if not roles:
        raise not_found()
    if not roles & ACTIONS[action]:
        raise Forbidden(details={"action": action, "roles": sorted(roles)})
    return roles


def in_tenancy(user, entity: Any) -> bool:
    """Whether the entity lies inside any scope the user holds (any role)."""
    return bool(roles_over(user, entity))


def community_ids_for(user, action: str | None = None) -> frozenset[int] | None:
    """Communities where the user may perform ``action`` (any role when None); ``None`` means every community."""
    allowed = ACTIONS[action] if action else None
    ids: set[int] = set()
    for item in assignments_of(user):
        if allowed is not None and item.role not in allowed:
            continue
        kind = SCOPE_KINDS.get(item.scope_kind)
        if kind is None:
            continue
        resolved = kind.resolve_community_ids(item.scope_id)
        if resolved is None:
            return None
        ids.update(resolved)
    return frozenset(ids)


def has_any_role(user, roles: Collection[str] = ROLES) -> bool:
    return any(item.role in roles for item in assignments_of(user))


def scoped(action: str | None = None, *, also: str | None = None) -> Callable:
    """Sign the caller in and document the rule in OpenAPI ``x-access``; the service enforces it on the entity.

    ``action`` names a scoped action (roles from ``ACTIONS``; outside the caller's scopes → 404, inside without an
    allowed role → 403). ``also`` says in words who else may call (e.g. "the resident themself").
    """
    from app.auth.core import require

    def decorator(view: Callable) -> Callable:
        wrapped = require()(view)
        rule = wrapped._apidoc["manual_doc"]["x-access"]
        if action is not None:
            rule["scope"] = {
                "action": action,
                "roles": sorted(ACTIONS[action]),
                "outside_scope": 404,
                "role_not_allowed": 403,
            }
        if also:
            rule["also"] = also
        return wrapped

    return decorator


def acting_for(actor_user, subject_public_id: str, scope: str, *, reason: str | None = None):
    """Resolve the resident ``actor_user`` acts for (see ``app.accounts.delegation.acting_for``)."""
    from app.accounts.delegation import acting_for as resolve

    return resolve(actor_user, subject_public_id, scope, reason=reason)
