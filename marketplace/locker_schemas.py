"""Schemas of the smart lockers: cabinets and cells (staff, vendors), an order's locker, device requests."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from marketplace.locker_models import CellSize
from marketplace.models import StorageZone
from marketplace.schemas import OrderDetailSchema

ZONES = [z.value for z in StorageZone]
Code = fields.String  # 6 digits, always with the validator below
SIX_DIGITS = validate.Regexp(r"^[0-9]{6}$", error="须为 6 位数字")

# --- cabinets --------------------------------------------------------------------------------------------------------


class CellGroupSchema(Schema):
    size = fields.String(required=True, validate=validate.OneOf([s.value for s in CellSize]))
    zone = fields.String(required=True, validate=validate.OneOf(ZONES))
    count = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=100))


class LockerCreateSchema(Schema):
    estate_id = fields.String(
        required=True, validate=validate.Length(min=1, max=24), metadata={"description": "院落/小区"}
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    cells = fields.List(fields.Nested(CellGroupSchema), required=True, validate=validate.Length(min=1, max=20))


class CellSchema(Schema):
    number = fields.Integer()
    size = fields.Function(lambda c: c.size.value)
    zone = fields.Function(lambda c: c.zone.value)
    state = fields.Function(lambda c: c.state.value)
    state_note = fields.String(allow_none=True)
    max_temp_c = fields.Float(allow_none=True)
    temperature_c = fields.Float(allow_none=True)
    temperature_at = fields.DateTime(allow_none=True)
    door_open = fields.Boolean()
    deadline_at = fields.DateTime(allow_none=True)


class LockerSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    status = fields.Function(lambda locker: locker.status.value)
    status_note = fields.String(allow_none=True)
    last_heartbeat_at = fields.DateTime(allow_none=True)
    free_cells = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "各温区空闲格口数"}
    )
    created_at = fields.DateTime()


class LockerDetailSchema(LockerSchema):
    cells = fields.List(fields.Nested(CellSchema))


class LockerSecretSchema(LockerDetailSchema):
    secret = fields.String(metadata={"description": "设备密钥，仅此一次返回；写入柜体后妥善保管"})


class LockerQueryArgsSchema(CursorArgsSchema):
    estate_id = fields.String(load_default=None, validate=validate.Length(max=24))


class LockerRestoreSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))


LockerPageSchema = cursor_page_schema(LockerSchema)


class VendorCellSchema(CellSchema):
    order_id = fields.String(attribute="order_public_id", allow_none=True, metadata={"description": "本店订单"})


class VendorLockerSchema(LockerSchema):
    cells = fields.List(fields.Nested(VendorCellSchema))


class UncollectedPolicySchema(Schema):
    refund_bps = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=10_000),
        metadata={"description": "超时未取的退款比例（基点）：10000 全额退款，0 不退款"},
    )


class UncollectedPolicyOutSchema(Schema):
    refund_bps = fields.Integer(attribute="uncollected_refund_bps")
    policy = fields.Function(
        lambda v: (
            "full" if v.uncollected_refund_bps >= 10_000 else ("none" if v.uncollected_refund_bps <= 0 else "partial")
        )
    )


# --- an order's locker ---------------------------------------------------------------------------------------------


class LockerBriefSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()


class OrderLockerSchema(Schema):
    order_id = fields.String()
    status = fields.String()
    fulfilment = fields.String()
    locker = fields.Nested(LockerBriefSchema, allow_none=True)
    cells = fields.List(fields.Nested(CellSchema))
    deadline_at = fields.DateTime(allow_none=True)
    pickup_code = fields.String(
        allow_none=True, metadata={"description": "取件码（居民及其代办人可见，可转给他人代取）"}
    )
    courier_code = fields.String(allow_none=True, metadata={"description": "投递码（商户员工可见）"})
    retrieval_code = fields.String(allow_none=True, metadata={"description": "取回码（超时未取后商户员工可见）"})


class DispatchSchema(OrderDetailSchema):
    locker = fields.Function(
        lambda o: LockerBriefSchema().dump(o.dispatch["locker"]) if getattr(o, "dispatch", {}).get("locker") else None,
        metadata={"description": "预留格口所在的智能柜（仅智能柜订单）"},
    )
    cells = fields.Function(
        lambda o: [c.number for c in getattr(o, "dispatch", {}).get("cells", [])],
        metadata={"description": "预留的格口号"},
    )
    courier_code = fields.Function(
        lambda o: getattr(o, "dispatch", {}).get("courier_code"),
        metadata={"description": "投递码：配送员在柜上存件时输入"},
    )
    fell_back_to_shop = fields.Function(
        lambda o: bool(getattr(o, "dispatch", {}).get("fell_back")),
        metadata={"description": "智能柜无空闲格口，已改为到店自提"},
    )


# --- devices --------------------------------------------------------------------------------------------------------


class DepositSchema(Schema):
    order_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    courier_code = Code(required=True, validate=SIX_DIGITS)


class CodeSchema(Schema):
    code = Code(required=True, validate=SIX_DIGITS)


class OpenedSchema(Schema):
    order_id = fields.String()
    cells = fields.List(fields.Integer(), metadata={"description": "要打开的格口号"})


class DoorClosedSchema(Schema):
    cell = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=32767))


class ReadingSchema(Schema):
    number = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=32767))
    temperature_c = fields.Float(load_default=None, allow_nan=False, validate=validate.Range(min=-99.9, max=99.9))


class HeartbeatSchema(Schema):
    cells = fields.List(fields.Nested(ReadingSchema), load_default=list, validate=validate.Length(max=500))


class DeviceStateSchema(Schema):
    id = fields.String(attribute="public_id")
    status = fields.Function(lambda locker: locker.status.value)
    server_time = fields.DateTime(metadata={"description": "服务器时间（设备据此校时）"})


class FaultCreateSchema(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["door_jammed", "door_open", "cooling", "power", "sensor", "screen", "other"]),
    )
    cell = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1, max=32767))
    detail = fields.String(load_default=None, validate=validate.Length(max=500))


class FaultSchema(Schema):
    kind = fields.String()
    cell = fields.Integer(attribute="cell_number", allow_none=True)
    detail = fields.String(allow_none=True)
    reported_at = fields.DateTime()
