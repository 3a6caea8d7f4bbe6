"""邻里圈 schemas: posts, comments, likes, reports, groups, feeds, and the staff worklists and actions."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from neighbours.models import TOPIC_LABELS, ImageReview, ReportReason, Topic, WordAction

_ID = fields.String(validate=validate.Length(min=1, max=24))
_TOPIC_HELP = "话题：" + "、".join(f"{topic.value} {label}" for topic, label in TOPIC_LABELS.items())
_COMMUNITY_HELP = "社区 id；只在一个社区有住房时可省略"


class TopicSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True)


class TopicListSchema(Schema):
    items = fields.List(fields.Nested(TopicSchema))


class PostCreateSchema(Schema):
    community_id = fields.String(
        load_default=None, validate=validate.Length(min=1, max=24), metadata={"description": _COMMUNITY_HELP}
    )
    topic = fields.Enum(Topic, by_value=True, required=True, metadata={"description": _TOPIC_HELP})
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    image_ids = fields.List(
        _ID,
        load_default=list,
        validate=validate.Length(max=9),
        metadata={"description": "已上传（visibility=private）图片的 id，最多 9 张；审核通过后才对他人展示"},
    )
    building_only = fields.Boolean(load_default=False, metadata={"description": "仅本楼栋居民可见"})
    building_id = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=24),
        metadata={"description": "building_only 时的楼栋 id；只住一栋楼时可省略"},
    )
    group_id = fields.String(
        load_default=None, validate=validate.Length(min=1, max=24), metadata={"description": "发到兴趣小组"}
    )


class AuthorSchema(Schema):
    id = fields.String()
    name = fields.String()


class PostImageSchema(Schema):
    id = fields.String()
    url = fields.String(metadata={"description": "签名链接，FILE_URL_TTL 秒内有效"})
    status = fields.String(
        allow_none=True, metadata={"description": "pending/approved（仅作者和工作人员可见；他人只看到已通过的图片）"}
    )


class PostSchema(Schema):
    id = fields.String()
    topic = fields.Enum(Topic, by_value=True)
    text = fields.String()
    images = fields.List(fields.Nested(PostImageSchema))
    building_only = fields.Boolean()
    group_id = fields.String(allow_none=True)
    author = fields.Nested(AuthorSchema)
    like_count = fields.Integer()
    comment_count = fields.Integer()
    liked = fields.Boolean()
    mine = fields.Boolean()
    status = fields.String(metadata={"description": "published / hidden（被举报或工作人员隐藏）/ deleted"})
    hidden_reason = fields.String(allow_none=True, metadata={"description": "reports / staff（作者和工作人员可见）"})
    report_count = fields.Integer(allow_none=True, metadata={"description": "工作人员可见"})
    created_at = fields.DateTime()


PostPageSchema = cursor_page_schema(PostSchema)


class FeedArgsSchema(CursorArgsSchema):
    community_id = fields.String(
        load_default=None, validate=validate.Length(min=1, max=24), metadata={"description": _COMMUNITY_HELP}
    )
    topic = fields.Enum(Topic, by_value=True, load_default=None, metadata={"description": _TOPIC_HELP})
    sort = fields.String(
        load_default="newest",
        validate=validate.OneOf(["newest", "hot"]),
        metadata={"description": "newest 最新；hot 热门（首页生成快照，游标翻页期间排序不变）"},
    )


class LikeSchema(Schema):
    liked = fields.Boolean()
    like_count = fields.Integer()


class CommentCreateSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=500))
    reply_to = fields.String(
        load_default=None, validate=validate.Length(min=1, max=24), metadata={"description": "回复的评论 id"}
    )


class CommentReplySchema(Schema):
    id = fields.String()
    text = fields.String()
    author = fields.Nested(AuthorSchema)
    reply_to = fields.Nested(AuthorSchema, allow_none=True, metadata={"description": "被回复的人（回复时）"})
    reply_count = fields.Integer()
    mine = fields.Boolean()
    created_at = fields.DateTime()


class CommentSchema(CommentReplySchema):
    replies = fields.List(fields.Nested(CommentReplySchema), metadata={"description": "最新的 3 条回复"})


CommentPageSchema = cursor_page_schema(CommentSchema)
ReplyPageSchema = cursor_page_schema(CommentReplySchema, "CommentReplyPageSchema")


class ReportCreateSchema(Schema):
    reason = fields.Enum(
        ReportReason,
        by_value=True,
        required=True,
        metadata={
            "description": "spam 垃圾广告、abuse 辱骂攻击、fraud 诈骗、illegal 违法违规、privacy 泄露隐私、other 其他"
        },
    )
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class ReportedSchema(Schema):
    reported = fields.Boolean()


class GroupCreateSchema(Schema):
    community_id = fields.String(
        load_default=None, validate=validate.Length(min=1, max=24), metadata={"description": _COMMUNITY_HELP}
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=30))
    description = fields.String(load_default="", validate=validate.Length(max=200))
    closed = fields.Boolean(load_default=False, metadata={"description": "封闭小组：入组需组长同意，动态仅成员可见"})


class GroupSchema(Schema):
    id = fields.String()
    name = fields.String()
    description = fields.String()
    closed = fields.Boolean()
    member_count = fields.Integer()
    owner = fields.Boolean(metadata={"description": "我是组长"})
    membership = fields.String(allow_none=True, metadata={"description": "我的成员状态：active / pending / null"})
    created_at = fields.DateTime()


GroupPageSchema = cursor_page_schema(GroupSchema)


class GroupArgsSchema(CursorArgsSchema):
    community_id = fields.String(
        load_default=None, validate=validate.Length(min=1, max=24), metadata={"description": _COMMUNITY_HELP}
    )


class GroupJoinRequestSchema(Schema):
    user_id = fields.String()
    name = fields.String()
    requested_at = fields.DateTime()


GroupJoinRequestPageSchema = cursor_page_schema(GroupJoinRequestSchema)


# --- staff ---------------------------------------------------------------------------------------------------------


class ModerationReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ReviewQueueArgsSchema(CursorArgsSchema):
    community_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    state = fields.String(
        load_default="hidden",
        validate=validate.OneOf(["hidden", "reported"]),
        metadata={"description": "hidden 已隐藏（举报达到阈值或工作人员隐藏）；reported 被举报但仍展示"},
    )


class StaffCommentSchema(Schema):
    id = fields.String()
    post_id = fields.String()
    text = fields.String()
    status = fields.String()
    hidden_reason = fields.String(allow_none=True)
    report_count = fields.Integer()
    author = fields.Nested(AuthorSchema)
    created_at = fields.DateTime()


StaffCommentPageSchema = cursor_page_schema(StaffCommentSchema)


class CommunityCursorArgsSchema(CursorArgsSchema):
    community_id = fields.String(required=True, validate=validate.Length(min=1, max=24))


class MuteCreateSchema(Schema):
    community_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=365))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class MuteSchema(Schema):
    id = fields.String()
    user_id = fields.String()
    until = fields.DateTime()
    reason = fields.String()
    created_at = fields.DateTime()
    lifted_at = fields.DateTime(allow_none=True)


MutePageSchema = cursor_page_schema(MuteSchema)


class ImageQueueArgsSchema(CursorArgsSchema):
    community_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    review = fields.Enum(
        ImageReview,
        by_value=True,
        load_default=None,
        metadata={"description": "staff 待人工审核（默认全部待审）；wechat 等待微信异步检测结果"},
    )


class StaffImageSchema(Schema):
    id = fields.String()
    post_id = fields.String()
    url = fields.String()
    review = fields.String()
    status = fields.String()
    note = fields.String(allow_none=True)
    created_at = fields.DateTime()


StaffImagePageSchema = cursor_page_schema(StaffImageSchema)


class ImageDecisionSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class WordCreateSchema(Schema):
    word = fields.String(required=True, validate=validate.Length(min=1, max=32))
    action = fields.Enum(
        WordAction, by_value=True, required=True, metadata={"description": "mask 打码；reject 拒绝发布"}
    )
    region_id = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=24),
        metadata={"description": "生效范围：社区、街道或区；省略为全平台（仅平台管理员）"},
    )


class WordSchema(Schema):
    id = fields.String()
    word = fields.String()
    action = fields.Enum(WordAction, by_value=True)
    region_id = fields.String(allow_none=True)
    created_at = fields.DateTime()


WordPageSchema = cursor_page_schema(WordSchema)


class WordArgsSchema(CursorArgsSchema):
    region_id = fields.String(load_default=None, validate=validate.Length(min=1, max=24))


class MessagePushArgsSchema(Schema):
    """WeChat's message-push query string (plain-text mode)."""

    class Meta:
        unknown = "exclude"

    signature = fields.String(load_default=None)
    timestamp = fields.String(load_default=None)
    nonce = fields.String(load_default=None)
    echostr = fields.String(load_default=None)
