"""The ``provider`` scope kind and eldercare's scoped actions.

A provider's people hold ``provider_admin`` or ``caregiver`` over ``("provider", provider.id)``; that scope contains
the provider and everything carrying its ``provider_id`` (offers, care orders). Community staff reach a provider
through the ``community`` kind (``Provider.scope_community_ids``): staff of a community it does not serve get 404.
"""

from __future__ import annotations

from typing import Any, NoReturn

from app.auth.scopes import register_action, register_scope_kind


def _contains(scope_id: int | None, entity: Any) -> bool:
    return scope_id is not None and getattr(entity, "provider_id", None) == scope_id


register_scope_kind("provider", contains=_contains, resolve_community_ids=lambda _scope_id: frozenset())

COMMUNITY_STAFF = ("admin", "staff")
for _action, _roles in {
    "eldercare.provider.read": (*COMMUNITY_STAFF, "provider_admin", "caregiver"),
    "eldercare.provider.decide": COMMUNITY_STAFF,  # approve, reject, suspend (audited)
    "eldercare.provider.manage": ("provider_admin",),  # offers, staff
    "eldercare.order.read": ("provider_admin", "caregiver"),
    "eldercare.order.decide": ("provider_admin",),  # accept, decline
    "eldercare.elder.assess": COMMUNITY_STAFF,  # care level
}.items():
    register_action(_action, _roles)


def refuse(user, resident_id: int, not_found: Exception) -> NoReturn:
    """Refuse a caller off the elder's side: ``not_found`` (404), except a family member whose delegation from the
    elder exists but does not allow ``eldercare``: 403 ``delegation_denied`` (see ``delegate_or_refuse``)."""
    from app.accounts.delegation import delegate_or_refuse

    delegate_or_refuse(user, "eldercare", resident_id=resident_id)
    raise not_found
