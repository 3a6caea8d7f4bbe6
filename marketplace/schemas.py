"""Marketplace request and response schemas (money in integer fen, times in +08:00)."""

from __future__ import annotations

from marshmallow import fields, post_dump, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from marketplace.models import VENDOR_ROLES, Fulfilment, OrderStatus, ProductUnit, StorageZone, VendorKind, VendorStatus

Fen = fields.Integer  # always used with strict=True below

# --- vendors -----------------------------------------------------------------------------------------------------


class VendorCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in VendorKind]))
    licence_no = fields.String(required=True, validate=validate.Length(min=1, max=32))
    food_licence_no = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    contact_name = fields.String(required=True, validate=validate.Length(min=1, max=32))
    contact_phone = fields.String(required=True, validate=validate.Regexp(r"^\+?[0-9-]{5,20}$"))
    opening_hours = fields.String(required=True, validate=validate.Length(min=1, max=64))
    community_ids = fields.List(
        fields.String(validate=validate.Length(max=24)), required=True, validate=validate.Length(min=1, max=50)
    )
    payee_identity = fields.String(load_default=None, validate=validate.Length(max=64))


class VendorSchema(Schema):
    """Dumps ``vendors.vendor_view``."""

    id = fields.String()
    name = fields.String()
    kind = fields.Enum(VendorKind, by_value=True)
    status = fields.Enum(VendorStatus, by_value=True)
    status_note = fields.String(allow_none=True)
    licence_no = fields.String()
    food_licence_no = fields.String(allow_none=True)
    contact_name = fields.String()
    contact_phone = fields.String()
    opening_hours = fields.String()
    community_ids = fields.List(fields.String(), metadata={"description": "服务的社区"})
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    rating = fields.Dict(allow_none=True, metadata={"description": "评分：{average, count}（average 为 1–5 的均分）"})


class VendorUpdateSchema(Schema):
    contact_name = fields.String(validate=validate.Length(min=1, max=32))
    contact_phone = fields.String(validate=validate.Regexp(r"^\+?[0-9-]{5,20}$"))
    opening_hours = fields.String(validate=validate.Length(min=1, max=64))
    payee_identity = fields.String(allow_none=True, validate=validate.Length(max=64))


class VendorDecisionSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))
    payee_id = fields.String(load_default=None, validate=validate.Length(max=24))


class VendorQueryArgsSchema(CursorArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in VendorStatus]))


class MyVendorSchema(Schema):
    vendor = fields.Nested(VendorSchema)
    role = fields.String()


class VendorStaffCreateSchema(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    role = fields.String(required=True, validate=validate.OneOf([r for r in VENDOR_ROLES if r != "owner"]))


class VendorStaffSchema(Schema):
    user_id = fields.String()
    role = fields.String()


# --- products ----------------------------------------------------------------------------------------------------


class ProductCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    category = fields.String(required=True, validate=validate.Length(min=1, max=32))
    description = fields.String(load_default=None, validate=validate.Length(max=500))
    unit = fields.String(required=True, validate=validate.OneOf([u.value for u in ProductUnit]))
    price_fen = Fen(strict=True, required=True, validate=validate.Range(min=1, max=10_000_000))
    original_price_fen = Fen(strict=True, load_default=None, validate=validate.Range(min=1, max=10_000_000))
    stock = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=1_000_000))
    low_stock_threshold = fields.Integer(strict=True, load_default=5, validate=validate.Range(min=0, max=1_000_000))
    on_shelf = fields.Boolean(load_default=False)
    storage_zone = fields.String(load_default="ambient", validate=validate.OneOf([z.value for z in StorageZone]))
    shelf_life_days = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1, max=3650))
    weighed = fields.Boolean(load_default=False)
    estimated_weight_g = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1, max=100_000))
    image_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=24)),
        validate=validate.Length(max=9),
        metadata={"description": "先以 visibility=public 上传到 /api/v1/files，再填文件 id（最多 9 张，按顺序展示）"},
    )


class ProductUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=64))
    category = fields.String(validate=validate.Length(min=1, max=32))
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    unit = fields.String(validate=validate.OneOf([u.value for u in ProductUnit]))
    price_fen = Fen(strict=True, validate=validate.Range(min=1, max=10_000_000))
    original_price_fen = Fen(strict=True, allow_none=True, validate=validate.Range(min=1, max=10_000_000))
    stock_delta = fields.Integer(
        strict=True,
        validate=validate.Range(min=-1_000_000, max=1_000_000),
        metadata={"description": "补货为正、报损为负；库存不会被读出再写回"},
    )
    low_stock_threshold = fields.Integer(strict=True, validate=validate.Range(min=0, max=1_000_000))
    on_shelf = fields.Boolean()
    storage_zone = fields.String(validate=validate.OneOf([z.value for z in StorageZone]))
    shelf_life_days = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=3650))
    weighed = fields.Boolean()
    estimated_weight_g = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=100_000))
    image_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=24)),
        validate=validate.Length(max=9),
        metadata={"description": "先以 visibility=public 上传到 /api/v1/files，再填文件 id（最多 9 张，按顺序展示）"},
    )


class VendorBriefSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()


def _estimate(product) -> int:
    from marketplace.catalogue import line_amount_fen

    return line_amount_fen(
        product.price_fen, 1, unit=product.unit, weighed=product.weighed, estimated_weight_g=product.estimated_weight_g
    )


def _image_urls(product) -> list[str]:
    from flask import url_for

    return [url_for("files.PublicFileContent", public_id=i, _external=True) for i in product.image_ids]


class ProductSchema(Schema):
    id = fields.String(attribute="public_id")
    vendor = fields.Nested(VendorBriefSchema)
    name = fields.String()
    category = fields.String()
    description = fields.String(allow_none=True)
    unit = fields.Function(lambda p: p.unit.value)
    price_fen = fields.Integer()
    original_price_fen = fields.Integer(allow_none=True)
    stock = fields.Integer()
    storage_zone = fields.Function(lambda p: p.storage_zone.value)
    shelf_life_days = fields.Integer(allow_none=True)
    weighed = fields.Boolean()
    estimated_weight_g = fields.Integer(allow_none=True)
    images = fields.Function(lambda p: _image_urls(p), metadata={"description": "图片地址（公开）"})
    unit_price_estimate_fen = fields.Function(_estimate, metadata={"description": "一件的预估价（称重商品按预估重量）"})
    rating = fields.Function(
        lambda p: getattr(p, "rating", None),
        metadata={"description": "商品评分（含该商品订单的评价）：{average, count}"},
    )
    vendor_rating = fields.Function(
        lambda p: getattr(p, "vendor_rating", None), metadata={"description": "商户评分：{average, count}"}
    )


class VendorProductSchema(ProductSchema):
    on_shelf = fields.Boolean()
    low_stock_threshold = fields.Integer()
    updated_at = fields.DateTime()


class BrowseArgsSchema(CursorArgsSchema):
    category = fields.String(load_default=None, validate=validate.Length(max=32))
    q = fields.String(load_default=None, validate=validate.Length(max=32))
    vendor_id = fields.String(load_default=None, validate=validate.Length(max=24))
    sort = fields.String(load_default="newest", validate=validate.OneOf(["newest", "price_asc", "price_desc"]))


ProductPageSchema = cursor_page_schema(ProductSchema)
VendorProductPageSchema = cursor_page_schema(VendorProductSchema)
VendorPageSchema = cursor_page_schema(VendorSchema)

# --- orders ------------------------------------------------------------------------------------------------------


class OrderLineCreateSchema(Schema):
    product_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=999))


class OrderCreateSchema(Schema):
    vendor_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    lines = fields.List(fields.Nested(OrderLineCreateSchema), required=True, validate=validate.Length(min=1, max=50))
    fulfilment = fields.String(load_default="locker", validate=validate.OneOf([f.value for f in Fulfilment]))
    window_start = fields.DateTime(load_default=None)
    window_end = fields.DateTime(load_default=None)
    note = fields.String(load_default=None, validate=validate.Length(max=200))
    for_resident_id = fields.String(
        load_default=None,
        validate=validate.Length(max=24),
        metadata={"description": "代下单：被代办人（须持有 marketplace 代办授权）"},
    )


class OrderLineSchema(Schema):
    line_no = fields.Integer(dump_only=True, metadata={"description": "行号（从 1 起），售后与称重调整用它指明商品"})
    name = fields.String()
    unit = fields.Function(lambda line: line.unit.value)
    storage_zone = fields.Function(lambda line: line.storage_zone.value)
    price_fen = fields.Integer()
    quantity = fields.Integer()
    weighed = fields.Boolean()
    estimated_weight_g = fields.Integer(allow_none=True)
    amount_fen = fields.Integer()


class OrderStepSchema(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    note = fields.String(allow_none=True)
    at = fields.DateTime()
    by_system = fields.Function(lambda e: e.actor_user_id is None)


class OrderSchema(Schema):
    id = fields.String(attribute="public_id")
    vendor = fields.Nested(VendorBriefSchema)
    status = fields.Function(lambda o: o.status.value)
    fulfilment = fields.Function(lambda o: o.fulfilment.value)
    window_start = fields.DateTime(allow_none=True)
    window_end = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)
    total_fen = fields.Integer()
    refunded_fen = fields.Integer()
    expires_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    payment_id = fields.String(attribute="payment_public_id", allow_none=True)
    payable_kind = fields.Constant("marketplace.market_order")
    lines = fields.List(fields.Nested(OrderLineSchema))
    created_at = fields.DateTime()

    @post_dump
    def number_lines(self, data, **_kwargs):
        """Lines are numbered from 1 in the order shown: after-sales and the vendor's adjustments name a line so."""
        for number, line in enumerate(data.get("lines") or [], start=1):
            line["line_no"] = number
        return data


class OrderDetailSchema(OrderSchema):
    steps = fields.List(fields.Nested(OrderStepSchema))
    adjustments = fields.Function(
        lambda o: getattr(o, "adjustments", []),
        metadata={
            "description": "备货时的称重与缺货调整：[{line_no, name, actual_weight_g, missing_quantity, "
            "difference_fen, refunded_fen}]"
        },
    )


class OrderCancelSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class OrderStepCreateSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class VendorOrderQueryArgsSchema(CursorArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in OrderStatus]))


OrderPageSchema = cursor_page_schema(OrderSchema)
