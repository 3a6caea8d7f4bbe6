"""Request and response schemas of govservice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marshmallow import ValidationError, fields, validate

from app.api import CursorArgsSchema, LocalDateTime, Schema, cursor_page_schema
from govservice.booking_models import BookingStatus, BookingVia

#: Dates and times outside these years are refused before they reach the calendar or PostgreSQL.
MIN_YEAR, MAX_YEAR = 2000, 2100
PUBLIC_ID = validate.Length(min=1, max=24)


class BoundedDateTime(LocalDateTime):
    """A ``LocalDateTime`` between 2000 and 2100 (a year-1 time overflows when converted to UTC)."""

    default_error_messages = {"range": f"时间须在 {MIN_YEAR}–{MAX_YEAR} 年之间"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        try:
            result = super()._deserialize(value, attr, data, **kwargs)
        except (OverflowError, ValueError):
            raise self.make_error("range") from None
        if not MIN_YEAR <= result.astimezone(UTC).year <= MAX_YEAR:
            raise self.make_error("range")
        return result


def _date_range(value: date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError(f"日期须在 {MIN_YEAR}–{MAX_YEAR} 年之间")


def text_field(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


def name_field(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=max_length), validate.Regexp(r".*\S")], **kwargs)


class Brief(Schema):
    id = fields.String()
    name = fields.String()


class WindowBriefSchema(Schema):
    id = fields.String()
    number = fields.Integer()
    name = fields.String()


class ReasonSchema(Schema):
    reason = name_field(200, required=True)


# --- centres -------------------------------------------------------------------------------------------------------


class CentreRulesSchema(Schema):
    earliest_days = fields.Integer(
        validate=validate.Range(min=0, max=90), metadata={"description": "最早可约：今天之后第几天（0 = 今天）"}
    )
    latest_days = fields.Integer(validate=validate.Range(min=0, max=90), metadata={"description": "最晚可约天数"})
    cancel_cutoff_minutes = fields.Integer(
        validate=validate.Range(min=0, max=10080), metadata={"description": "开始前多少分钟内不能取消或改约"}
    )
    checkin_open_minutes = fields.Integer(
        validate=validate.Range(min=0, max=720), metadata={"description": "开始前多少分钟起可自助取号"}
    )
    one_per_item_per_day = fields.Boolean(metadata={"description": "同一事项每人每天一个有效预约"})
    noshow_limit = fields.Integer(validate=validate.Range(min=0, max=20), metadata={"description": "0 = 不限制"})
    noshow_window_days = fields.Integer(validate=validate.Range(min=1, max=365))
    suspension_days = fields.Integer(validate=validate.Range(min=1, max=365))
    makeup_weekday = fields.Integer(
        validate=validate.Range(min=0, max=4),
        metadata={"description": "调休上班日按星期几的工作日时段开放（0 = 周一）"},
    )
    reminder_eve_at = fields.Time(metadata={"description": "前一天几点提醒"})
    reminder_before_minutes = fields.Integer(validate=validate.Range(min=0, max=1440))


class CentreUpdateSchema(CentreRulesSchema):
    name = name_field(64)
    address = text_field(200)
    phone = text_field(32)
    supervision_phone = text_field(32)
    hours = text_field(200)


class CentreCreateSchema(CentreUpdateSchema):
    region_id = fields.String(required=True, validate=PUBLIC_ID, metadata={"description": "社区或街道"})
    name = name_field(64, required=True)


class CentreSchema(CentreUpdateSchema):
    id = fields.String(attribute="public_id")
    region = fields.Function(lambda centre: {"id": centre.region.public_id, "name": centre.region.name})
    created_at = fields.DateTime()


class CentreListArgsSchema(Schema):
    region = fields.String(
        load_default=None, validate=PUBLIC_ID, metadata={"description": "社区：该社区及其所属街道的服务中心"}
    )


# --- windows and sessions ------------------------------------------------------------------------------------------


class WindowSessionSchema(Schema):
    weekday = fields.Integer(
        required=True, validate=validate.Range(min=0, max=6), metadata={"description": "0 = 周一 … 6 = 周日"}
    )
    starts_at = fields.Time(required=True)
    ends_at = fields.Time(required=True)
    slot_minutes = fields.Integer(required=True, validate=validate.Range(min=5, max=240))
    capacity = fields.Integer(
        required=True, validate=validate.Range(min=1, max=500), metadata={"description": "每个时段可约人数"}
    )
    workday_only = fields.Boolean(
        load_default=True, metadata={"description": "仅工作日开放：法定节假日不开放，调休上班日按中心设置的星期开放"}
    )
    holiday_service = fields.Boolean(
        load_default=False, metadata={"description": "节假日照常开放（仅用于非工作日时段，如周末、延时服务）"}
    )
    label = text_field(32, load_default="")


class WindowUpdateSchema(Schema):
    number = fields.Integer(validate=validate.Range(min=1, max=999))
    name = name_field(64)
    queue_prefix = fields.String(validate=validate.Regexp(r"^[A-Z]{1,2}$"))
    is_active = fields.Boolean()
    item_ids = fields.List(
        fields.String(validate=PUBLIC_ID),
        validate=validate.Length(max=500),
        metadata={"description": "窗口办理的事项（整体替换）"},
    )
    sessions = fields.List(
        fields.Nested(WindowSessionSchema),
        validate=validate.Length(max=100),
        metadata={"description": "每周开放时段（整体替换）"},
    )


class WindowCreateSchema(WindowUpdateSchema):
    number = fields.Integer(required=True, validate=validate.Range(min=1, max=999))
    name = name_field(64, required=True)


class WindowSchema(Schema):
    id = fields.String()
    number = fields.Integer()
    name = fields.String()
    queue_prefix = fields.String()
    is_active = fields.Boolean()
    item_ids = fields.List(fields.String())
    sessions = fields.List(fields.Nested(WindowSessionSchema))


class ClosureCreateSchema(Schema):
    day = fields.Date(required=True, validate=_date_range)
    window_id = fields.String(load_default=None, validate=PUBLIC_ID, metadata={"description": "不填：整个中心"})
    starts_at = fields.Time(load_default=None, metadata={"description": "不填：全天"})
    ends_at = fields.Time(load_default=None)
    reason = name_field(200, required=True)


class ClosureSchema(Schema):
    id = fields.String(attribute="public_id")
    day = fields.Date()
    window_id = fields.Function(lambda closure: closure.window.public_id if closure.window else None)
    starts_at = fields.Time(allow_none=True)
    ends_at = fields.Time(allow_none=True)
    reason = fields.String()
    cancelled_bookings = fields.Integer()
    created_at = fields.DateTime()


class ClosureListArgsSchema(Schema):
    since = fields.Date(load_default=None, validate=_date_range, metadata={"description": "默认今天"})


# --- availability and bookings -------------------------------------------------------------------------------------


class AvailabilityArgsSchema(Schema):
    start = fields.Date(load_default=None, data_key="from", validate=_date_range)
    end = fields.Date(load_default=None, data_key="to", validate=_date_range)


class SlotSchema(Schema):
    window = fields.Nested(WindowBriefSchema)
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    capacity = fields.Integer()
    remaining = fields.Integer()
    label = fields.String()


class OpeningDaySchema(Schema):
    day = fields.Date()
    is_workday = fields.Boolean()
    holiday = fields.Boolean(metadata={"description": "法定节假日或闭馆日"})
    makeup_workday = fields.Boolean(metadata={"description": "调休上班日"})
    holiday_name = fields.String(allow_none=True)
    slots = fields.List(fields.Nested(SlotSchema))


class AvailabilitySchema(Schema):
    item = fields.Dict()
    first_day = fields.Date()
    last_day = fields.Date()
    days = fields.List(fields.Nested(OpeningDaySchema))


class BookingCreateSchema(Schema):
    item_id = fields.String(required=True, validate=PUBLIC_ID)
    window_id = fields.String(required=True, validate=PUBLIC_ID)
    starts_at = BoundedDateTime(required=True)
    for_resident_id = fields.String(
        load_default=None, validate=PUBLIC_ID, metadata={"description": "为家人预约（须有含 appointments 的代办授权）"}
    )


class StaffBookingCreateSchema(Schema):
    item_id = fields.String(required=True, validate=PUBLIC_ID)
    window_id = fields.String(required=True, validate=PUBLIC_ID)
    starts_at = BoundedDateTime(required=True)
    resident_id = fields.String(required=True, validate=PUBLIC_ID)
    reason = name_field(200, required=True, metadata={"description": "如：窗口现场、电话预约"})


class BookingResidentSchema(Schema):
    id = fields.String()
    name = fields.String()
    document = fields.String(allow_none=True)


class ItemBriefSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()


class CentreBriefSchema(Brief):
    address = fields.String()


class BookingSchema(Schema):
    id = fields.String()
    status = fields.Enum(BookingStatus, by_value=True)
    via = fields.Enum(BookingVia, by_value=True)
    centre = fields.Nested(CentreBriefSchema)
    window = fields.Nested(WindowBriefSchema)
    item = fields.Nested(ItemBriefSchema)
    resident = fields.Nested(BookingResidentSchema)
    day = fields.Date()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    queue_number = fields.String(allow_none=True, metadata={"description": "取号后的排队号，如 A007"})
    checked_in_at = fields.DateTime(allow_none=True)
    served_at = fields.DateTime(allow_none=True)
    no_show_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    cancel_until = fields.DateTime(metadata={"description": "此时间前可取消或改约"})
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class BookingListArgsSchema(CursorArgsSchema):
    status = fields.Enum(BookingStatus, by_value=True, load_default=None)


BookingPageSchema = cursor_page_schema(BookingSchema, "BookingPageSchema")


class CancelSchema(Schema):
    reason = text_field(200, load_default=None)


class RescheduleSchema(Schema):
    starts_at = BoundedDateTime(required=True)
    window_id = fields.String(load_default=None, validate=PUBLIC_ID)


class DeskListArgsSchema(Schema):
    day = fields.Date(load_default=None, validate=_date_range, metadata={"description": "默认今天"})
    window_id = fields.String(load_default=None, validate=PUBLIC_ID)
    status = fields.Enum(BookingStatus, by_value=True, load_default=None)


class SuspensionSchema(Schema):
    id = fields.String()
    resident = fields.Nested(BookingResidentSchema)
    starts_on = fields.Date()
    ends_on = fields.Date(metadata={"description": "此日起可再次预约"})
    no_shows = fields.Integer()
    lifted_at = fields.DateTime(allow_none=True)
    lift_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class SuspensionListArgsSchema(Schema):
    active = fields.Boolean(load_default=True)
