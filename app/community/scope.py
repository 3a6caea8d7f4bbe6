"""The ``community`` scope kind: a role over a region covers its subtree (a street's staff see its communities)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.auth.scopes import register_scope_kind
from app.community.models import Region, RegionKind
from app.extensions import db


def region_ancestors(region_ids: Iterable[int]) -> set[int]:
    """The regions given and all their ancestors (one recursive query)."""
    ids = {int(i) for i in region_ids if i is not None}
    if not ids:
        return set()
    up = sa.select(Region.id, Region.parent_id).where(Region.id.in_(ids)).cte("up", recursive=True)
    parent = aliased(Region)
    up = up.union(sa.select(parent.id, parent.parent_id).join(up, parent.id == up.c.parent_id))
    return set(db.session.scalars(sa.select(up.c.id)))


def communities_under(region_id: int) -> sa.Select:
    """A SELECT of the ids of every community in the region's subtree (the region itself when it is a community):
    one recursive query, to run alone or inside another statement."""
    down = sa.select(Region.id, Region.kind).where(Region.id == region_id).cte("regions_down", recursive=True)
    child = aliased(Region)
    down = down.union(sa.select(child.id, child.kind).join(down, child.parent_id == down.c.id))
    return sa.select(down.c.id).where(down.c.kind == RegionKind.community)


def community_ids_under(region_id: int) -> frozenset[int]:
    """Every community in the region's subtree (the region itself when it is a community)."""
    return frozenset(db.session.scalars(communities_under(region_id)))


def entity_community_ids(entity: Any) -> set[int]:
    """Communities an entity belongs to: ``scope_community_ids()`` when it has one, else its ``community_id``."""
    method = getattr(entity, "scope_community_ids", None)
    if callable(method):
        return {int(i) for i in method()}
    community_id = getattr(entity, "community_id", None)
    return {int(community_id)} if community_id is not None else set()


def _contains(scope_id: int | None, entity: Any) -> bool:
    if scope_id is None:
        return False
    if isinstance(entity, Region):
        return scope_id in region_ancestors([entity.id])
    return scope_id in region_ancestors(entity_community_ids(entity))


def _resolve(scope_id: int | None) -> frozenset[int]:
    return community_ids_under(scope_id) if scope_id is not None else frozenset()


register_scope_kind("community", contains=_contains, resolve_community_ids=_resolve)
