"""The community tree: district → street → community (regions), estate/courtyard → building → unit → household."""

from __future__ import annotations

import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import created_at, intpk, public_id
from app.extensions import db


class RegionKind(enum.Enum):
    district = "district"  # 区
    street = "street"  # 街道
    community = "community"  # 社区


#: The kind a region's parent must have (a district has none).
PARENT_KIND = {RegionKind.street: RegionKind.district, RegionKind.community: RegionKind.street}

REGION_LABELS = {RegionKind.district: "区", RegionKind.street: "街道", RegionKind.community: "社区"}


class Region(db.Model):
    """A district, street or community. Staff roles are assigned over a region and cover its subtree."""

    __tablename__ = "community_regions"
    __table_args__ = (
        # The target of the (parent_id, parent_kind) foreign key: the database itself refuses a street under a
        # community or a community directly under a district.
        sa.UniqueConstraint("id", "kind", name="uq_community_regions_id_kind"),
        sa.ForeignKeyConstraint(
            ["parent_id", "parent_kind"],
            ["community_regions.id", "community_regions.kind"],
            name="fk_community_regions_parent_id_community_regions",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(
            "(kind = 'district' AND parent_id IS NULL AND parent_kind IS NULL)"
            " OR (kind = 'street' AND parent_kind = 'district')"
            " OR (kind = 'community' AND parent_kind = 'street')",
            name="parent_matches_kind",
        ),
        sa.UniqueConstraint("parent_id", "name", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    kind: Mapped[RegionKind]
    parent_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    #: Copy of the parent's kind, checked by the composite foreign key (not an Enum: one CHECK name per table).
    parent_kind: Mapped[str | None] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(64))
    #: 统计用区划代码 (12 digits), optional.
    code: Mapped[str | None] = mapped_column(sa.String(12), unique=True)
    created_at: Mapped[created_at]

    parent: Mapped[Region | None] = relationship(
        remote_side="Region.id",
        primaryjoin="Region.parent_id == Region.id",
        foreign_keys="Region.parent_id",
        viewonly=True,
    )

    @property
    def community_id(self) -> int | None:
        return self.id if self.kind is RegionKind.community else None

    def __repr__(self) -> str:
        return f"<Region {self.kind.value} {self.id}>"


class EstateKind(enum.Enum):
    estate = "estate"  # 小区
    courtyard = "courtyard"  # 院落


class Estate(db.Model):
    """A residential estate (小区) or courtyard (院落) inside one community."""

    __tablename__ = "community_estates"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "name"),
        sa.UniqueConstraint("id", "community_id", name="uq_community_estates_id_community_id"),
        sa.CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_complete"),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180", name="coordinates_range"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[EstateKind] = mapped_column(default=EstateKind.estate)
    name: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    #: GCJ-02 coordinates (what WeChat's map component uses), degrees.
    latitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    created_at: Mapped[created_at]

    community: Mapped[Region] = relationship(viewonly=True)


class Building(db.Model):
    """A building (楼栋) or row of houses in an estate; ``community_id`` is copied for scope checks, kept right by a
    composite foreign key."""

    __tablename__ = "community_buildings"
    __table_args__ = (
        sa.UniqueConstraint("estate_id", "name"),
        sa.UniqueConstraint("id", "community_id", name="uq_community_buildings_id_community_id"),
        sa.ForeignKeyConstraint(
            ["estate_id", "community_id"],
            ["community_estates.id", "community_estates.community_id"],
            name="fk_community_buildings_estate_id_community_estates",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("floors IS NULL OR floors BETWEEN 1 AND 200", name="floors_range"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    estate_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    community_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    name: Mapped[str] = mapped_column(sa.String(32))
    floors: Mapped[int | None] = mapped_column(sa.SmallInteger)
    created_at: Mapped[created_at]

    estate: Mapped[Estate] = relationship(
        primaryjoin="Estate.id == Building.estate_id", foreign_keys=[estate_id], viewonly=True
    )


class Unit(db.Model):
    """A stairwell unit (单元) of a building."""

    __tablename__ = "community_units"
    __table_args__ = (
        sa.UniqueConstraint("building_id", "name"),
        sa.UniqueConstraint("id", "building_id", name="uq_community_units_id_building_id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    building_id: Mapped[int] = mapped_column(sa.ForeignKey("community_buildings.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[created_at]

    building: Mapped[Building] = relationship(viewonly=True)


class Household(db.Model):
    """A dwelling (户): a room in a building, optionally in a unit (courtyards often have none)."""

    __tablename__ = "community_households"
    __table_args__ = (
        sa.UniqueConstraint("building_id", "unit_id", "room", postgresql_nulls_not_distinct=True),
        sa.ForeignKeyConstraint(
            ["building_id", "community_id"],
            ["community_buildings.id", "community_buildings.community_id"],
            name="fk_community_households_building_id_community_buildings",
            ondelete="RESTRICT",
        ),
        # MATCH SIMPLE: a household without a unit skips this check, one with a unit must name a unit of its building.
        sa.ForeignKeyConstraint(
            ["unit_id", "building_id"],
            ["community_units.id", "community_units.building_id"],
            name="fk_community_households_unit_id_community_units",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("floor_area_dm2 IS NULL OR floor_area_dm2 > 0", name="floor_area_positive"),
        sa.CheckConstraint("floor IS NULL OR floor BETWEEN -10 AND 200", name="floor_range"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    building_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    unit_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    community_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    room: Mapped[str] = mapped_column(sa.String(32))
    floor: Mapped[int | None] = mapped_column(sa.SmallInteger)
    #: Floor area in 0.01 m² (1 dm²): 8950 is 89.50 m².
    floor_area_dm2: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[created_at]

    building: Mapped[Building] = relationship(
        primaryjoin="Building.id == Household.building_id", foreign_keys=[building_id], viewonly=True
    )
    unit: Mapped[Unit | None] = relationship(
        primaryjoin="Unit.id == Household.unit_id", foreign_keys=[unit_id], viewonly=True
    )
