"""Notice errors (codes stable, messages in Chinese)."""

from app.errors import APIError, Conflict, NotFound


class NoticeNotFound(NotFound):
    code, message = "notice_not_found", "通知不存在"


class NoticeNotEditable(Conflict):
    code, message = "notice_not_editable", "只有草稿状态的通知可以修改或发布"


class NoticeNotWithdrawable(Conflict):
    code, message = "notice_not_withdrawable", "该通知当前状态不能撤回"


class AudienceInvalid(APIError):
    status, code, message = 422, "audience_invalid", "通知对象有误"


class PublishTimeInPast(APIError):
    status, code, message = 422, "publish_time_in_past", "定时发布时间须晚于当前时间"


class ExpiryInvalid(APIError):
    status, code, message = 422, "expiry_invalid", "过期时间须晚于发布时间和当前时间"


class NoticeNotPublished(Conflict):
    code, message = "notice_not_published", "通知尚未发布"


class ReminderAlreadySent(Conflict):
    code, message = "reminder_already_sent", "每条通知只能提醒一次，已提醒过"


class SurveyNotFound(NotFound):
    code, message = "survey_not_found", "调查不存在"


class SurveyNotEditable(Conflict):
    code, message = "survey_not_editable", "只有草稿状态的调查可以修改或发布"


class SurveyInvalid(APIError):
    status, code, message = 422, "survey_invalid", "调查问卷有误"


class SurveyNotOpen(Conflict):
    code, message = "survey_not_open", "调查不在作答时间内"


class SurveyAlreadyAnswered(Conflict):
    code, message = "survey_already_answered", "已经填写过这份调查"


class AnswersInvalid(APIError):
    status, code, message = 422, "answers_invalid", "答卷有误"
