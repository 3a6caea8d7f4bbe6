"""Schemas of the inbox, subscriptions, SMS preferences and the staff views of a delivery."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema


class SourceSchema(Schema):
    kind = fields.String(metadata={"description": "来源类型，如 notice、order"})
    id = fields.String(metadata={"description": "来源 id"})


class ResidentRefSchema(Schema):
    id = fields.String()
    name = fields.String(metadata={"description": "姓名（脱敏）"})


class InboxItemSchema(Schema):
    id = fields.String()
    event = fields.String()
    title = fields.String()
    body = fields.String()
    source = fields.Nested(SourceSchema)
    for_resident = fields.Nested(
        ResidentRefSchema, allow_none=True, metadata={"description": "代为接收时：被代办的居民；本人的消息为 null"}
    )
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class InboxArgsSchema(CursorArgsSchema):
    unread = fields.Boolean(load_default=False, metadata={"description": "只看未读"})


class InboxPageSchema(cursor_page_schema(InboxItemSchema, "InboxItemPageBase")):
    unread_count = fields.Integer(metadata={"description": "未读总数"})


class MarkedSchema(Schema):
    marked = fields.Integer(metadata={"description": "本次标为已读的条数"})


class TemplateEventSchema(Schema):
    name = fields.String()
    title = fields.String()


class TemplateSchema(Schema):
    template_id = fields.String()
    events = fields.List(fields.Nested(TemplateEventSchema))


class GrantSchema(Schema):
    template_id = fields.String()
    remaining = fields.Integer(metadata={"description": "剩余可发送次数（一次性订阅，每条消息用掉一次）"})


class GrantRequestSchema(Schema):
    template_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=3),
        metadata={"description": "用户在 wx.requestSubscribeMessage 中接受（accept）的模板 id，一次最多 3 个"},
    )


class PreferenceSchema(Schema):
    event = fields.String()
    title = fields.String()
    sms = fields.Boolean(metadata={"description": "是否接收该类消息的短信"})


class PreferenceUpdateSchema(Schema):
    sms = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.Boolean(),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "事件名 → 是否接收短信"},
    )


class SourceArgsSchema(CursorArgsSchema):
    source_kind = fields.String(required=True, validate=validate.Length(min=1, max=32))
    source_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class UnreachableSchema(Schema):
    id = fields.String(metadata={"description": "居民 id"})
    real_name = fields.String()
    reason = fields.String(metadata={"description": "no_account 无账号且无代办人 | account_inactive 账号已停用"})
    addresses = fields.List(fields.String(), metadata={"description": "所在房屋，供上门或电话联系"})


UnreachablePageSchema = cursor_page_schema(UnreachableSchema, "UnreachablePageSchema")


class MessageRecordSchema(Schema):
    id = fields.String()
    channel = fields.String(metadata={"description": "wechat | sms"})
    account_id = fields.String(allow_none=True)
    address = fields.String(allow_none=True, metadata={"description": "短信号码（脱敏）"})
    status = fields.String(metadata={"description": "pending | retrying | sent | failed | skipped"})
    reason = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    attempts = fields.Integer()
    due_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


MessageRecordPageSchema = cursor_page_schema(MessageRecordSchema, "MessageRecordPageSchema")
