"""Eldercare errors: stable English codes, Chinese messages."""

from app.errors import APIError, Conflict, NotFound


class ProviderNotFound(NotFound):
    code, message = "provider_not_found", "服务机构不存在"


class ProviderStateConflict(Conflict):
    code, message = "provider_state_conflict", "服务机构当前状态不允许此操作"


class ProviderNotOpen(Conflict):
    code, message = "provider_not_open", "服务机构未通过审核或已暂停"


class ItemNotFound(NotFound):
    code, message = "care_item_not_found", "服务项目不存在"


class OfferNotFound(NotFound):
    code, message = "care_offer_not_found", "服务不存在或已下架"


class CommunityNotServed(APIError):
    status, code, message = 422, "community_not_served", "该服务不覆盖老人所在的社区"


class CareOrderNotFound(NotFound):
    code, message = "care_order_not_found", "服务订单不存在"


class CareOrderStateConflict(Conflict):
    code, message = "care_order_state_conflict", "服务订单当前状态不允许此操作"


class ScheduledInPast(APIError):
    status, code, message = 422, "scheduled_in_past", "服务时间须晚于当前时间"


class StaffAlreadyAssigned(Conflict):
    code, message = "provider_staff_exists", "该账号已是本机构人员"


class ItemNameTaken(Conflict):
    code, message = "care_item_name_taken", "已有同名服务项目"


class OfferExists(Conflict):
    code, message = "care_offer_exists", "本机构已提供该服务项目"
