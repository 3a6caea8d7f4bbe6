"""Schemas of adjustments, after-sales, reviews, the vendor dashboard and statements (money in fen, times +08:00)."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from marketplace.aftersales_models import AftersaleStatus

PhotoIds = fields.List(
    fields.String(validate=validate.Length(min=1, max=24)),
    load_default=list,
    validate=validate.Length(max=9),
    metadata={"description": "先上传到 /api/v1/files，再填文件 id（最多 9 张）"},
)


class LineAdjustmentSchema(Schema):
    actual_weight_g = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=1_000_000),
        metadata={"description": "称重商品：本行实际送出的总重量（克）；超出预估不加价"},
    )
    missing_quantity = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=999), metadata={"description": "缺货数量（退款，不回库存）"}
    )


# --- after-sales ---------------------------------------------------------------------------------------------------


class AftersaleCreateSchema(Schema):
    line_no = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=50))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    amount_fen = fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=1, max=100_000_000),
        metadata={"description": "申请退款金额（分），默认为该行尚未退款的全部"},
    )
    photo_ids = PhotoIds


class AftersaleDecisionSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class AftersaleEscalateSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class AftersaleArbitrateSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["refund", "uphold"]))
    note = fields.String(required=True, validate=validate.Length(min=1, max=200))
    amount_fen = fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=1, max=100_000_000),
        metadata={"description": "仲裁退款金额（分），默认为申请金额，不超过申请金额"},
    )


class AftersaleQueryArgsSchema(CursorArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in AftersaleStatus]))


class AftersaleLineSchema(Schema):
    name = fields.String()
    quantity = fields.Integer()
    amount_fen = fields.Integer()


class AftersaleSchema(Schema):
    id = fields.String(attribute="public_id")
    order_id = fields.Function(lambda a: a.order.public_id)
    line = fields.Nested(AftersaleLineSchema)
    status = fields.Function(lambda a: a.status.value)
    reason = fields.String()
    photo_ids = fields.List(fields.String(), metadata={"description": "私有图片，用 GET /api/v1/files/{id} 取签名地址"})
    amount_fen = fields.Integer()
    refunded_fen = fields.Integer(allow_none=True)
    vendor_note = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    escalation_reason = fields.String(allow_none=True)
    escalated_at = fields.DateTime(allow_none=True)
    arbitration_note = fields.String(allow_none=True)
    arbitrated_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


AftersalePageSchema = cursor_page_schema(AftersaleSchema)


# --- reviews -------------------------------------------------------------------------------------------------------


class ReviewCreateSchema(Schema):
    rating = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default=None, validate=validate.Length(max=500))
    photo_ids = PhotoIds


class ReviewReplySchema(Schema):
    reply = fields.String(required=True, validate=validate.Length(min=1, max=500))


def _photo_urls(review) -> list[str]:
    from flask import url_for

    return [url_for("files.PublicFileContent", public_id=i, _external=True) for i in review.photo_ids]


class ReviewSchema(Schema):
    id = fields.String(attribute="public_id")
    order_id = fields.Function(lambda r: r.order.public_id)
    rating = fields.Integer()
    comment = fields.String(allow_none=True)
    photos = fields.Function(_photo_urls, metadata={"description": "图片地址（公开）"})
    reply = fields.String(allow_none=True)
    replied_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


ReviewPageSchema = cursor_page_schema(ReviewSchema)


# --- dashboard and statements --------------------------------------------------------------------------------------


class DashboardArgsSchema(Schema):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=366))


class DashboardSchema(Schema):
    vendor_id = fields.String()
    since = fields.DateTime()
    days = fields.Integer()
    orders_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    sales_by_day = fields.List(fields.Dict(), metadata={"description": "[{date, orders, gross_fen}]（北京时间）"})
    top_products = fields.List(fields.Dict(), metadata={"description": "[{product_id, name, quantity, amount_fen}]"})
    refunds = fields.Dict(metadata={"description": "{count, amount_fen, by_cause}"})
    aftersales_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    ratings = fields.Dict(metadata={"description": "{average, count, distribution}"})
    lockers_today = fields.List(
        fields.Dict(), metadata={"description": "今日各柜投递 [{locker_id, name, deposited, collected}]"}
    )


class StatementArgsSchema(Schema):
    month = fields.String(
        required=True,
        validate=validate.Regexp(r"^(19|20)\d\d-(0[1-9]|1[0-2])$", error="月份格式为 YYYY-MM"),
        metadata={"description": "结算月份（北京时间），如 2026-12"},
    )


class StatementSchema(Schema):
    vendor_id = fields.String()
    vendor_name = fields.String()
    month = fields.String()
    orders = fields.Integer(metadata={"description": "本月完成的订单数"})
    gross_fen = fields.Integer()
    refunds_fen = fields.Integer()
    commission_bps = fields.Integer()
    commission_fen = fields.Integer()
    net_fen = fields.Integer()
