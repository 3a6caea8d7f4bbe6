"""Errors of service guides and window appointments."""

from __future__ import annotations

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed


class CentreNotFound(NotFound):
    code, message = "centre_not_found", "服务中心不存在"


class CategoryNotFound(NotFound):
    code, message = "category_not_found", "事项分类不存在"


class GuideNotFound(NotFound):
    code, message = "guide_not_found", "办事指南不存在"


class WindowNotFound(NotFound):
    code, message = "window_not_found", "窗口不存在"


class ClosureNotFound(NotFound):
    code, message = "closure_not_found", "停办安排不存在"


class BookingNotFound(NotFound):
    code, message = "booking_not_found", "预约不存在"


class SuspensionNotFound(NotFound):
    code, message = "suspension_not_found", "预约限制记录不存在"


class NameTaken(Conflict):
    code, message = "name_taken", "名称已被使用"


class CodeTaken(Conflict):
    code, message = "code_taken", "事项编码已被使用"


class NoDraft(Conflict):
    code, message = "no_draft", "该事项没有待发布的草稿"


class NotPublished(Conflict):
    code, message = "not_published", "该事项尚未发布"


class NotBookable(Conflict):
    code, message = "not_bookable", "该事项不提供预约"


class SlotNotOffered(ValidationFailed):
    code, message = "slot_not_offered", "该时段不在窗口的预约时段内"


class OutsideBookingWindow(ValidationFailed):
    code, message = "outside_booking_window", "该日期不在可预约范围内"


class SlotClosed(Conflict):
    code, message = "slot_closed", "该时段窗口停办"


class SlotFull(Conflict):
    code, message = "slot_full", "该时段已约满"


class AlreadyBookedThatDay(Conflict):
    code, message = "already_booked_that_day", "同一事项同一天只能有一个有效预约"


class BookingSuspended(Forbidden):
    code, message = "booking_suspended", "因多次爽约，暂时不能在此中心预约"


class BookingNotActive(Conflict):
    code, message = "booking_not_active", "预约当前状态不允许此操作"


class CutoffPassed(Conflict):
    code, message = "cutoff_passed", "已超过可取消或改约的时间"


class CheckInNotOpen(Conflict):
    code, message = "check_in_not_open", "现在不在取号时间内"


class TooEarlyForNoShow(Conflict):
    code, message = "too_early_for_no_show", "预约时段尚未开始，不能记为爽约"


class StaffReasonRequired(ValidationFailed):
    code, message = "staff_reason_required", "工作人员操作须填写原因"
