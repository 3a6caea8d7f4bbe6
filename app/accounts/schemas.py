"""Schemas of residents, households memberships, delegations, consent and ``/me``."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.accounts.documents import DocumentType
from app.accounts.resident_models import (
    DELEGATION_SCOPES,
    ConsentKind,
    Gender,
    HukouStatus,
    MembershipRole,
    Relationship,
    VerificationStatus,
)
from app.api import CursorArgsSchema, Schema, cursor_page_schema
from app.community.schemas import AddressSchema

_DOC_TYPE = {
    "description": "resident_id_card 居民身份证 | hmt_residence_permit 港澳台居民居住证 | "
    "foreign_permanent_residence 外国人永久居留身份证 | passport 护照"
}
_REASON = validate.Length(min=2, max=200)


def _enum(enum_class, description: str, **kwargs):
    return fields.Enum(enum_class, by_value=True, metadata={"description": description}, **kwargs)


class _DocumentFields(Schema):
    document_type = _enum(DocumentType, _DOC_TYPE["description"], load_default=None)
    document_number = fields.String(
        load_default=None, validate=validate.Length(max=32), metadata={"description": "证件号码（只存密文，返回脱敏）"}
    )
    document_country = fields.String(
        load_default=None, allow_none=True, metadata={"description": "签发国家或地区（ISO 3166-1 三位字母），护照必填"}
    )

    @validates_schema
    def _type_with_number(self, data, **_kwargs):
        if data.get("document_number") and not data.get("document_type"):
            raise ValidationError("请选择证件类型", "document_type")


class ResidentDetailsSchema(_DocumentFields):
    """One's own details, given once (``PUT /me/resident``)."""

    real_name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    hukou_status = _enum(HukouStatus, "local 本地户籍 | non_local 非户籍", load_default=None, allow_none=True)
    birth_date = fields.Date(
        load_default=None, allow_none=True, metadata={"description": "证件号码不含出生日期时填写（护照）"}
    )
    gender = _enum(Gender, "male | female；证件号码不含性别时填写", load_default=None, allow_none=True)


class ResidentRegisterSchema(ResidentDetailsSchema):
    """Staff register a person in person."""

    community_id = fields.String(required=True, metadata={"description": "登记社区 id"})
    household_id = fields.String(load_default=None, metadata={"description": "同时入户的房屋 id"})
    role = _enum(MembershipRole, "head 户主 | family 家属 | tenant 租户", load_default=None)
    verified = fields.Boolean(load_default=False, metadata={"description": "已当面核验证件（仅工作人员）"})

    @validates_schema
    def _document_required(self, data, **_kwargs):
        if not data.get("document_number"):
            raise ValidationError("请填写证件号码", "document_number")


class ResidentUpdateSchema(_DocumentFields):
    real_name = fields.String(validate=validate.Length(min=1, max=64))
    hukou_status = _enum(HukouStatus, "local | non_local", allow_none=True)
    birth_date = fields.Date(allow_none=True)
    gender = _enum(Gender, "male | female", allow_none=True)
    reason = fields.String(required=True, validate=_REASON, metadata={"description": "修改原因（记入审计日志）"})


class VerificationRequestSchema(Schema):
    community_id = fields.String(load_default=None, metadata={"description": "尚未入户时选择所在社区"})


class VerificationDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class ReasonArgsSchema(Schema):
    reason = fields.String(required=True, validate=_REASON, metadata={"description": "事由（记入审计日志）"})


class LinkAccountSchema(Schema):
    user_id = fields.String(required=True, metadata={"description": "账号 id"})
    reason = fields.String(required=True, validate=_REASON)


class HealthNotesSchema(Schema):
    notes = fields.String(required=True, allow_none=True, validate=validate.Length(max=2000))


class TagSchema(Schema):
    id = fields.String(allow_none=True, metadata={"description": "标签 id；高龄为计算所得，没有 id"})
    code = fields.String(allow_none=True)
    name = fields.String()
    sensitive = fields.Boolean()
    computed = fields.Boolean(metadata={"description": "高龄（≥80 岁）按出生日期计算，不存储"})
    level = fields.String(allow_none=True, metadata={"description": "维护该标签的社区或区"})
    since = fields.DateTime(allow_none=True)


class StaffTagSchema(TagSchema):
    reason = fields.String(allow_none=True)


class TagDefinitionSchema(Schema):
    id = fields.String(attribute="public_id", dump_only=True)
    code = fields.String(dump_only=True, allow_none=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=32))
    sensitive = fields.Boolean(load_default=False)
    region_id = fields.String(required=True, load_only=True, metadata={"description": "自定义标签所属的社区或区"})
    custom = fields.Function(lambda tag: tag.region_id is not None, dump_only=True)


class TagListArgsSchema(Schema):
    region = fields.String(load_default=None, metadata={"description": "社区或区 id：同时列出适用的自定义标签"})


class ResidentTagAddSchema(Schema):
    tag_id = fields.String(required=True)
    reason = fields.String(required=True, validate=_REASON)
    level_id = fields.String(
        load_default=None, metadata={"description": "在哪个社区或区一级维护；默认标签所属或居民所在社区"}
    )


class HouseholdRefSchema(Schema):
    id = fields.String()
    membership_id = fields.String()
    role = _enum(MembershipRole, "head | family | tenant")
    is_head = fields.Boolean()
    since = fields.Date(allow_none=True)
    address = fields.Nested(AddressSchema)


class ProfileSchema(Schema):
    """A resident's profile, masked."""

    id = fields.String(attribute="public_id")
    real_name = fields.String()
    document_type = _enum(DocumentType, _DOC_TYPE["description"], allow_none=True)
    document_label = fields.String(allow_none=True)
    document_number = fields.String(attribute="document_masked", allow_none=True, metadata={"description": "脱敏号码"})
    gender = _enum(Gender, "male | female", allow_none=True)
    birth_date = fields.Date(allow_none=True)
    age = fields.Integer(allow_none=True)
    elderly = fields.Boolean(metadata={"description": "高龄（≥80 岁）"})
    phone = fields.String(
        attribute="phone_masked", allow_none=True, metadata={"description": "账号已验证的手机号（脱敏）"}
    )
    hukou_status = _enum(HukouStatus, "local 本地户籍 | non_local 非户籍", allow_none=True)
    verification_status = _enum(VerificationStatus, "unverified | pending | verified | rejected")
    verified_at = fields.DateTime(allow_none=True)
    has_account = fields.Boolean()
    sensitive_consent = fields.Boolean(metadata={"description": "已单独同意处理敏感个人信息"})


class SubjectProfileArgsSchema(Schema):
    scope = fields.String(
        load_default=None,
        validate=validate.OneOf(DELEGATION_SCOPES),
        metadata={"description": "the act the caller is about to do; without it any active delegation will do"},
    )


class StaffResidentSchema(ProfileSchema):
    households = fields.List(fields.Nested(HouseholdRefSchema))
    tags = fields.List(fields.Nested(StaffTagSchema))
    verification_note = fields.String(allow_none=True)


class ResidentListItemSchema(Schema):
    id = fields.String(attribute="public_id")
    real_name = fields.String()
    document_type = _enum(DocumentType, _DOC_TYPE["description"], allow_none=True)
    document_number = fields.String(attribute="document_masked", allow_none=True)
    gender = _enum(Gender, "male | female", allow_none=True)
    birth_date = fields.Date(allow_none=True)
    verification_status = _enum(VerificationStatus, "unverified | pending | verified | rejected")
    has_account = fields.Function(lambda r: r.user_id is not None)
    created_at = fields.DateTime()


ResidentPageSchema = cursor_page_schema(ResidentListItemSchema, "ResidentPageSchema")


class ResidentListArgsSchema(CursorArgsSchema):
    community_id = fields.String(load_default=None)
    tag = fields.String(load_default=None, metadata={"description": "标签 id"})
    elderly = fields.Boolean(load_default=False, metadata={"description": "只看高龄（≥80 岁）"})
    verification_status = _enum(VerificationStatus, "unverified | pending | verified | rejected", load_default=None)
    name = fields.String(
        load_default=None, validate=validate.Length(min=1, max=64), metadata={"description": "姓名前缀"}
    )
    document_type = _enum(DocumentType, _DOC_TYPE["description"], load_default=None)
    document_number = fields.String(load_default=None, metadata={"description": "按证件号码精确查找（经哈希，不解密）"})
    document_country = fields.String(load_default=None)


class RevealSchema(Schema):
    document_type = _enum(DocumentType, _DOC_TYPE["description"], allow_none=True)
    document_number = fields.String(allow_none=True)
    health_notes = fields.String(allow_none=True)


class MeAccountSchema(Schema):
    id = fields.String()
    display_name = fields.String()
    phone = fields.String(allow_none=True, metadata={"description": "脱敏手机号"})


class MeSchema(Schema):
    account = fields.Nested(MeAccountSchema)
    resident = fields.Nested(ProfileSchema, allow_none=True, metadata={"description": "尚未填写实名信息时为 null"})
    households = fields.List(fields.Nested(HouseholdRefSchema))
    tags = fields.List(fields.Nested(TagSchema), metadata={"description": "敏感标签仅在单独同意后显示"})
    ready_for = fields.List(fields.String(), metadata={"description": "资料已齐全、可直接预填的事项"})
    missing = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), metadata={"description": "各事项缺少的资料"}
    )


# --- memberships ---------------------------------------------------------------------------------------------------


class JoinRequestSchema(Schema):
    role = _enum(MembershipRole, "head 户主（由工作人员审核）| family 家属 | tenant 租户", required=True)
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class MemberAddSchema(Schema):
    resident_id = fields.String(required=True)
    role = _enum(MembershipRole, "head | family | tenant", required=True)
    starts_on = fields.Date(load_default=None)


class MembershipListArgsSchema(Schema):
    history = fields.Boolean(load_default=False, metadata={"description": "工作人员：包括已迁出、已拒绝的记录"})


class HouseholdLinkSchema(Schema):
    id = fields.String()
    address = fields.Nested(AddressSchema)


class MembershipSchema(Schema):
    id = fields.String()
    household = fields.Nested(HouseholdLinkSchema)
    role = fields.String(metadata={"description": "head | family | tenant"})
    status = fields.String(metadata={"description": "pending | active | rejected | cancelled | ended"})
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class DecisionSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))
    starts_on = fields.Date(load_default=None, metadata={"description": "入户日期，默认今天"})


class EndMembershipSchema(Schema):
    ends_on = fields.Date(load_default=None, metadata={"description": "迁出日期，默认今天"})
    note = fields.String(load_default=None, validate=validate.Length(max=200))


# --- delegations ---------------------------------------------------------------------------------------------------


class SubjectDocumentSchema(Schema):
    real_name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    document_type = _enum(DocumentType, _DOC_TYPE["description"], required=True)
    document_number = fields.String(required=True, validate=validate.Length(max=32))
    document_country = fields.String(load_default=None)


class DelegationRequestSchema(Schema):
    subject_id = fields.String(load_default=None, metadata={"description": "同户成员的居民 id"})
    subject = fields.Nested(
        SubjectDocumentSchema, load_default=None, metadata={"description": "或：姓名与证件（须同时相符）"}
    )
    relationship = _enum(
        Relationship, "child 子女 | spouse 配偶 | relative 亲属 | guardian 监护人 | neighbour 邻居", required=True
    )
    scopes = fields.List(
        fields.String(validate=validate.OneOf(DELEGATION_SCOPES)),
        required=True,
        validate=validate.Length(min=1),
        metadata={
            "description": "appointments | applications | eldercare | marketplace | bills | notices | activities"
        },
    )
    expires_at = fields.DateTime(load_default=None)

    @validates_schema
    def _one_subject(self, data, **_kwargs):
        if bool(data.get("subject_id")) == bool(data.get("subject")):
            raise ValidationError("请用 subject_id 或 subject 之一指定被代办人", "subject_id")


class PartySchema(Schema):
    id = fields.String()
    name = fields.String(metadata={"description": "脱敏姓名"})
    has_account = fields.Boolean()


class DelegationSchema(Schema):
    id = fields.String()
    actor = fields.Nested(PartySchema, metadata={"description": "代办人"})
    subject = fields.Nested(PartySchema, metadata={"description": "被代办人"})
    relationship = fields.String()
    scopes = fields.List(fields.String())
    status = fields.String(metadata={"description": "pending | active | expired | rejected | revoked"})
    expires_at = fields.DateTime(allow_none=True)
    approved_via = fields.String(allow_none=True, metadata={"description": "subject 本人确认 | staff 工作人员当面核实"})
    decided_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    my_role = fields.String(metadata={"description": "actor | subject | staff"})


class DelegationNoteSchema(Schema):
    note = fields.String(
        load_default=None, validate=validate.Length(max=200), metadata={"description": "工作人员审核时必填"}
    )


# --- consent -------------------------------------------------------------------------------------------------------


class ConsentSchema(Schema):
    kind = _enum(ConsentKind, "privacy_policy 隐私政策 | sensitive_data 敏感个人信息单独同意", required=True)
    policy_version = fields.String(required=True, validate=validate.Length(min=1, max=32))
    accepted_at = fields.DateTime(dump_only=True)
    withdrawn_at = fields.DateTime(dump_only=True, allow_none=True)
    recorded_in_person = fields.Function(lambda c: c.recorded_by_user_id is not None, dump_only=True)


class ConsentKindSchema(Schema):
    kind = _enum(ConsentKind, "privacy_policy | sensitive_data", required=True)


class EraseArgsSchema(Schema):
    confirm = fields.Boolean(required=True, validate=validate.Equal(True), metadata={"description": "须为 true"})


class RetainedSchema(Schema):
    name = fields.String()
    keeps = fields.String()
    basis = fields.String()


class EraseResultSchema(Schema):
    erased_at = fields.DateTime()
    kept = fields.List(fields.Nested(RetainedSchema))
