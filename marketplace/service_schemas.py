"""Request and response schemas of service listings and bookings (money in integer fen, times in +08:00)."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, LocalDateTime, Schema, cursor_page_schema
from marketplace.schemas import VendorBriefSchema
from marketplace.service_models import ServiceKind, ServiceOrderStatus
from marketplace.services_notify import STATUS_LABELS

Fen = fields.Integer  # always used with strict=True below


def _photo_ids_field() -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=24)),
        validate=validate.Length(max=9),
        load_default=list,
        metadata={"description": "先以 visibility=private 上传到 /api/v1/files，再填文件 id（最多 9 张）"},
    )


# --- listings ----------------------------------------------------------------------------------------------------


class ServiceCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in ServiceKind]))
    description = fields.String(load_default=None, validate=validate.Length(max=500))
    callout_fee_fen = Fen(
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=1_000_000),
        metadata={"description": "上门费（分）：拒绝报价时只收这一项"},
    )
    price_notes = fields.String(load_default=None, validate=validate.Length(max=500))
    duration_minutes = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=7 * 24 * 60))
    on_shelf = fields.Boolean(load_default=False)


class ServiceUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=64))
    kind = fields.String(validate=validate.OneOf([k.value for k in ServiceKind]))
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    callout_fee_fen = Fen(strict=True, validate=validate.Range(min=0, max=1_000_000))
    price_notes = fields.String(allow_none=True, validate=validate.Length(max=500))
    duration_minutes = fields.Integer(strict=True, validate=validate.Range(min=1, max=7 * 24 * 60))
    on_shelf = fields.Boolean()


class ServiceRatingSummarySchema(Schema):
    average = fields.Float(allow_none=True, metadata={"description": "已评价预约的平均分（1–5）"})
    count = fields.Integer()


class ServiceSchema(Schema):
    id = fields.String(attribute="public_id")
    vendor = fields.Nested(VendorBriefSchema)
    name = fields.String()
    kind = fields.Function(lambda s: s.kind.value)
    description = fields.String(allow_none=True)
    callout_fee_fen = fields.Integer()
    price_notes = fields.String(allow_none=True)
    duration_minutes = fields.Integer()
    rating = fields.Nested(ServiceRatingSummarySchema, attribute="rating_summary")


class VendorServiceSchema(ServiceSchema):
    on_shelf = fields.Boolean()
    updated_at = fields.DateTime()


class ServiceBrowseArgsSchema(CursorArgsSchema):
    kind = fields.String(load_default=None, validate=validate.OneOf([k.value for k in ServiceKind]))
    q = fields.String(load_default=None, validate=validate.Length(max=32))
    vendor_id = fields.String(load_default=None, validate=validate.Length(max=24))


ServicePageSchema = cursor_page_schema(ServiceSchema)
VendorServicePageSchema = cursor_page_schema(VendorServiceSchema)

# --- bookings ----------------------------------------------------------------------------------------------------


class ServiceOrderCreateSchema(Schema):
    service_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    description = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    photo_ids = _photo_ids_field()
    window_start = LocalDateTime(required=True, metadata={"description": "期望上门时段开始"})
    window_end = LocalDateTime(required=True, metadata={"description": "期望上门时段结束"})
    household_id = fields.String(
        load_default=None,
        validate=validate.Length(max=24),
        metadata={"description": "上门地址：被服务人所在的房屋；只有一处时可不填"},
    )
    contact_phone = fields.String(load_default=None, validate=validate.Regexp(r"^\+?[0-9-]{5,20}$"))
    for_resident_id = fields.String(
        load_default=None,
        validate=validate.Length(max=24),
        metadata={"description": "代预约：被代办人（须持有 marketplace 代办授权）"},
    )


class ServiceBriefSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    kind = fields.Function(lambda s: s.kind.value)


class ServiceTechnicianSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String(attribute="display_name")


class ServiceOrderPhotoSchema(Schema):
    id = fields.String()
    url = fields.String()
    url_expires_at = fields.DateTime(allow_none=True)


class ServiceQuoteLineSchema(Schema):
    name = fields.String()
    quantity = fields.Integer()
    unit_price_fen = fields.Integer()
    amount_fen = fields.Integer()


class ServiceOrderStepSchema(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    note = fields.String(allow_none=True)
    at = fields.DateTime()
    by_system = fields.Function(lambda e: e.actor_user_id is None)


class ServiceOrderSchema(Schema):
    id = fields.String(attribute="public_id")
    vendor = fields.Nested(VendorBriefSchema)
    service = fields.Nested(ServiceBriefSchema)
    technician = fields.Nested(ServiceTechnicianSchema, allow_none=True)
    status = fields.Function(lambda o: o.status.value)
    status_label = fields.Function(lambda o: STATUS_LABELS[o.status.value])
    address = fields.String()
    contact_phone = fields.String(allow_none=True)
    description = fields.String()
    window_start = fields.DateTime()
    window_end = fields.DateTime()
    callout_fee_fen = fields.Integer()
    quote_fen = fields.Integer(allow_none=True)
    quote_accepted = fields.Boolean(allow_none=True)
    amount_fen = fields.Integer(allow_none=True, metadata={"description": "待支付/已支付金额（分）"})
    decline_reason = fields.String(allow_none=True)
    payable_kind = fields.Constant("marketplace.service_order")
    payment_id = fields.String(attribute="payment_public_id", allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    rework_count = fields.Integer()
    rating = fields.Integer(allow_none=True)
    rating_comment = fields.String(allow_none=True)
    vendor_reply = fields.String(allow_none=True)
    vendor_replied_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class ServiceOrderDetailSchema(ServiceOrderSchema):
    photos = fields.List(fields.Nested(ServiceOrderPhotoSchema))
    completion_photos = fields.List(fields.Nested(ServiceOrderPhotoSchema))
    rating_photos = fields.List(fields.Nested(ServiceOrderPhotoSchema))
    quote_lines = fields.List(fields.Nested(ServiceQuoteLineSchema))
    warranty_until = fields.DateTime(allow_none=True, metadata={"description": "保修截止（免费返修）"})
    steps = fields.List(fields.Nested(ServiceOrderStepSchema))


ServiceOrderPageSchema = cursor_page_schema(ServiceOrderSchema)


class ServiceOrderQueryArgsSchema(CursorArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in ServiceOrderStatus]))


class ServiceOrderNoteSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class ServiceOrderReasonSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class ServiceOrderRequiredReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ServiceTechnicianAssignSchema(Schema):
    technician_id = fields.String(
        required=True, validate=validate.Length(min=1, max=24), metadata={"description": "本店员工的账号 id"}
    )
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class ServiceQuoteLineCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=999))
    unit_price_fen = Fen(strict=True, required=True, validate=validate.Range(min=1, max=10_000_000))


class ServiceQuoteCreateSchema(Schema):
    lines = fields.List(
        fields.Nested(ServiceQuoteLineCreateSchema), required=True, validate=validate.Length(min=1, max=30)
    )
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class ServiceOrderCompleteSchema(Schema):
    photo_ids = _photo_ids_field()
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class ServiceOrderRatingCreateSchema(Schema):
    rating = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default=None, validate=validate.Length(max=500))
    photo_ids = _photo_ids_field()


class ServiceOrderReplySchema(Schema):
    text = fields.String(required=True, validate=[validate.Length(min=1, max=500), validate.Regexp(r".*\S")])
