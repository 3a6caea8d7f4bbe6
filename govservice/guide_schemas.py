"""Request and response schemas of service guides (办事指南)."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from govservice.models import ItemKind, MaterialForm, VersionStatus
from govservice.schemas import PUBLIC_ID, Brief, WindowBriefSchema, name_field, text_field


class CategoryCreateSchema(Schema):
    name = name_field(32, required=True)
    position = fields.Integer(load_default=0, validate=validate.Range(min=0, max=999))


class CategoryUpdateSchema(Schema):
    name = name_field(32)
    position = fields.Integer(validate=validate.Range(min=0, max=999))


class CategorySchema(Schema):
    id = fields.String()
    name = fields.String()
    position = fields.Integer()
    item_count = fields.Integer(metadata={"description": "已发布事项数"})


class MaterialSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$"),
        metadata={"description": "材料编码，如 id_card、hukou_book（复用材料时按编码匹配）"},
    )
    name = name_field(100, required=True)
    form = fields.Enum(MaterialForm, by_value=True, load_default=MaterialForm.original)
    copies = fields.Integer(load_default=1, validate=validate.Range(min=1, max=20), metadata={"description": "份数"})
    required = fields.Boolean(load_default=True)
    profile_fact = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={"description": "可由个人信息提供，如 document（证件）、household（房屋）"},
    )
    reusable = fields.Boolean(load_default=False, metadata={"description": "可复用以前已受理的同编码材料"})
    note = text_field(200, load_default="")


class FaqSchema(Schema):
    question = name_field(200, required=True)
    answer = name_field(2000, required=True)


class GuideContentSchema(Schema):
    """The national guide elements (国办函〔2016〕108号); every field optional when editing a draft."""

    category_id = fields.String(validate=PUBLIC_ID)
    name = name_field(100, metadata={"description": "事项名称"})
    department = text_field(100, metadata={"description": "办理部门"})
    legal_basis = text_field(5000, metadata={"description": "设定依据"})
    conditions = text_field(5000, metadata={"description": "受理条件"})
    process = text_field(5000, metadata={"description": "办理流程"})
    fee_fen = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=10**9), metadata={"description": "收费（分），0 = 不收费"}
    )
    fee_standard = text_field(2000, metadata={"description": "收费标准"})
    fee_basis = text_field(2000, metadata={"description": "收费依据"})
    statutory_days = fields.Integer(
        allow_none=True, validate=validate.Range(min=0, max=365), metadata={"description": "法定期限（工作日）"}
    )
    promised_days = fields.Integer(
        validate=validate.Range(min=0, max=365), metadata={"description": "承诺期限（工作日）"}
    )
    kind = fields.Enum(ItemKind, by_value=True, metadata={"description": "immediate 即办件 / promised 承诺件"})
    place = text_field(200, metadata={"description": "办理地点"})
    hours = text_field(200, metadata={"description": "办理时间"})
    phone = text_field(32, metadata={"description": "咨询电话"})
    supervision_phone = text_field(32, metadata={"description": "监督电话"})
    visits = fields.Integer(
        validate=validate.Range(min=0, max=10), metadata={"description": "到现场次数，0 = 全程网办"}
    )
    online = fields.Boolean(metadata={"description": "可网上办理"})
    bookable = fields.Boolean(metadata={"description": "可预约"})
    faq = fields.List(fields.Nested(FaqSchema), validate=validate.Length(max=50), metadata={"description": "常见问题"})
    keywords = text_field(200, metadata={"description": "别名、关键词（逗号分隔），参与搜索"})
    materials = fields.List(
        fields.Nested(MaterialSchema),
        validate=validate.Length(max=50),
        metadata={"description": "申请材料（整体替换）"},
    )


class GuideCreateSchema(GuideContentSchema):
    code = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=40), validate.Regexp(r"^[0-9A-Za-z._-]+$")],
        metadata={"description": "事项编码"},
    )
    category_id = fields.String(required=True, validate=PUBLIC_ID)
    name = name_field(100, required=True)


class GuideBriefSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    category = fields.Nested(Brief)
    department = fields.String()
    kind = fields.Enum(ItemKind, by_value=True)
    promised_days = fields.Integer()
    visits = fields.Integer()
    online = fields.Boolean()
    bookable = fields.Boolean()


class MaterialOutSchema(MaterialSchema):
    pass


class GuideVersionSchema(GuideBriefSchema):
    centre = fields.Nested(Brief)
    version = fields.Integer()
    status = fields.Enum(VersionStatus, by_value=True)
    legal_basis = fields.String()
    conditions = fields.String()
    process = fields.String()
    fee_fen = fields.Integer()
    fee_standard = fields.String()
    fee_basis = fields.String()
    statutory_days = fields.Integer(allow_none=True)
    place = fields.String()
    hours = fields.String()
    phone = fields.String()
    supervision_phone = fields.String()
    faq = fields.List(fields.Nested(FaqSchema))
    keywords = fields.String()
    materials = fields.List(fields.Nested(MaterialOutSchema))
    published_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()


class GuideSchema(GuideVersionSchema):
    windows = fields.List(fields.Nested(WindowBriefSchema))


class GuideListArgsSchema(CursorArgsSchema):
    centre = fields.String(load_default=None, validate=PUBLIC_ID)
    category = fields.String(load_default=None, validate=PUBLIC_ID)
    q = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "中文、全拼或首字母，如 社保卡、shebao、sbk"},
    )
    online = fields.Boolean(load_default=None)
    bookable = fields.Boolean(load_default=None)


GuidePageSchema = cursor_page_schema(GuideBriefSchema, "GuidePageSchema")


class StaffGuideSchema(Schema):
    id = fields.String()
    code = fields.String()
    draft = fields.Nested(GuideVersionSchema, allow_none=True)
    published = fields.Nested(GuideVersionSchema, allow_none=True)
    windows = fields.List(fields.Nested(WindowBriefSchema))


class StaffGuideRowSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    has_draft = fields.Boolean()
    published_version = fields.Integer(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()


class StaffGuideListArgsSchema(Schema):
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=50))
    status = fields.String(load_default=None, validate=validate.OneOf(("draft", "published", "unpublished")))
