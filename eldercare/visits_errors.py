"""Errors of the visit lifecycle, cancellations and subsidy claims: stable English codes, Chinese messages."""

from app.errors import APIError, Conflict, NotFound


class CaregiverNotFound(NotFound):
    code, message = "caregiver_not_found", "该账号不是本机构的护理员"


class CaregiverSkillMismatch(APIError):
    status, code, message = 422, "caregiver_skill_mismatch", "该护理员不具备此类服务的技能"


class VisitAlreadyStarted(Conflict):
    code, message = "visit_already_started", "护理员已签到，不能再改派或取消"


class NoShowTooEarly(Conflict):
    code, message = "no_show_too_early", "服务开始时间未到，不能标记护理员未上门"


class NoAnswerAlreadyReported(Conflict):
    code, message = "no_answer_already_reported", "已上报敲门无人应答"


class ClaimMonthInvalid(APIError):
    status, code, message = 422, "claim_month_invalid", "月份格式应为 YYYY-MM"
