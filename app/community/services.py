"""Use cases for the community tree: read the directory, and create, edit and delete nodes within one's scope."""

from __future__ import annotations

import enum
import logging
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app import audit
from app.api import decode_cursor, encode_cursor
from app.auth.scopes import authorize, can
from app.community.errors import (
    BuildingNotFound,
    EstateNotFound,
    HasChildren,
    HouseholdNotFound,
    NameTaken,
    RegionNotFound,
    UnitNotFound,
    WrongParentKind,
)
from app.community.integrity import flush_checked
from app.community.models import PARENT_KIND, Building, Estate, Household, Region, RegionKind, Unit
from app.db import atomic
from app.errors import Forbidden, ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)


class TreeRoot:
    """The entity "the whole tree": only platform scopes contain it (creating a district is a platform act)."""

    community_id = None


ROOT = TreeRoot()


# --- lookups -------------------------------------------------------------------------------------------------------


def _get(model, public_id: str, error: type) -> Any:
    row = db.session.scalar(sa.select(model).where(model.public_id == public_id))
    if row is None:
        raise error()
    return row


def get_region(public_id: str) -> Region:
    return _get(Region, public_id, RegionNotFound)


def get_estate(public_id: str) -> Estate:
    return _get(Estate, public_id, EstateNotFound)


def get_building(public_id: str) -> Building:
    return _get(Building, public_id, BuildingNotFound)


def get_unit(public_id: str) -> Unit:
    return _get(Unit, public_id, UnitNotFound)


def get_household(public_id: str) -> Household:
    return _get(Household, public_id, HouseholdNotFound)


def get_community(public_id: str) -> Region:
    region = get_region(public_id)
    if region.kind is not RegionKind.community:
        raise RegionNotFound("社区不存在")
    return region


def community_ids_for_public_ids(public_ids: list[str]) -> list[int]:
    """The ids of the communities named by public id, in the order given, duplicates dropped.

    :raises ValidationFailed: (422, ``details.fields.community_ids``) some id names no community.
    """
    ids = dict(
        db.session.execute(
            sa.select(Region.public_id, Region.id).where(
                Region.public_id.in_(public_ids), Region.kind == RegionKind.community
            )
        ).all()
    )
    missing = [p for p in public_ids if p not in ids]
    if missing:
        raise ValidationFailed(details={"fields": {"community_ids": {p: ["社区不存在"] for p in missing}}})
    return [ids[p] for p in dict.fromkeys(public_ids)]


def household_address(household: Household) -> dict[str, Any]:
    """Names from community to room, for display (``社区 · 小区 · 3号楼 · 1单元 · 502``)."""
    return household_addresses([household])[household.id]


def household_addresses(households) -> dict[int, dict[str, Any]]:
    """:func:`household_address` of many households in one statement: household id → address (lists use it)."""
    households = list(households)
    if not households:
        return {}
    rows = db.session.execute(
        sa.select(Household.id, Region.name, Estate.name, Building.name, Unit.name)
        .select_from(Household)
        .join(Building, Building.id == Household.building_id)
        .join(Estate, Estate.id == Building.estate_id)
        .join(Region, Region.id == Estate.community_id)
        .outerjoin(Unit, Unit.id == Household.unit_id)
        .where(Household.id.in_({household.id for household in households}))
    )
    names = {row[0]: tuple(row[1:]) for row in rows}
    addresses = {}
    for household in households:
        community, estate, building, unit = names[household.id]
        parts = [community, estate, building, unit, household.room]
        addresses[household.id] = {
            "community": community,
            "estate": estate,
            "building": building,
            "unit": unit,
            "room": household.room,
            "label": " · ".join(p for p in parts if p),
        }
    return addresses


# --- directory (any signed-in user: names only, nothing personal) --------------------------------------------------


def list_regions(*, parent_public_id: str | None = None, kind: RegionKind | None = None) -> list[Region]:
    query = sa.select(Region).order_by(Region.name, Region.id)
    if parent_public_id:
        query = query.where(Region.parent_id == get_region(parent_public_id).id)
    elif kind is None:
        query = query.where(Region.parent_id.is_(None))
    if kind is not None:
        query = query.where(Region.kind == kind)
    return list(db.session.scalars(query))


def list_estates(community_public_id: str) -> list[Estate]:
    community = get_community(community_public_id)
    return list(db.session.scalars(sa.select(Estate).where(Estate.community_id == community.id).order_by(Estate.name)))


def list_buildings(estate_public_id: str) -> list[Building]:
    estate = get_estate(estate_public_id)
    return list(
        db.session.scalars(
            sa.select(Building)
            .where(Building.estate_id == estate.id)
            .order_by(sa.func.length(Building.name), Building.name)
        )
    )


def list_units(building_public_id: str) -> list[Unit]:
    building = get_building(building_public_id)
    return list(
        db.session.scalars(
            sa.select(Unit).where(Unit.building_id == building.id).order_by(sa.func.length(Unit.name), Unit.name)
        )
    )


def list_households(
    building_public_id: str, *, unit_public_id: str | None = None, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """Rooms of a building (optionally one unit) in natural order (unit, then room: 101 … 1001), a page at a time.

    The cursor carries the last unit and room names, never an integer key.
    """
    building = get_building(building_public_id)
    unit_name = sa.func.coalesce(Unit.name, "")
    keys = [sa.func.length(unit_name), unit_name, sa.func.length(Household.room), Household.room]
    query = (
        sa.select(Household, unit_name)
        .outerjoin(Unit, Unit.id == Household.unit_id)
        .where(Household.building_id == building.id)
    )
    if unit_public_id:
        unit = get_unit(unit_public_id)
        if unit.building_id != building.id:
            raise UnitNotFound()
        query = query.where(Household.unit_id == unit.id)
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != len(keys):
            decode_cursor("!")  # raises the same validation error
        query = query.where(sa.tuple_(*keys) > sa.tuple_(*[sa.literal(v) for v in values]))
    rows = db.session.execute(query.order_by(*keys).limit(limit + 1)).all()
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last, last_unit = items[-1]
        next_cursor = encode_cursor([len(last_unit), last_unit, len(last.room), last.room])
    return {"items": [household for household, _ in items], "next_cursor": next_cursor}


# --- regions -------------------------------------------------------------------------------------------------------


def create_region(user, *, kind: RegionKind, name: str, parent_public_id: str | None = None, code: str | None = None):
    """Create a district (platform admins), or a street or community under a parent the caller manages."""
    with atomic():
        expected_parent = PARENT_KIND.get(kind)
        if expected_parent is None:
            if parent_public_id:
                raise WrongParentKind("区是最高一级，不能有上级")
            if not can(user, "community.manage", ROOT):
                raise Forbidden("只有平台管理员可以新建区")
            parent = None
        else:
            if not parent_public_id:
                raise WrongParentKind(f"请指定上级{'区' if expected_parent is RegionKind.district else '街道'}")
            parent = get_region(parent_public_id)
            authorize(user, "community.manage", parent, not_found=RegionNotFound)
            if parent.kind is not expected_parent:
                raise WrongParentKind(details={"parent_kind": parent.kind.value, "expected": expected_parent.value})
        region = Region(
            kind=kind,
            name=name,
            code=code,
            parent_id=parent.id if parent else None,
            parent_kind=parent.kind.value if parent else None,
        )
        db.session.add(region)
        flush_checked(unique=NameTaken())
        audit.record("community.region.create", actor=user, target=("region", region.public_id), after={"name": name})
        log.info("region %s (%s) created by user %s", region.id, kind.value, user.id)
        return region


def _authorize_region_change(user, region: Region) -> None:
    """A region is edited or deleted by whoever may create it: staff managing its parent (a platform admin for a
    district). Its own staff see it (so 403, not 404) but may not rename, recode or delete the region they serve."""
    authorize(user, "community.manage", region, not_found=RegionNotFound)
    parent = db.session.get(Region, region.parent_id) if region.parent_id is not None else ROOT
    if not can(user, "community.manage", parent):
        raise Forbidden(
            "只有平台管理员可以修改或删除区" if parent is ROOT else "辖区本身由上级辖区的工作人员修改或删除",
            details={"action": "community.manage", "on": "parent"},
        )


def update_region(user, public_id: str, changes: dict[str, Any]) -> Region:
    with atomic():
        region = get_region(public_id)
        _authorize_region_change(user, region)
        before = {key: getattr(region, key) for key in changes}
        for key, value in changes.items():
            setattr(region, key, value)
        flush_checked(unique=NameTaken())
        audit.record("community.region.update", actor=user, target=("region", public_id), before=before, after=changes)
        return region


def delete_region(user, public_id: str) -> None:
    from app.auth.models import RoleAssignment

    with atomic():
        region = get_region(public_id)
        _authorize_region_change(user, region)
        db.session.execute(
            sa.delete(RoleAssignment).where(
                RoleAssignment.scope_kind == "community", RoleAssignment.scope_id == region.id
            )
        )
        db.session.delete(region)
        flush_checked(restrict=HasChildren())
        audit.record("community.region.delete", actor=user, target=("region", public_id), before={"name": region.name})


# --- estates, buildings, units, households -------------------------------------------------------------------------


def _json(value: Any) -> Any:
    """A value as the audit log's JSON can hold it (enums by value, decimals as text)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


def _apply(user, action: str, entity, changes: dict[str, Any]) -> None:
    before = {key: _json(getattr(entity, key)) for key in changes}
    for key, value in changes.items():
        setattr(entity, key, value)
    flush_checked(unique=NameTaken())
    after = {key: _json(value) for key, value in changes.items()}
    audit.record(action, actor=user, target=(entity.__tablename__, entity.public_id), before=before, after=after)


def _delete(user, action: str, entity) -> None:
    db.session.delete(entity)
    flush_checked(restrict=HasChildren())
    audit.record(action, actor=user, target=(entity.__tablename__, entity.public_id))


def create_estate(user, community_public_id: str, data: dict[str, Any]) -> Estate:
    with atomic():
        community = get_community(community_public_id)
        authorize(user, "community.manage", community, not_found=RegionNotFound)
        estate = Estate(community_id=community.id, **data)
        db.session.add(estate)
        flush_checked(unique=NameTaken())
        audit.record("community.estate.create", actor=user, target=("estate", estate.public_id))
        return estate


def update_estate(user, public_id: str, changes: dict[str, Any]) -> Estate:
    with atomic():
        estate = get_estate(public_id)
        authorize(user, "community.manage", estate, not_found=EstateNotFound)
        _apply(user, "community.estate.update", estate, changes)
        return estate


def delete_estate(user, public_id: str) -> None:
    with atomic():
        estate = get_estate(public_id)
        authorize(user, "community.manage", estate, not_found=EstateNotFound)
        _delete(user, "community.estate.delete", estate)


def create_building(user, estate_public_id: str, data: dict[str, Any]) -> Building:
    with atomic():
        estate = get_estate(estate_public_id)
        authorize(user, "community.manage", estate, not_found=EstateNotFound)
        building = Building(estate_id=estate.id, community_id=estate.community_id, **data)
        db.session.add(building)
        flush_checked(unique=NameTaken())
        audit.record("community.building.create", actor=user, target=("building", building.public_id))
        return building


def update_building(user, public_id: str, changes: dict[str, Any]) -> Building:
    with atomic():
        building = get_building(public_id)
        authorize(user, "community.manage", building, not_found=BuildingNotFound)
        _apply(user, "community.building.update", building, changes)
        return building


def delete_building(user, public_id: str) -> None:
    with atomic():
        building = get_building(public_id)
        authorize(user, "community.manage", building, not_found=BuildingNotFound)
        _delete(user, "community.building.delete", building)


class _UnitEntity:
    """A unit's scope is its building's community."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    @property
    def community_id(self) -> int:
        return db.session.scalar(sa.select(Building.community_id).where(Building.id == self.unit.building_id))


def create_unit(user, building_public_id: str, data: dict[str, Any]) -> Unit:
    with atomic():
        building = get_building(building_public_id)
        authorize(user, "community.manage", building, not_found=BuildingNotFound)
        unit = Unit(building_id=building.id, **data)
        db.session.add(unit)
        flush_checked(unique=NameTaken())
        audit.record("community.unit.create", actor=user, target=("unit", unit.public_id))
        return unit


def update_unit(user, public_id: str, changes: dict[str, Any]) -> Unit:
    with atomic():
        unit = get_unit(public_id)
        authorize(user, "community.manage", _UnitEntity(unit), not_found=UnitNotFound)
        _apply(user, "community.unit.update", unit, changes)
        return unit


def delete_unit(user, public_id: str) -> None:
    with atomic():
        unit = get_unit(public_id)
        authorize(user, "community.manage", _UnitEntity(unit), not_found=UnitNotFound)
        _delete(user, "community.unit.delete", unit)


def create_household(user, building_public_id: str, data: dict[str, Any]) -> Household:
    with atomic():
        building = get_building(building_public_id)
        authorize(user, "community.manage", building, not_found=BuildingNotFound)
        unit_public_id = data.pop("unit_id", None)
        unit_id = None
        if unit_public_id:
            unit = get_unit(unit_public_id)
            if unit.building_id != building.id:
                raise UnitNotFound("该单元不属于此楼栋")
            unit_id = unit.id
        household = Household(building_id=building.id, community_id=building.community_id, unit_id=unit_id, **data)
        db.session.add(household)
        flush_checked(unique=NameTaken("该房号已存在"))
        audit.record("community.household.create", actor=user, target=("household", household.public_id))
        return household


def update_household(user, public_id: str, changes: dict[str, Any]) -> Household:
    with atomic():
        household = get_household(public_id)
        authorize(user, "community.manage", household, not_found=HouseholdNotFound)
        _apply(user, "community.household.update", household, changes)
        return household


def delete_household(user, public_id: str) -> None:
    """Delete a household entered by mistake; one with any membership (also ended ones) is kept as history."""
    with atomic():
        household = get_household(public_id)
        authorize(user, "community.manage", household, not_found=HouseholdNotFound)
        _delete(user, "community.household.delete", household)


def staff_household_view(user, public_id: str) -> Household:
    """A household for staff reading it (any role in scope); 404 outside their scope."""
    household = get_household(public_id)
    authorize(user, "community.read", household, not_found=HouseholdNotFound)
    return household
