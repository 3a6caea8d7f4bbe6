"""Errors of complaints and suggestions (诉求) and of the Open311 adapter's management."""

from __future__ import annotations

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ComplaintNotFound(NotFound):
    code, message = "complaint_not_found", "诉求不存在"


class ComplaintCategoryNotFound(NotFound):
    code, message = "complaint_category_not_found", "诉求分类不存在"


class ComplaintCategoryCodeTaken(Conflict):
    code, message = "complaint_category_code_taken", "分类编码已被使用"


class ComplaintStateConflict(Conflict):
    code, message = "complaint_state_conflict", "诉求当前状态不允许此操作"


class NotYourComplaintToAnswer(Forbidden):
    code, message = "not_complaint_handler", "该诉求未转办给您，不能答复"


class NotACommunityMember(ValidationFailed):
    code, message = "not_a_community_member", "您不是该社区的登记居民，不能在此提交诉求"


class HandlerRequired(ValidationFailed):
    code, message = "handler_required", "转办须指定一个部门或一名网格员（二选一）"


class GridWorkerNotFound(NotFound):
    code, message = "grid_worker_not_found", "该网格员不存在或不负责此社区"


class Open311ClientNotFound(NotFound):
    code, message = "open311_client_not_found", "Open311 接入方不存在"
