"""Survey schemas: questionnaires in and out, answers, results."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import Schema, cursor_page_schema
from notices.schemas import AudienceOutSchema, AudienceSchema, RegionRefSchema
from notices.survey_models import QuestionKind

_KIND_HELP = "single 单选、multiple 多选、rating 评分（1–5）、text 简答"


class QuestionCreateSchema(Schema):
    kind = fields.Enum(QuestionKind, by_value=True, required=True, metadata={"description": _KIND_HELP})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    required = fields.Boolean(load_default=True)
    options = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        validate=validate.Length(max=20),
        metadata={"description": "选择题的选项（2–20 个）；作答时用序号（从 0 开始）"},
    )


class SurveyCreateSchema(Schema):
    region_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    title = fields.String(required=True, validate=validate.Length(min=1, max=100))
    description = fields.String(
        load_default="", validate=validate.Length(max=5000), metadata={"description": "Markdown"}
    )
    anonymous = fields.Boolean(
        load_default=False, metadata={"description": "匿名调查：谁参与了与答了什么分开保存，无法关联"}
    )
    audience = fields.Nested(AudienceSchema, load_default=dict, metadata={"description": "同通知的对象条件"})
    opens_at = fields.AwareDateTime(load_default=None, metadata={"description": "开始时间（省略为立即）"})
    closes_at = fields.AwareDateTime(required=True, metadata={"description": "截止时间"})
    questions = fields.List(fields.Nested(QuestionCreateSchema), required=True, validate=validate.Length(min=1, max=50))


class QuestionSchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": _KIND_HELP})
    title = fields.String()
    required = fields.Boolean()
    options = fields.List(fields.String())


class SurveySchema(Schema):
    id = fields.String()
    region = fields.Nested(RegionRefSchema)
    title = fields.String()
    description = fields.String()
    description_html = fields.String()
    anonymous = fields.Boolean()
    status = fields.String(metadata={"description": "draft | scheduled | published | withdrawn"})
    open = fields.Boolean(metadata={"description": "当前可以作答"})
    questions = fields.List(fields.Nested(QuestionSchema))
    opens_at = fields.DateTime()
    closes_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    audience = fields.Nested(AudienceOutSchema, metadata={"description": "仅工作人员可见"})
    audience_count = fields.Integer(allow_none=True, metadata={"description": "仅工作人员可见：发布时对象人数"})
    answered = fields.Boolean(metadata={"description": "居民：本人是否已作答"})


SurveyPageSchema = cursor_page_schema(SurveySchema, "SurveyPageSchema")


class SurveyAnswerSchema(Schema):
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(max=8)),
        values=fields.Raw(allow_none=True),
        required=True,
        validate=validate.Length(max=50),
        metadata={"description": "问题 id → 选项序号（单选）、序号列表（多选）、1–5（评分）或文字（简答）"},
    )
    subject_id = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=24),
        metadata={"description": "代办：为授权了 activities 的居民作答（居民 id）"},
    )


class SurveyAnsweredSchema(Schema):
    survey_id = fields.String()
    answered = fields.Boolean()
    anonymous = fields.Boolean()


class OptionResultSchema(Schema):
    option = fields.String()
    count = fields.Integer()
    percent = fields.Float(metadata={"description": "占作答该题人数的百分比"})


class QuestionResultSchema(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.String()
    required = fields.Boolean()
    answered = fields.Integer(metadata={"description": "作答该题的人数"})
    options = fields.List(fields.Nested(OptionResultSchema))
    average = fields.Float(allow_none=True, metadata={"description": "评分题的平均分"})


class SurveyResultsSchema(Schema):
    survey_id = fields.String()
    anonymous = fields.Boolean()
    audience = fields.Integer(metadata={"description": "发布时对象人数"})
    responses = fields.Integer()
    response_rate = fields.Float(metadata={"description": "回收率（%）"})
    questions = fields.List(fields.Nested(QuestionResultSchema))
