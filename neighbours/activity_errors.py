"""Activity errors (codes stable, messages in Chinese)."""

from app.errors import Conflict, NotFound, ValidationFailed


class ActivityNotFound(NotFound):
    code, message = "activity_not_found", "活动不存在"


class SignupNotFound(NotFound):
    code, message = "activity_signup_not_found", "报名记录不存在"


class ActivityInvalid(ValidationFailed):
    code, message = "activity_invalid", "活动时间或名额不正确"


class ActivityNotEditable(Conflict):
    code, message = "activity_not_editable", "活动当前状态不允许此操作"


class ActivityNotOpen(Conflict):
    code, message = "activity_not_open", "活动未开放报名"


class SignupClosed(Conflict):
    code, message = "activity_signup_closed", "报名已截止"


class AlreadySignedUp(Conflict):
    code, message = "activity_already_signed_up", "已报名该活动"


class NotSignedUp(Conflict):
    code, message = "activity_not_signed_up", "未报名该活动"


class NotConfirmed(Conflict):
    code, message = "activity_signup_not_confirmed", "仅已确认的报名可以签到"


class NotCheckedIn(Conflict):
    code, message = "activity_not_checked_in", "尚未签到，不能签退"


class AlreadyCheckedIn(Conflict):
    code, message = "activity_already_checked_in", "已签到"


class AlreadyCheckedOut(Conflict):
    code, message = "activity_already_checked_out", "已签退"


class NotVolunteerActivity(Conflict):
    code, message = "activity_not_volunteer", "该活动不是志愿服务活动，无需签退"
