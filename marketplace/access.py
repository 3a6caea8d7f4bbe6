"""The ``vendor`` scope kind and the marketplace's scoped actions.

A vendor's staff hold ``owner``, ``clerk`` or ``courier`` over ``("vendor", vendor.id)``; that scope contains the
vendor itself and everything carrying its ``vendor_id`` (products, orders). Community staff reach a vendor through
the ``community`` kind, because a vendor names the communities it serves (``Vendor.scope_community_ids``): staff of a
community the vendor does not serve get 404, a clerk asking to approve vendors gets 403.
"""

from __future__ import annotations

from typing import Any

from app.auth.scopes import register_action, register_scope_kind


def _contains(scope_id: int | None, entity: Any) -> bool:
    return scope_id is not None and getattr(entity, "vendor_id", None) == scope_id


register_scope_kind("vendor", contains=_contains, resolve_community_ids=lambda _scope_id: frozenset())

COMMUNITY_STAFF = ("admin", "staff")
for _action, _roles in {
    "marketplace.vendor.read": (*COMMUNITY_STAFF, "owner", "clerk", "courier"),
    "marketplace.vendor.decide": COMMUNITY_STAFF,  # approve, reject, suspend, reinstate (audited)
    "marketplace.vendor.manage": ("owner",),  # profile, staff
    "marketplace.product.manage": ("owner", "clerk"),
    "marketplace.order.read": ("owner", "clerk", "courier"),
    "marketplace.order.decide": ("owner", "clerk"),  # accept, reject (refund), prepare
    "marketplace.order.fulfil": ("owner", "clerk", "courier"),  # ready, complete
}.items():
    register_action(_action, _roles)
