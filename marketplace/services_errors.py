"""Errors of service listings and bookings: stable English codes, Chinese messages."""

from app.errors import APIError, Conflict, NotFound


class ServiceNotFound(NotFound):
    code, message = "service_not_found", "服务项目不存在"


class ServiceUnavailable(Conflict):
    code, message = "service_unavailable", "该服务已下架"


class VendorOffersNoServices(Conflict):
    code, message = "vendor_offers_no_services", "该类商户不能发布上门服务（仅维修、家政、回收商户）"


class ServiceOrderNotFound(NotFound):
    code, message = "service_order_not_found", "服务预约不存在"


class ServiceOrderStateConflict(Conflict):
    code, message = "service_order_state_conflict", "服务预约当前状态不允许此操作"


class TechnicianNotStaff(APIError):
    status, code, message = 422, "technician_not_staff", "指派的师傅不是本店员工"


class HouseholdNotYours(APIError):
    status, code, message = 422, "household_not_yours", "请选择您所在的房屋作为上门地址"


class WarrantyExpired(Conflict):
    code, message = "warranty_expired", "已过保修期，请重新预约"


class ReworkNotApplicable(Conflict):
    code, message = "rework_not_applicable", "该预约未完成施工，不能申请返修"
