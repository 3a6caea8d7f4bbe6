"""Request and response schemas of departments and online applications (办件)."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, LocalDateTime, Schema, cursor_page_schema
from govservice.application_models import ApplicationStatus, MaterialSource, Outcome, RoutingMode, TaskStatus, Via
from govservice.applications_worklists import CENTRE_QUEUES, DEPARTMENT_QUEUES
from govservice.departments import DEPARTMENT_ROLES
from govservice.models import MaterialForm
from govservice.schemas import PUBLIC_ID, _date_range, name_field, text_field

# --- departments ---------------------------------------------------------------------------------------------------


class DepartmentUpdateSchema(Schema):
    name = name_field(64, metadata={"description": "部门名称"})
    code = fields.String(
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="编码只能含字母、数字、- 和 _（最多 32 位）"),
        metadata={"description": "部门编码（辖区内唯一）"},
    )
    phone = text_field(32, metadata={"description": "联系电话"})
    is_active = fields.Boolean(metadata={"description": "停用后不再接收新的办件或工单"})


class DepartmentCreateSchema(DepartmentUpdateSchema):
    region_id = fields.String(required=True, validate=PUBLIC_ID, metadata={"description": "所属区、街道或社区"})
    name = name_field(64, required=True, metadata={"description": "部门名称"})
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="编码只能含字母、数字、- 和 _（最多 32 位）"),
        metadata={"description": "部门编码（辖区内唯一）"},
    )


class DepartmentSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    code = fields.String()
    phone = fields.String()
    is_active = fields.Boolean()
    region = fields.Function(lambda d: {"id": d.region.public_id, "name": d.region.name, "kind": d.region.kind.value})
    created_at = LocalDateTime()


class DepartmentListArgsSchema(Schema):
    region = fields.String(load_default=None, validate=PUBLIC_ID, metadata={"description": "只看该辖区的部门"})


class DepartmentMemberCreateSchema(Schema):
    user_id = fields.String(required=True, validate=PUBLIC_ID)
    role = fields.String(
        required=True,
        validate=validate.OneOf(DEPARTMENT_ROLES),
        metadata={"description": "handler 经办人 | head 部门负责人"},
    )


class DepartmentMemberSchema(Schema):
    user_id = fields.String()
    display_name = fields.String()
    role = fields.String()


class DepartmentMemberDeleteArgsSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(DEPARTMENT_ROLES))


# --- applications: input -------------------------------------------------------------------------------------------


class ApplicationMaterialUploadSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"description": "材料编码"})
    file_ids = fields.List(
        fields.String(validate=PUBLIC_ID),
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "先经 POST /api/v1/files 上传（私有），此处填文件 id"},
    )


class ApplicationFormArgsSchema(Schema):
    for_resident_id = fields.String(
        load_default=None, validate=PUBLIC_ID, metadata={"description": "为家人申办（须有含 applications 的代办授权）"}
    )


class ApplicationCreateSchema(Schema):
    item_id = fields.String(required=True, validate=PUBLIC_ID)
    for_resident_id = fields.String(
        load_default=None, validate=PUBLIC_ID, metadata={"description": "为家人申办（须有含 applications 的代办授权）"}
    )
    form = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=40)),
        values=fields.String(validate=validate.Length(max=500), allow_none=True),
        load_default=dict,
        validate=validate.Length(max=30),
        metadata={"description": "表单项（预填自个人资料，可修改联系电话、地址、备注等）"},
    )
    materials = fields.List(
        fields.Nested(ApplicationMaterialUploadSchema), load_default=list, validate=validate.Length(max=30)
    )


class ApplicationCorrectionSupplySchema(Schema):
    materials = fields.List(
        fields.Nested(ApplicationMaterialUploadSchema), required=True, validate=validate.Length(min=1, max=30)
    )
    note = text_field(500, load_default=None)


class ApplicationWithdrawSchema(Schema):
    reason = text_field(200, load_default=None)


class ApplicationNoteSchema(Schema):
    note = text_field(500, load_default=None)


class ApplicationReasonSchema(Schema):
    reason = name_field(500, required=True)


class ApplicationCorrectionRequestSchema(Schema):
    reason = name_field(500, required=True)
    materials = fields.List(
        fields.String(validate=validate.Length(min=1, max=32)),
        required=True,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "须补正的材料编码"},
    )


class ApplicationDecisionSchema(Schema):
    outcome = fields.Enum(
        Outcome, by_value=True, required=True, metadata={"description": "approved 准予 | denied 不予批准"}
    )
    result = name_field(1000, required=True, metadata={"description": "办理结果（告知申请人）"})


class ApplicationRatingCreateSchema(Schema):
    score = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=5),
        metadata={"description": "1 非常不满意 … 5 非常满意"},
    )
    comment = text_field(500, load_default="")


class ItemRoutingUpdateSchema(Schema):
    mode = fields.Enum(
        RoutingMode, by_value=True, required=True, metadata={"description": "parallel 并联 | serial 串联"}
    )
    department_ids = fields.List(
        fields.String(validate=PUBLIC_ID),
        required=True,
        validate=validate.Length(max=20),
        metadata={"description": "按办理顺序；空列表：不经部门"},
    )


class MyApplicationsArgsSchema(CursorArgsSchema):
    status = fields.Enum(ApplicationStatus, by_value=True, load_default=None)


class CentreWorklistArgsSchema(Schema):
    queue = fields.String(load_default="pending_review", validate=validate.OneOf(CENTRE_QUEUES))
    item_id = fields.String(load_default=None, validate=PUBLIC_ID)


class DepartmentWorklistArgsSchema(Schema):
    queue = fields.String(load_default="active", validate=validate.OneOf(DEPARTMENT_QUEUES))


class ApplicationStatisticsArgsSchema(Schema):
    start = fields.Date(load_default=None, validate=_date_range, metadata={"description": "默认：结束日前 29 天"})
    end = fields.Date(load_default=None, validate=_date_range, metadata={"description": "默认：今天"})


class ApplicationStaffStatisticsArgsSchema(ApplicationStatisticsArgsSchema):
    item_id = fields.String(load_default=None, validate=PUBLIC_ID)


# --- applications: output ------------------------------------------------------------------------------------------


class ApplicationPlannedMaterialSchema(Schema):
    code = fields.String()
    name = fields.String()
    form = fields.Enum(MaterialForm, by_value=True)
    copies = fields.Integer()
    required = fields.Boolean()
    note = fields.String()
    supplied_by = fields.String(metadata={"description": "profile 个人资料 | reused 沿用已受理材料 | upload 须上传"})
    supplied_note = fields.String(allow_none=True)


class ApplicationApplicantSchema(Schema):
    resident_id = fields.String()
    name = fields.String()
    document_type = fields.String(allow_none=True)
    document = fields.String(allow_none=True)
    gender = fields.String(allow_none=True)
    birth_date = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    verified = fields.Boolean()


class ApplicationItemSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()


class ApplicationFormSchema(Schema):
    item = fields.Nested(ApplicationItemSchema)
    centre = fields.Dict()
    promised_days = fields.Integer()
    via = fields.Enum(Via, by_value=True)
    applicant = fields.Nested(ApplicationApplicantSchema)
    materials = fields.List(fields.Nested(ApplicationPlannedMaterialSchema))


class ApplicationTermSchema(Schema):
    promised_days = fields.Integer()
    accepted_on = fields.Date()
    paused = fields.Boolean()
    paused_since = fields.Date(allow_none=True)
    paused_workdays = fields.Integer()
    due_on = fields.Date(allow_none=True, metadata={"description": "承诺期限最后一个工作日；暂停计时期间为空"})
    due_at = LocalDateTime(allow_none=True, metadata={"description": "期限届满时刻（该日 24:00）"})
    elapsed_workdays = fields.Integer()
    remaining_workdays = fields.Integer(allow_none=True)
    overdue = fields.Boolean()
    overdue_workdays = fields.Integer(allow_none=True)
    overdue_days = fields.Integer(allow_none=True)
    on_time = fields.Boolean(allow_none=True)


class ApplicationTaskSchema(Schema):
    department = fields.Dict()
    position = fields.Integer()
    status = fields.Enum(TaskStatus, by_value=True)
    result = fields.String(allow_none=True)
    activated_at = LocalDateTime(allow_none=True)
    decided_at = LocalDateTime(allow_none=True)


class ApplicationRatingSchema(Schema):
    score = fields.Integer()
    comment = fields.String()
    created_at = LocalDateTime()


class ApplicationMaterialSchema(Schema):
    code = fields.String()
    name = fields.String()
    source = fields.Enum(MaterialSource, by_value=True)
    file_id = fields.String(allow_none=True, metadata={"description": "GET /api/v1/files/{id} 取签名链接"})
    content_type = fields.String(allow_none=True)
    profile_fact = fields.String(allow_none=True)
    round = fields.Integer(metadata={"description": "0 = 申请时；n = 第 n 次补正"})


class ApplicationEventSchema(Schema):
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    actor = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    details = fields.Dict()
    at = LocalDateTime()


class ApplicationSchema(Schema):
    id = fields.String()
    status = fields.Enum(ApplicationStatus, by_value=True)
    status_label = fields.String()
    via = fields.Enum(Via, by_value=True)
    item = fields.Nested(ApplicationItemSchema)
    centre = fields.Dict()
    resident = fields.Dict()
    reason = fields.String(allow_none=True)
    correction_materials = fields.List(fields.Dict())
    routing_mode = fields.Enum(RoutingMode, by_value=True, allow_none=True)
    departments = fields.List(fields.Nested(ApplicationTaskSchema))
    outcome = fields.Enum(Outcome, by_value=True, allow_none=True)
    result = fields.String(allow_none=True)
    term = fields.Nested(ApplicationTermSchema, allow_none=True)
    rating = fields.Nested(ApplicationRatingSchema, allow_none=True)
    submitted_at = LocalDateTime()
    accepted_at = LocalDateTime(allow_none=True)
    completed_at = LocalDateTime(allow_none=True)
    ended_at = LocalDateTime(allow_none=True)


class ApplicationDetailSchema(ApplicationSchema):
    form = fields.Dict()
    materials = fields.List(fields.Nested(ApplicationMaterialSchema))
    history = fields.List(fields.Nested(ApplicationEventSchema))


ApplicationPageSchema = cursor_page_schema(ApplicationSchema, "ApplicationPageSchema")


class ItemRoutingSchema(Schema):
    item_id = fields.String()
    mode = fields.Enum(RoutingMode, by_value=True, allow_none=True)
    departments = fields.List(fields.Nested(DepartmentSchema), metadata={"description": "按办理顺序"})
    available_departments = fields.List(
        fields.Nested(DepartmentSchema),
        metadata={"description": "可选部门：本中心所在辖区及上级辖区的启用部门（仅 GET）"},
    )


class StatisticsRateSchema(Schema):
    label = fields.String()
    numerator = fields.Integer()
    denominator = fields.Integer()
    numerator_label = fields.String()
    denominator_label = fields.String()
    value = fields.Float(allow_none=True, metadata={"description": "numerator / denominator；分母为 0 时为空"})


class StatisticsFiguresSchema(Schema):
    received = fields.Integer()
    withdrawn = fields.Integer()
    returned = fields.Integer()
    not_accepted = fields.Integer()
    awaiting = fields.Integer()
    accepted = fields.Integer()
    in_progress = fields.Integer()
    overdue_in_progress = fields.Integer()
    completed = fields.Integer()
    approved = fields.Integer()
    denied = fields.Integer()
    on_time = fields.Integer()
    rated = fields.Integer()
    satisfied = fields.Integer()
    average_score = fields.Float(allow_none=True)
    rates = fields.Dict(keys=fields.String(), values=fields.Nested(StatisticsRateSchema))


class StatisticsItemFiguresSchema(StatisticsFiguresSchema):
    item = fields.Nested(ApplicationItemSchema)


class StatisticsPeriodSchema(Schema):
    start = fields.Date()
    end = fields.Date()


class ApplicationStatisticsSchema(Schema):
    centre = fields.Dict()
    period = fields.Nested(StatisticsPeriodSchema)
    as_of = fields.Date()
    basis = fields.String()
    totals = fields.Nested(StatisticsFiguresSchema)
    items = fields.List(fields.Nested(StatisticsItemFiguresSchema))
