"""Activity schemas (names prefixed ``Activity`` to stay unique across the app)."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema

_ID = {"validate": validate.Length(min=1, max=24)}
_FOR = "代办：为其报名的居民 id（需该居民授权 activities 范围）；省略为本人"


class ActivityCreateSchema(Schema):
    community_id = fields.String(required=True, **_ID, metadata={"description": "社区 id"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=60))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    place = fields.String(required=True, validate=validate.Length(min=1, max=100))
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    signup_deadline = fields.DateTime(load_default=None, metadata={"description": "报名截止时间；省略为开始时间"})
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=10000))
    volunteer = fields.Boolean(load_default=False, metadata={"description": "志愿服务活动：签退时记录服务时长"})
    publish = fields.Boolean(load_default=False, metadata={"description": "创建后立即发布"})


class ActivitySignupSchema(Schema):
    id = fields.String()
    resident_id = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "confirmed 已确认 / waitlisted 候补 / cancelled 已取消"})
    queue_no = fields.Integer()
    waitlist_position = fields.Integer(allow_none=True, metadata={"description": "候补排位（1 为下一个）"})
    promoted_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    checked_in_at = fields.DateTime(allow_none=True)
    checked_out_at = fields.DateTime(allow_none=True)
    volunteer_minutes = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class ActivitySchema(Schema):
    id = fields.String()
    community_id = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String()
    place = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    signup_deadline = fields.DateTime()
    capacity = fields.Integer()
    volunteer = fields.Boolean()
    status = fields.String(metadata={"description": "draft 草稿 / published 已发布 / cancelled 已取消"})
    confirmed_count = fields.Integer()
    waitlist_count = fields.Integer()
    places_left = fields.Integer()
    published_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    my_signups = fields.List(
        fields.Nested(ActivitySignupSchema), metadata={"description": "我本人及我代办的报名（居民接口）"}
    )


ActivityPageSchema = cursor_page_schema(ActivitySchema, "ActivityPageSchema")
ActivitySignupPageSchema = cursor_page_schema(ActivitySignupSchema, "ActivitySignupPageSchema")


class ActivityListArgsSchema(CursorArgsSchema):
    community_id = fields.String(
        load_default=None, **_ID, metadata={"description": "社区 id；只在一个社区有住房时可省略"}
    )


class ActivityStaffListArgsSchema(CursorArgsSchema):
    community_id = fields.String(required=True, **_ID)


class ActivitySignupCreateSchema(Schema):
    resident_id = fields.String(load_default=None, **_ID, metadata={"description": _FOR})


class ActivitySignupCancelArgsSchema(Schema):
    resident_id = fields.String(load_default=None, **_ID, metadata={"description": _FOR})


class ActivityCheckOutSchema(Schema):
    minutes = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=1440),
        metadata={"description": "服务时长（分钟）；省略时按签到到签退的时间计算"},
    )


class ActivityHoursArgsSchema(CursorArgsSchema):
    resident_id = fields.String(load_default=None, **_ID, metadata={"description": "代办：查看所代办居民的时长"})


class ActivityHoursItemSchema(Schema):
    activity_id = fields.String()
    title = fields.String()
    place = fields.String()
    starts_at = fields.DateTime()
    checked_in_at = fields.DateTime(allow_none=True)
    checked_out_at = fields.DateTime()
    minutes = fields.Integer()


class ActivityHoursSchema(Schema):
    total_minutes = fields.Integer(metadata={"description": "志愿服务总时长（分钟）"})
    activity_count = fields.Integer()
    items = fields.List(fields.Nested(ActivityHoursItemSchema))
    next_cursor = fields.String(allow_none=True)


class ActivityRankingArgsSchema(Schema):
    region_id = fields.String(required=True, **_ID, metadata={"description": "社区、街道或区 id"})


class ActivityRankingSchema(Schema):
    rank = fields.Integer()
    resident_id = fields.String()
    name = fields.String()
    total_minutes = fields.Integer()
    activity_count = fields.Integer()
