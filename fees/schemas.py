"""Request and response schemas of fees. Money is integer fen; rates are integer 0.01 fen (``rate_centifen``)."""

from __future__ import annotations

import re
from datetime import date

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from fees.models import AdjustmentKind, BillStatus, Cycle, FeeKind, Formula, OrderStatus

ID = validate.Length(min=1, max=24)


def _fen(description: str = "金额（分）", **kwargs) -> fields.Integer:
    return fields.Integer(strict=True, metadata={"description": description}, **kwargs)


class Period(fields.String):
    """A billing month as ``YYYY-MM`` (stored as the month's first day); also accepts ``YYYY-MM-01``."""

    default_error_messages = {"invalid": "账期格式应为 2026-11"}  # noqa: RUF012
    PATTERN = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")

    def __init__(self, **kwargs) -> None:
        metadata = {
            "description": "账期（月），如 2026-11",
            "example": "2026-11",
            "pattern": r"^\d{4}-\d{2}(-01)?$",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{value.year:04d}-{value.month:02d}"

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        match = self.PATTERN.match(value) if isinstance(value, str) else None
        if match is None:
            raise self.make_error("invalid")
        year, month = int(match[1]), int(match[2])
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            raise self.make_error("invalid")
        return date(year, month, 1)


# --- fee items -------------------------------------------------------------------------------------------------


class FeeItemCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in FeeKind]))
    formula = fields.String(
        required=True,
        validate=validate.OneOf([f.value for f in Formula]),
        metadata={"description": "per_area 按建筑面积（每㎡每月）；fixed 每户每月固定；metered 按表计量（每单位）"},
    )
    rate_centifen = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=10**12),
        metadata={"description": "单价，单位 0.01 分：1.50 元/㎡·月 为 15000，0.4883 元/kWh 为 4883"},
    )
    unit_label = fields.String(load_default=None, validate=validate.Length(max=16), metadata={"example": "kWh"})
    cycle = fields.String(required=True, validate=validate.OneOf([c.value for c in Cycle]))
    payee_id = fields.String(required=True, validate=ID, metadata={"description": "收款方 id（平台管理员创建）"})
    due_days = fields.Integer(strict=True, load_default=15, validate=validate.Range(min=0, max=366))
    late_fee_bps_per_day = fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(min=0, max=10000),
        metadata={"description": "滞纳金：每天按欠费本金的万分之几（5 = 万分之五）"},
    )
    late_fee_cap_bps = fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(min=0, max=100000),
        metadata={"description": "滞纳金上限：本金的万分之几（10000 = 不超过本金）"},
    )
    is_active = fields.Boolean(load_default=True)


class FeeItemUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=64))
    rate_centifen = fields.Integer(strict=True, validate=validate.Range(min=0, max=10**12))
    unit_label = fields.String(allow_none=True, validate=validate.Length(max=16))
    payee_id = fields.String(validate=ID)
    due_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=366))
    late_fee_bps_per_day = fields.Integer(strict=True, validate=validate.Range(min=0, max=10000))
    late_fee_cap_bps = fields.Integer(strict=True, validate=validate.Range(min=0, max=100000))
    is_active = fields.Boolean()


class FeeItemSchema(Schema):
    """Dumps ``items.item_view``."""

    id = fields.String()
    name = fields.String()
    kind = fields.Enum(FeeKind, by_value=True)
    formula = fields.Enum(Formula, by_value=True)
    rate_centifen = fields.Integer()
    rate_yuan = fields.String(metadata={"description": "单价（元）"})
    unit_label = fields.String(allow_none=True)
    cycle = fields.Enum(Cycle, by_value=True)
    payee_id = fields.String()
    due_days = fields.Integer()
    late_fee_bps_per_day = fields.Integer()
    late_fee_cap_bps = fields.Integer()
    is_active = fields.Boolean()
    created_at = fields.DateTime()


# --- meter readings --------------------------------------------------------------------------------------------

# No Range validator here: apispec would publish its bounds as decimal strings, which OpenAPI refuses. The service
# checks the range (fees.readings.MAX_READING).
_READING = {"places": 2, "as_string": True}


class MeterReadingCreateSchema(Schema):
    household_id = fields.String(required=True, validate=ID)
    period = Period(required=True)
    current_reading = fields.Decimal(required=True, **_READING)
    previous_reading = fields.Decimal(load_default=None, **_READING, metadata={"description": "省略时取上期读数"})
    read_on = fields.Date(load_default=None)
    meter_change_note = fields.String(load_default=None, validate=validate.Length(max=200))
    old_meter_end = fields.Decimal(load_default=None, **_READING)
    new_meter_start = fields.Decimal(load_default=None, **_READING)


class MeterReadingSchema(Schema):
    id = fields.String(attribute="public_id")
    household_id = fields.String()
    period = Period()
    previous_reading = fields.Decimal(places=2, as_string=True)
    current_reading = fields.Decimal(places=2, as_string=True)
    usage = fields.Decimal(places=2, as_string=True)
    read_on = fields.Date()
    meter_change_note = fields.String(allow_none=True)
    old_meter_end = fields.Decimal(places=2, as_string=True, allow_none=True)
    new_meter_start = fields.Decimal(places=2, as_string=True, allow_none=True)
    created_at = fields.DateTime()


class FeePeriodArgsSchema(Schema):
    period = Period(required=True)


class MeterReadingImportResultSchema(Schema):
    imported = fields.Integer()
    period = Period()


# --- billing ---------------------------------------------------------------------------------------------------


class BillingRunCreateSchema(Schema):
    period = Period(required=True)


class BillingRunSchema(Schema):
    id = fields.String(attribute="public_id")
    period = Period()
    status = fields.String(metadata={"description": "queued 排队中；done 已完成"})
    stats = fields.Dict(allow_none=True, metadata={"description": "每个收费项目：created 新出账单、billable、missing"})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class OneOffBillCreateSchema(Schema):
    household_id = fields.String(required=True, validate=ID)
    item_id = fields.String(required=True, validate=ID)
    title = fields.String(required=True, validate=validate.Length(min=1, max=100))
    amount_fen = _fen(required=True, validate=validate.Range(min=1, max=10**10))
    due_on = fields.Date(required=True)
    period = Period(load_default=None, metadata={"description": "归属账期，默认为应缴日所在月"})


class BillAdjustmentCreateSchema(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf([k.value for k in AdjustmentKind]),
        metadata={"description": "discount 减免金额；waive_late_fee 免收滞纳金；cancel 作废"},
    )
    amount_fen = _fen(load_default=0, validate=validate.Range(min=0, max=10**10))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=200))

    @validates_schema
    def _amount_for_discount(self, data, **kwargs) -> None:
        if data["kind"] == "discount" and data.get("amount_fen", 0) <= 0:
            raise ValidationError("减免须填写金额", field_name="amount_fen")


class BillAdjustmentSchema(Schema):
    kind = fields.String()
    amount_fen = _fen()
    reason = fields.String(allow_none=True, metadata={"description": "仅工作人员可见"})
    created_at = fields.DateTime()


class BillSchema(Schema):
    id = fields.String()
    household_id = fields.String()
    item_id = fields.String()
    kind = fields.String()
    formula = fields.String()
    unit_label = fields.String(allow_none=True)
    title = fields.String()
    period = Period()
    one_off = fields.Boolean()
    quantity = fields.Decimal(places=2, as_string=True, allow_none=True, metadata={"description": "面积㎡、用量或 1"})
    months = fields.Integer()
    rate_centifen = fields.Integer(allow_none=True)
    amount_fen = _fen("应收金额（分）")
    discount_fen = _fen("减免（分）")
    principal_fen = _fen("本金：应收减去减免；已缴账单为实缴本金")
    late_fee_fen = _fen("滞纳金：未缴账单为截至今日；已缴账单为实缴")
    late_fee_waived = fields.Boolean()
    total_fen = _fen("合计（分）")
    due_on = fields.Date()
    days_overdue = fields.Integer()
    late_fee_as_of = fields.Date(allow_none=True)
    status = fields.String(metadata={"enum": [s.value for s in BillStatus]})
    locked = fields.Boolean(metadata={"description": "是否已在一笔未完成的缴费单中"})
    paid_at = fields.DateTime(allow_none=True)
    receipt_id = fields.String(allow_none=True)


class BillDetailSchema(BillSchema):
    adjustments = fields.List(fields.Nested(BillAdjustmentSchema))


class BillListArgsSchema(CursorArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in BillStatus]))


class BillPageSchema(cursor_page_schema(BillSchema, "BillPageBaseSchema")):
    via = fields.String(metadata={"description": "member 本户成员；delegate 代办人；staff 工作人员"})


class EstateBillArgsSchema(Schema):
    period = Period(required=True)
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in BillStatus]))


class FeeAddressSchema(Schema):
    community = fields.String()
    estate = fields.String()
    building = fields.String()
    unit = fields.String(allow_none=True)
    room = fields.String()
    label = fields.String()


class FeeBriefSchema(Schema):
    id = fields.String()
    name = fields.String()


class PayableHouseholdSchema(Schema):
    id = fields.String()
    address = fields.Nested(FeeAddressSchema)
    via = fields.String(metadata={"description": "member 本户；delegate 代缴（代办授权含 bills）"})
    for_resident = fields.Nested(FeeBriefSchema, metadata={"description": "缴费所代表的本户成员（姓名脱敏）"})
    unpaid_count = fields.Integer()
    overdue_count = fields.Integer()
    principal_fen = _fen()
    late_fee_fen = _fen("截至今日的滞纳金（分）")
    total_fen = _fen()
    as_of = fields.Date()


# --- fee orders and receipts ------------------------------------------------------------------------------------


class FeeOrderCreateSchema(Schema):
    household_id = fields.String(required=True, validate=ID)
    bill_ids = fields.List(
        fields.String(validate=ID),
        required=True,
        validate=validate.Length(min=1, max=60),
        metadata={"description": "同一户、同一收款单位的未缴账单"},
    )


class FeeOrderLineSchema(Schema):
    bill_id = fields.String()
    title = fields.String()
    period = Period()
    due_on = fields.Date()
    principal_fen = _fen()
    late_fee_fen = _fen()
    amount_fen = _fen()
    state = fields.String()


class PayableRefSchema(Schema):
    kind = fields.String(metadata={"description": "POST /api/v1/payments 的 kind"})
    id = fields.String(metadata={"description": "POST /api/v1/payments 的 ids 之一"})


class FeeHouseholdBriefSchema(Schema):
    id = fields.String()
    address = fields.Nested(FeeAddressSchema)


class FeeOrderSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"enum": [s.value for s in OrderStatus]})
    is_open = fields.Boolean()
    household = fields.Nested(FeeHouseholdBriefSchema)
    payee = fields.Nested(FeeBriefSchema)
    lines = fields.List(fields.Nested(FeeOrderLineSchema))
    principal_fen = _fen()
    late_fee_fen = _fen("滞纳金，按下单当日计算（分）")
    amount_fen = _fen("应付合计（分）")
    priced_on = fields.Date()
    expires_at = fields.DateTime()
    payable = fields.Nested(PayableRefSchema, metadata={"description": "用于 POST /api/v1/payments"})
    payment_id = fields.String(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    refunded_fen = _fen()
    receipt_id = fields.String(allow_none=True)


class FeeReceiptLineSchema(Schema):
    bill_id = fields.String()
    title = fields.String()
    period = fields.String()
    due_on = fields.String()
    principal_fen = _fen()
    late_fee_fen = _fen()
    amount_fen = _fen()


class FeeReceiptHouseholdSchema(Schema):
    id = fields.String()
    address = fields.String()


class FeeReceiptSchema(Schema):
    id = fields.String()
    number = fields.String(metadata={"description": "收据编号：年份-流水号（每小区每年连续）"})
    payee = fields.Nested(FeeBriefSchema)
    estate = fields.String()
    household = fields.Nested(FeeReceiptHouseholdSchema)
    paid_for = fields.String(allow_none=True, metadata={"description": "缴费所代表的成员（姓名脱敏）"})
    lines = fields.List(fields.Nested(FeeReceiptLineSchema))
    principal_fen = _fen()
    late_fee_fen = _fen()
    total_fen = _fen()
    refunded_fen = _fen()
    fee_order_id = fields.String()
    payment_id = fields.String()
    out_trade_no = fields.String()
    channel = fields.String()
    paid_at = fields.DateTime()
    issued_at = fields.DateTime()


FeeReceiptPageSchema = cursor_page_schema(FeeReceiptSchema, "FeeReceiptPageSchema")


# --- arrears and dashboard --------------------------------------------------------------------------------------


class ArrearsRowSchema(Schema):
    household_id = fields.String()
    building = fields.String()
    unit = fields.String(allow_none=True)
    room = fields.String()
    head_name = fields.String(allow_none=True, metadata={"description": "户主（脱敏）"})
    head_phone = fields.String(allow_none=True, metadata={"description": "户主手机（脱敏）"})
    bills = fields.Integer()
    principal_fen = _fen()
    late_fee_fen = _fen("截至今日（分）")
    total_fen = _fen()
    oldest_due_on = fields.Date()
    last_reminded_on = fields.Date(allow_none=True)


class RemindResultSchema(Schema):
    reminded = fields.Integer(metadata={"description": "本次提醒的户数"})
    interval_days = fields.Integer(metadata={"description": "同一户两次催缴的最短间隔（天）"})


class FeeDashboardArgsSchema(Schema):
    start = Period(required=True, data_key="from")
    end = Period(required=True, data_key="to")

    @validates_schema
    def _ordered(self, data, **kwargs) -> None:
        if data["end"] < data["start"]:
            raise ValidationError("结束账期不能早于开始账期", field_name="to")
        if (data["end"].year - data["start"].year) * 12 + data["end"].month - data["start"].month > 35:
            raise ValidationError("一次最多查询 36 个月", field_name="to")


class FeeDashboardFiguresSchema(Schema):
    bills = fields.Integer()
    paid_bills = fields.Integer()
    billed_fen = _fen("应收：账期内账单本金（减免后，不含作废）")
    collected_fen = _fen("实收：上述账单已缴本金（不含滞纳金）")
    collection_rate_percent = fields.String(allow_none=True, metadata={"description": "收缴率 = 实收 / 应收 × 100"})
    late_fees_collected_fen = _fen("已收滞纳金")
    outstanding_fen = _fen("未缴本金")
    arrears_fen = _fen("欠费：已过应缴日的未缴本金")
    arrears_households = fields.Integer()


class FeeDashboardPeriodSchema(FeeDashboardFiguresSchema):
    period = Period()


class FeeDashboardSchema(Schema):
    estate = fields.Nested(FeeBriefSchema)
    start = Period(data_key="from")
    end = Period(data_key="to")
    as_of = fields.Date()
    periods = fields.List(fields.Nested(FeeDashboardPeriodSchema))
    total = fields.Nested(FeeDashboardFiguresSchema)
    definition = fields.String()
