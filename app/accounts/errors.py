"""Errors of residents, households, delegations and consent."""

from __future__ import annotations

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ResidentNotFound(NotFound):
    code, message = "resident_not_found", "居民不存在"


class MembershipNotFound(NotFound):
    code, message = "membership_not_found", "入户记录不存在"


class DelegationNotFound(NotFound):
    code, message = "delegation_not_found", "代办授权不存在"


class TagNotFound(NotFound):
    code, message = "tag_not_found", "标签不存在"


class DocumentInvalid(ValidationFailed):
    code, message = "document_invalid", "证件号码无效"


class DocumentAlreadyRegistered(Conflict):
    code, message = "document_already_registered", "该证件已登记，请联系社区工作人员核验后绑定"


class ResidentProfileRequired(Conflict):
    code, message = "resident_profile_required", "请先填写实名信息"


class ResidentProfileExists(Conflict):
    code, message = "resident_profile_exists", "已填写过实名信息"


class ResidentVerifiedLocked(Conflict):
    code, message = "resident_verified", "实名信息已核验，如需修改请联系社区工作人员"


class VerificationNotPending(Conflict):
    code, message = "verification_not_pending", "该居民没有待核验的申请"


class CommunityRequired(Conflict):
    code, message = "community_required", "请先加入房屋或选择所在社区"


class AlreadyMember(Conflict):
    code, message = "already_member", "已是该房屋成员或已有待审核的申请"


class HouseholdHasHead(Conflict):
    code, message = "household_has_head", "该房屋已有户主"


class MembershipNotPending(Conflict):
    code, message = "membership_not_pending", "该申请已处理"


class MembershipNotActive(Conflict):
    code, message = "membership_not_active", "该成员已迁出或尚未入户"


class DelegationExists(Conflict):
    code, message = "delegation_exists", "已有待确认或生效中的代办授权"


class DelegationNotPending(Conflict):
    code, message = "delegation_not_pending", "该授权已处理"


class DelegationNotOpen(Conflict):
    code, message = "delegation_not_open", "该授权已撤销或已拒绝"


class DelegationDenied(Forbidden):
    """The delegation exists but does not allow this: wrong scope, pending, expired, revoked or rejected."""

    code, message = "delegation_denied", "代办授权不允许此操作"


class StaffReasonRequired(ValidationFailed):
    code, message = "staff_reason_required", "工作人员代办须填写事由"


class SensitiveConsentRequired(Conflict):
    code, message = "sensitive_consent_required", "记录敏感信息前须取得本人对敏感个人信息的单独同意"


class TagAlreadySet(Conflict):
    code, message = "tag_already_set", "该居民已有此标签"


class TagNotSet(NotFound):
    code, message = "tag_not_set", "该居民没有此标签"


class ProfileIncomplete(ValidationFailed):
    code, message = "profile_incomplete", "个人信息不完整"


class ResidentErased(Conflict):
    code, message = "resident_erased", "该账号已注销"
