"""Schemas of the community tree. Every node is exposed by its public id."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from app.community.models import EstateKind, RegionKind

_NAME = validate.Length(min=1, max=64)
_SHORT = validate.Length(min=1, max=32)


def _parent(attribute: str):
    return fields.Function(lambda obj: getattr(getattr(obj, attribute), "public_id", None), dump_only=True)


class RegionSchema(Schema):
    id = fields.String(attribute="public_id", dump_only=True)
    kind = fields.Enum(
        RegionKind, by_value=True, required=True, metadata={"description": "district 区 | street 街道 | community 社区"}
    )
    name = fields.String(required=True, validate=_NAME)
    code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^\d{6,12}$"),
        metadata={"description": "统计用区划代码"},
    )
    parent_id = fields.String(
        load_only=True, load_default=None, allow_none=True, metadata={"description": "上级辖区 id（区不填）"}
    )
    parent = _parent("parent")
    created_at = fields.DateTime(dump_only=True)


class RegionUpdateSchema(Schema):
    name = fields.String(validate=_NAME)
    code = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{6,12}$"))


class RegionListArgsSchema(Schema):
    parent = fields.String(load_default=None, metadata={"description": "上级辖区 id；不填则列出各区"})
    kind = fields.Enum(RegionKind, by_value=True, load_default=None)


def _check_coordinates(data: dict) -> None:
    # Range checks here, not as field validators: apispec would print Decimal bounds as strings in OpenAPI.
    for key, limit in (("latitude", 90), ("longitude", 180)):
        value = data.get(key)
        if value is not None and not -limit <= value <= limit:
            raise ValidationError(f"应在 -{limit} 到 {limit} 之间", key)


class EstateSchema(Schema):
    id = fields.String(attribute="public_id", dump_only=True)
    community = _parent("community")
    kind = fields.Enum(
        EstateKind,
        by_value=True,
        load_default=EstateKind.estate,
        metadata={"description": "estate 小区 | courtyard 院落"},
    )
    name = fields.String(required=True, validate=_NAME)
    address = fields.String(load_default="", validate=validate.Length(max=200))
    latitude = fields.Decimal(
        places=6,
        as_string=True,
        allow_none=True,
        load_default=None,
        metadata={"description": "GCJ-02 纬度，-90 到 90"},
    )
    longitude = fields.Decimal(
        places=6,
        as_string=True,
        allow_none=True,
        load_default=None,
        metadata={"description": "GCJ-02 经度，-180 到 180"},
    )
    created_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _coordinates(self, data, **_kwargs):
        _check_coordinates(data)


class EstateUpdateSchema(Schema):
    kind = fields.Enum(EstateKind, by_value=True)
    name = fields.String(validate=_NAME)
    address = fields.String(validate=validate.Length(max=200))
    latitude = fields.Decimal(places=6, allow_none=True)
    longitude = fields.Decimal(places=6, allow_none=True)

    @validates_schema
    def _coordinates(self, data, **_kwargs):
        _check_coordinates(data)


class BuildingSchema(Schema):
    id = fields.String(attribute="public_id", dump_only=True)
    estate = _parent("estate")
    name = fields.String(required=True, validate=_SHORT, metadata={"description": "如 3号楼"})
    floors = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 200))
    created_at = fields.DateTime(dump_only=True)


class BuildingUpdateSchema(Schema):
    name = fields.String(validate=_SHORT)
    floors = fields.Integer(allow_none=True, validate=validate.Range(1, 200))


class UnitSchema(Schema):
    id = fields.String(attribute="public_id", dump_only=True)
    building = _parent("building")
    name = fields.String(required=True, validate=_SHORT, metadata={"description": "如 1单元"})
    created_at = fields.DateTime(dump_only=True)


class UnitUpdateSchema(Schema):
    name = fields.String(validate=_SHORT)


class HouseholdBriefSchema(Schema):
    """What anyone signed in sees of a room when choosing where they live: nothing personal."""

    id = fields.String(attribute="public_id", dump_only=True)
    building = _parent("building")
    unit = _parent("unit")
    unit_name = fields.Function(lambda h: h.unit.name if h.unit else None, dump_only=True)
    room = fields.String(dump_only=True)
    floor = fields.Integer(dump_only=True)


HouseholdBriefPageSchema = cursor_page_schema(HouseholdBriefSchema, "HouseholdBriefPageSchema")


class HouseholdCreateSchema(Schema):
    unit_id = fields.String(load_default=None, allow_none=True, metadata={"description": "单元 id（院落可不填）"})
    room = fields.String(required=True, validate=_SHORT, metadata={"description": "房号，如 502"})
    floor = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(-10, 200))
    floor_area_dm2 = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(1, 10_000_000),
        metadata={"description": "建筑面积，单位 0.01 m²（1 dm²）：8950 即 89.50 m²"},
    )


class HouseholdUpdateSchema(Schema):
    room = fields.String(validate=_SHORT)
    floor = fields.Integer(allow_none=True, validate=validate.Range(-10, 200))
    floor_area_dm2 = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, 10_000_000))


class AddressSchema(Schema):
    community = fields.String()
    estate = fields.String()
    building = fields.String()
    unit = fields.String(allow_none=True)
    room = fields.String()
    label = fields.String(metadata={"description": "社区 · 小区 · 楼栋 · 单元 · 房号"})


class MemberSchema(Schema):
    """A member as other members see them: masked name, role, since when."""

    membership_id = fields.String()
    resident_id = fields.String()
    name = fields.String(metadata={"description": "脱敏姓名"})
    role = fields.String(metadata={"description": "head 户主 | family 家属 | tenant 租户"})
    status = fields.String()
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    decided_by = fields.String(allow_none=True, metadata={"description": "审核人（户主或工作人员）的账号 id"})
    decided_at = fields.DateTime(allow_none=True)


class HouseholdSchema(Schema):
    """A household as its members and staff see it."""

    id = fields.String()
    address = fields.Nested(AddressSchema)
    floor = fields.Integer(allow_none=True)
    floor_area_dm2 = fields.Integer(allow_none=True, metadata={"description": "单位 0.01 m²"})
    view = fields.String(metadata={"description": "member（本户成员）| staff（工作人员）"})
    members = fields.List(fields.Nested(MemberSchema))


class HouseholdListArgsSchema(CursorArgsSchema):
    unit = fields.String(load_default=None, metadata={"description": "单元 id"})


class ImportResultSchema(Schema):
    buildings = fields.Integer()
    units = fields.Integer()
    households = fields.Integer()


class RoleAssignmentSchema(Schema):
    user_id = fields.String(required=True, metadata={"description": "账号 id"})
    role = fields.String(required=True, validate=validate.OneOf(["admin", "staff", "grid_worker"]))
    display_name = fields.String(dump_only=True)
    region = fields.String(dump_only=True)


class RoleRemoveArgsSchema(Schema):
    user_id = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(["admin", "staff", "grid_worker"]))
