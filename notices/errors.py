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
