"""Request and response schemas of complaints and suggestions (诉求) and of Open311 client management."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api import CursorArgsSchema, LocalDateTime, Schema, cursor_page_schema
from app.files.schemas import FileSchema
from govservice.complaint_models import ComplaintKind, ComplaintStatus
from govservice.schemas import PUBLIC_ID, name_field, text_field

CODE = validate.Regexp(r"^[a-z0-9_-]{2,32}$", error="编码为 2–32 位小写字母、数字、下划线或连字符")


class ComplaintCategoryCreateSchema(Schema):
    code = fields.String(required=True, validate=CODE, metadata={"description": "Open311 service_code"})
    name = name_field(64, required=True)
    description = text_field(500)
    group = text_field(32, metadata={"description": "分组，如 市容环境"})
    keywords = text_field(200)
    time_limit_days = fields.Integer(
        load_default=5, validate=validate.Range(min=1, max=60), metadata={"description": "办理时限（工作日）"}
    )


class ComplaintCategoryUpdateSchema(Schema):
    name = name_field(64)
    description = text_field(500)
    group = text_field(32)
    keywords = text_field(200)
    time_limit_days = fields.Integer(validate=validate.Range(min=1, max=60))
    active = fields.Boolean()


class ComplaintCategorySchema(Schema):
    id = fields.String(attribute="public_id")
    code = fields.String()
    name = fields.String()
    description = fields.String()
    group = fields.String()
    keywords = fields.String()
    time_limit_days = fields.Integer()
    active = fields.Boolean()


class ComplaintCategoryListArgsSchema(Schema):
    community_id = fields.String(required=True, validate=PUBLIC_ID)


class ComplaintCreateSchema(Schema):
    community_id = fields.String(required=True, validate=PUBLIC_ID, metadata={"description": "所在社区"})
    category = fields.String(
        required=True, validate=validate.Length(min=1, max=32), metadata={"description": "分类编码"}
    )
    kind = fields.Enum(ComplaintKind, by_value=True, load_default=ComplaintKind.complaint)
    description = fields.String(required=True, validate=[validate.Length(min=5, max=2000), validate.Regexp(r".*\S")])
    location = text_field(200, metadata={"description": "位置描述，如 3号楼东侧（不公开）"})
    latitude = fields.Float(validate=validate.Range(-90, 90))
    longitude = fields.Float(validate=validate.Range(-180, 180))
    photo_ids = fields.List(fields.String(validate=PUBLIC_ID), validate=validate.Length(max=6), load_default=list)

    @validates_schema
    def _coordinates(self, data, **_kwargs) -> None:
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError("经纬度须同时提供", field_name="latitude")


class ComplaintNamedSchema(Schema):
    id = fields.String()
    name = fields.String()


class ComplaintCodeNameSchema(Schema):
    code = fields.String()
    name = fields.String()


class ComplaintContactSchema(Schema):
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "脱敏"})


class ComplaintHistorySchema(Schema):
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    actor = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    at = LocalDateTime()


class ComplaintSchema(Schema):
    id = fields.String()
    kind = fields.String()
    source = fields.String()
    category = fields.Nested(ComplaintCodeNameSchema)
    community = fields.Nested(ComplaintNamedSchema)
    description = fields.String()
    location = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    status = fields.Enum(ComplaintStatus, by_value=True)
    status_label = fields.String()
    reject_reason = fields.String(allow_none=True)
    department = fields.Nested(ComplaintNamedSchema, allow_none=True)
    grid_worker = fields.Nested(ComplaintNamedSchema, allow_none=True)
    reply = fields.String(allow_none=True)
    replied_at = LocalDateTime(allow_none=True)
    due_on = fields.Date(allow_none=True, metadata={"description": "办理时限的最后一个工作日"})
    remaining_workdays = fields.Integer(allow_none=True, metadata={"description": "剩余工作日；负数为已超期天数"})
    escalated = fields.Boolean(metadata={"description": "已超期上报街道督办"})
    reopen_count = fields.Integer()
    rating = fields.Integer(allow_none=True)
    rating_comment = fields.String(allow_none=True)
    created_at = LocalDateTime()
    closed_at = LocalDateTime(allow_none=True)


class ComplaintDetailSchema(ComplaintSchema):
    history = fields.List(fields.Nested(ComplaintHistorySchema))
    photos = fields.List(fields.Nested(FileSchema))
    contact = fields.Nested(ComplaintContactSchema, metadata={"description": "仅工作人员可见"})


ComplaintPageSchema = cursor_page_schema(ComplaintSchema, "ComplaintPageSchema")


class MyComplaintArgsSchema(CursorArgsSchema):
    pass


class ComplaintWorklistArgsSchema(Schema):
    status = fields.Enum(ComplaintStatus, by_value=True)
    community_id = fields.String(validate=PUBLIC_ID)
    category = fields.String(validate=validate.Length(max=32))
    department_id = fields.String(validate=PUBLIC_ID)
    overdue = fields.Boolean(metadata={"description": "true：已超期未答复"})
    escalated = fields.Boolean()


class ComplaintNoteSchema(Schema):
    note = text_field(500)


class ComplaintRejectSchema(Schema):
    reason = name_field(200, required=True)


class ComplaintDispatchSchema(Schema):
    department_id = fields.String(validate=PUBLIC_ID, metadata={"description": "转办部门（与 grid_worker_id 二选一）"})
    grid_worker_id = fields.String(validate=PUBLIC_ID, metadata={"description": "转办网格员"})
    note = text_field(500)


class ComplaintReplySchema(Schema):
    text = fields.String(required=True, validate=[validate.Length(min=2, max=2000), validate.Regexp(r".*\S")])


class ComplaintConfirmSchema(Schema):
    rating = fields.Integer(validate=validate.Range(min=1, max=5), metadata={"description": "满意度 1–5"})
    comment = text_field(500)


class ComplaintReopenSchema(Schema):
    reason = name_field(500, required=True)


class Open311ClientCreateSchema(Schema):
    region_id = fields.String(required=True, validate=PUBLIC_ID)
    name = name_field(64, required=True)


class Open311ClientSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    created_at = LocalDateTime()
    revoked_at = LocalDateTime(allow_none=True)


class Open311ClientCreatedSchema(Open311ClientSchema):
    api_key = fields.String(metadata={"description": "仅此一次显示，请妥善保存"})
