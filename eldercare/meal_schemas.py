"""Request and response schemas of meals, recurring orders and care balances (money in fen, times in +08:00)."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from eldercare.meal_models import DIET_NEEDS, DIET_TAGS
from eldercare.schemas import CareOrderSchema, CareQuoteSchema

ID = validate.Length(min=1, max=24)
HHMM = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="时间格式为 HH:MM")


# --- meals ---------------------------------------------------------------------------------------------------------


class MealSettingsSchema(Schema):
    cutoff = fields.String(required=True, validate=HHMM, metadata={"description": "当天午餐订餐截止时间，如 10:00"})
    serve_at = fields.String(required=True, validate=HHMM, metadata={"description": "送餐时间，如 11:30"})


class DishCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(load_default=None, validate=validate.Length(max=200))
    diet_tags = fields.List(
        fields.String(validate=validate.OneOf(DIET_TAGS)),
        load_default=list,
        validate=validate.Length(max=len(DIET_TAGS)),
        metadata={"description": "适合的饮食：low_salt 低盐, diabetic_friendly 糖尿病适用, soft_food 软食"},
    )
    conflicts_with = fields.List(
        fields.String(validate=validate.OneOf(DIET_NEEDS)),
        load_default=list,
        validate=validate.Length(max=len(DIET_NEEDS)),
        metadata={"description": "与之冲突的饮食需要（low_salt, diabetic, soft_food, seafood_allergy …）"},
    )


class DishSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    description = fields.String(allow_none=True)
    diet_tags = fields.List(fields.String())
    conflicts_with = fields.List(fields.String())


DishPageSchema = cursor_page_schema(DishSchema, "DishPageSchema")


class MenuPublishSchema(Schema):
    offer_id = fields.String(required=True, validate=ID, metadata={"description": "本机构的助餐服务"})
    dish_ids = fields.List(fields.String(validate=ID), required=True, validate=validate.Length(max=30))


class MenuEntrySchema(Schema):
    id = fields.String()
    day = fields.Date()
    dish_id = fields.String()
    dish_name = fields.String()
    description = fields.String(allow_none=True)
    diet_tags = fields.List(fields.String())
    conflicts_with = fields.List(fields.String())
    offer_id = fields.String()
    provider_id = fields.String()
    provider_name = fields.String()
    price_fen = fields.Integer()
    cutoff_at = fields.DateTime()
    open = fields.Boolean(metadata={"description": "是否仍可订餐（未过截止时间）"})
    diet_conflicts = fields.List(
        fields.String(), allow_none=True, metadata={"description": "与该老人饮食禁忌的冲突（带 elder_id 查询时）"}
    )


MenuEntryPageSchema = cursor_page_schema(MenuEntrySchema, "MenuEntryPageSchema")


class MenuQueryArgsSchema(CursorArgsSchema):
    day = fields.Date(required=True)
    community_id = fields.String(load_default=None, validate=validate.Length(max=24))
    elder_id = fields.String(load_default=None, validate=validate.Length(max=24))


class MealOrderCreateSchema(Schema):
    menu_entry_id = fields.String(required=True, validate=ID)
    elder_id = fields.String(load_default=None, validate=validate.Length(max=24))
    notes = fields.String(load_default=None, validate=validate.Length(max=200))
    reason = fields.String(load_default=None, validate=validate.Length(max=200))
    confirm_diet_conflict = fields.Boolean(
        load_default=False, metadata={"description": "菜品与老人饮食禁忌冲突时，须确认后才能下单"}
    )


class MealQuoteInfoSchema(Schema):
    day = fields.Date()
    cutoff_at = fields.DateTime()
    open = fields.Boolean()
    diet_conflicts = fields.List(fields.String())
    diet_conflict_labels = fields.List(fields.String())


class MealQuoteSchema(CareQuoteSchema):
    meal = fields.Nested(MealQuoteInfoSchema, allow_none=True)


class MealInfoSchema(Schema):
    day = fields.Date()
    dish_name = fields.String(allow_none=True)
    diet_conflicts = fields.List(fields.String())
    diet_conflicts_confirmed = fields.Boolean()


def _meal(order):
    from eldercare.meals import meal_of

    meal = meal_of(order.id)
    return MealInfoSchema().dump(meal) if meal else None


class MealOrderSchema(CareOrderSchema):
    meal = fields.Function(_meal, allow_none=True)


# --- recurring orders ----------------------------------------------------------------------------------------------


class SeriesCreateSchema(Schema):
    offer_id = fields.String(required=True, validate=ID)
    elder_id = fields.String(load_default=None, validate=validate.Length(max=24))
    reason = fields.String(load_default=None, validate=validate.Length(max=200))
    pattern = fields.String(
        required=True,
        validate=validate.OneOf(["workdays", "weekly"]),
        metadata={"description": "workdays：每个工作日（含调休上班日，不含法定节假日）；weekly：每周的 weekdays"},
    )
    weekdays = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=7)),
        load_default=list,
        validate=validate.Length(max=7),
        metadata={"description": "1 周一 … 7 周日"},
    )
    time_of_day = fields.Time(load_default=None, metadata={"description": "每次服务开始时间 HH:MM；助餐默认送餐时间"})
    starts_on = fields.Date(load_default=None)
    ends_on = fields.Date(load_default=None)
    pay_from_balance = fields.Boolean(load_default=True, metadata={"description": "自付部分从助餐卡扣除"})
    notes = fields.String(load_default=None, validate=validate.Length(max=200))


class SeriesPauseSchema(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(load_default=None, metadata={"description": "不填则暂停至恢复"})
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class SeriesResumeSchema(Schema):
    on = fields.Date(load_default=None, metadata={"description": "从哪天恢复，默认今天"})


class SeriesEndSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class SeriesPauseOutSchema(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date(allow_none=True)
    reason = fields.String(allow_none=True)


class SeriesOccurrenceSchema(Schema):
    day = fields.Date()
    order_id = fields.String()
    status = fields.String()


class SeriesSchema(Schema):
    id = fields.String()
    elder_id = fields.String()
    offer_id = fields.String()
    pattern = fields.String()
    weekdays = fields.List(fields.Integer())
    time_of_day = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date(allow_none=True)
    status = fields.String()
    pay_from_balance = fields.Boolean()
    placed_via = fields.String()
    created_at = fields.DateTime()
    pauses = fields.List(fields.Nested(SeriesPauseOutSchema))
    upcoming = fields.List(fields.Nested(SeriesOccurrenceSchema))


SeriesPageSchema = cursor_page_schema(SeriesSchema, "SeriesPageSchema")


class SeriesQueryArgsSchema(CursorArgsSchema):
    elder_id = fields.String(required=True, validate=ID)


# --- care balances -------------------------------------------------------------------------------------------------


class CareBalanceIssueSchema(Schema):
    elder_id = fields.String(required=True, validate=ID)


class CareBalanceSchema(Schema):
    id = fields.String()
    elder_id = fields.String()
    provider_id = fields.String()
    provider_name = fields.String()
    balance_fen = fields.Integer()
    created_at = fields.DateTime()


class CareBalanceQueryArgsSchema(Schema):
    elder_id = fields.String(required=True, validate=ID)


class BalanceEntrySchema(Schema):
    kind = fields.String(metadata={"description": "topup 充值, draw 扣款, refund 退回"})
    amount_fen = fields.Integer()
    balance_after_fen = fields.Integer()
    order_id = fields.String(allow_none=True)
    created_at = fields.DateTime()


BalanceEntryPageSchema = cursor_page_schema(BalanceEntrySchema, "BalanceEntryPageSchema")


class TopupCreateSchema(Schema):
    amount_fen = fields.Integer(required=True, strict=True, validate=validate.Range(min=100, max=500_000))


class TopupPayableSchema(Schema):
    kind = fields.String()
    id = fields.String()


class TopupSchema(Schema):
    id = fields.String()
    balance_id = fields.String()
    amount_fen = fields.Integer()
    status = fields.String()
    expires_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    payable = fields.Nested(TopupPayableSchema, metadata={"description": "用 POST /api/v1/payments 支付"})
