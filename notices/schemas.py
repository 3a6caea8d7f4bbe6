"""Notice schemas: drafts in, notices out, publish, withdraw, pin and remind actions, previews, feeds, statistics."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from app.files.schemas import FileSchema
from app.push.schemas import UnreachablePageSchema
from notices.audience import TAG_CODES
from notices.models import NoticeChannel, NoticeStatus

_TAG_HELP = (
    "居民标签：low_income 低收入、disabled 残疾、retired 离退休、dibao 低保、elderly 高龄（≥80 岁，按出生日期计算）等"
)
_IDS = fields.List(fields.String(validate=validate.Length(min=1, max=24)), validate=validate.Length(max=200))


_EXPRESSION_HELP = (
    '条件树：{"and": [...]}、{"or": [...]}、{"not": {...}}，叶子为 {"community"|"estate"|"building"|'
    '"unit": id}、{"tag": "dibao"}（或中文名 低保、高龄）、{"age": {"min": 60, "max": 79}}；'
    "null 表示发布层级下全体居民。不能与 communities/estates/buildings/tags 同时使用"
)
_CHANNEL_HELP = "announcement 社区公告、organization 社区组织、information 社区信息、activity 社区活动"


class AudienceSchema(Schema):
    expression = fields.Raw(allow_none=True, metadata={"description": _EXPRESSION_HELP})
    communities = _IDS
    estates = _IDS
    buildings = _IDS
    tags = fields.List(
        fields.String(validate=validate.OneOf(TAG_CODES)),
        metadata={"description": _TAG_HELP},
    )
    tag_match = fields.String(
        validate=validate.OneOf(["any", "all"]),
        metadata={"description": "any：具有任一标签（并集，默认）；all：具有全部标签（交集）"},
    )


class AudienceOutSchema(AudienceSchema):
    expression = fields.Raw(allow_none=True, metadata={"description": "条件树（叶子带 label 显示名）"})
    summary = fields.String(metadata={"description": "标签条件说明"})


class NoticeCreateSchema(Schema):
    region_id = fields.String(
        required=True, metadata={"description": "发布层级：社区、街道或区的 id（对象只能在其辖区内）"}
    )
    channel = fields.Enum(
        NoticeChannel, by_value=True, load_default=NoticeChannel.announcement, metadata={"description": _CHANNEL_HELP}
    )
    title = fields.String(required=True, validate=validate.Length(min=1, max=100))
    body = fields.String(
        required=True, validate=validate.Length(min=1, max=20000), metadata={"description": "Markdown"}
    )
    urgent = fields.Boolean(load_default=False, metadata={"description": "紧急通知：短信不受夜间免打扰限制"})
    pinned = fields.Boolean(load_default=False, metadata={"description": "置顶：在居民的通知列表中排在最前"})
    expires_at = fields.AwareDateTime(
        load_default=None, metadata={"description": "过期时间（带时区）：过期后不再出现在居民的通知列表中"}
    )
    audience = fields.Nested(
        AudienceSchema,
        load_default=dict,
        metadata={"description": "地点之间取并集（空则为发布层级下全体居民），再按标签筛选"},
    )
    attachments = fields.List(
        fields.String(validate=validate.Length(min=1, max=24)),
        load_default=list,
        validate=validate.Length(max=9),
        metadata={"description": "已上传文件的 id（公开或私有文件）"},
    )


class NoticeUpdateSchema(Schema):
    channel = fields.Enum(NoticeChannel, by_value=True, metadata={"description": _CHANNEL_HELP})
    title = fields.String(validate=validate.Length(min=1, max=100))
    body = fields.String(validate=validate.Length(min=1, max=20000))
    urgent = fields.Boolean()
    pinned = fields.Boolean()
    expires_at = fields.AwareDateTime(allow_none=True)
    audience = fields.Nested(AudienceSchema)
    attachments = fields.List(fields.String(validate=validate.Length(min=1, max=24)), validate=validate.Length(max=9))


class NoticePublishSchema(Schema):
    publish_at = fields.AwareDateTime(
        load_default=None, metadata={"description": "定时发布时间（带时区）；省略则立即发布"}
    )


class NoticeWithdrawSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class RegionRefSchema(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()


class NoticeSchema(Schema):
    id = fields.String()
    region = fields.Nested(RegionRefSchema)
    channel = fields.String(metadata={"description": _CHANNEL_HELP})
    channel_name = fields.String()
    title = fields.String()
    body = fields.String(metadata={"description": "Markdown 原文"})
    body_html = fields.String(metadata={"description": "渲染并净化后的 HTML"})
    summary = fields.String(metadata={"description": "纯文本摘要"})
    urgent = fields.Boolean()
    pinned = fields.Boolean()
    read = fields.Boolean(metadata={"description": "居民的通知列表：本人（或代办）是否已读"})
    status = fields.String(metadata={"description": "draft | scheduled | published | withdrawn"})
    audience = fields.Nested(AudienceOutSchema, metadata={"description": "仅工作人员可见"})
    attachments = fields.List(fields.Nested(FileSchema))
    publish_at = fields.DateTime(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    reminded_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


NoticePageSchema = cursor_page_schema(NoticeSchema, "NoticePageSchema")


class NoticeQueryArgsSchema(CursorArgsSchema):
    status = fields.Enum(NoticeStatus, by_value=True, load_default=None)
    channel = fields.Enum(NoticeChannel, by_value=True, load_default=None)


class NoticeFeedArgsSchema(CursorArgsSchema):
    channel = fields.Enum(NoticeChannel, by_value=True, load_default=None, metadata={"description": _CHANNEL_HELP})


class NoticePinSchema(Schema):
    pinned = fields.Boolean(required=True)


class AudiencePreviewArgsSchema(Schema):
    region_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    audience = fields.Nested(AudienceSchema, load_default=dict)


class SampleResidentSchema(Schema):
    name = fields.String(metadata={"description": "姓名（脱敏）"})
    building = fields.String(allow_none=True)
    reachable = fields.Boolean()


class AudiencePreviewSchema(Schema):
    recipients = fields.Integer(metadata={"description": "对象人数"})
    reachable = fields.Integer(metadata={"description": "可送达人数（本人账号或代办家属）"})
    unreachable = fields.Integer(metadata={"description": "无法送达人数（需上门或电话）"})
    summary = fields.String()
    sample = fields.List(fields.Nested(SampleResidentSchema))


class ReminderSchema(Schema):
    notice_id = fields.String()
    reminded = fields.Integer(metadata={"description": "提醒的未读居民人数"})
    reminded_at = fields.DateTime()


class NoticeStatsSchema(Schema):
    notice_id = fields.String()
    status = fields.String()
    audience = fields.Integer(metadata={"description": "发布时对象人数"})
    reached = fields.Integer(metadata={"description": "已送达的居民（本人或代办家属收到）"})
    read = fields.Integer(metadata={"description": "已读的居民"})
    unread = fields.Integer(metadata={"description": "已送达未读的居民"})
    unreachable = fields.Integer(metadata={"description": "无法触达的居民（无账号且无代办人）"})
    pending = fields.Integer(metadata={"description": "仍在分发中的发送批次"})
    unreachable_residents = fields.Nested(
        UnreachablePageSchema,
        metadata={"description": "无法触达居民第一页；后续页见 GET /api/v1/push/unreachable?source_kind=notice"},
    )


class UnreadResidentSchema(Schema):
    id = fields.String(metadata={"description": "居民 id"})
    real_name = fields.String()
    phone = fields.String(allow_none=True, metadata={"description": "账号手机号（脱敏）"})
    addresses = fields.List(fields.String(), metadata={"description": "所在房屋，供上门联系"})


UnreadResidentPageSchema = cursor_page_schema(UnreadResidentSchema, "UnreadResidentPageSchema")
