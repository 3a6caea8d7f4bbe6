"""Marketplace errors: stable English codes, Chinese messages."""

from app.errors import APIError, Conflict, NotFound


class VendorNotFound(NotFound):
    code, message = "vendor_not_found", "商户不存在"


class VendorNotOpen(Conflict):
    code, message = "vendor_not_open", "商户未营业（未通过审核或已暂停）"


class VendorStateConflict(Conflict):
    code, message = "vendor_state_conflict", "商户当前状态不允许此操作"


class ProductNotFound(NotFound):
    code, message = "product_not_found", "商品不存在"


class ProductUnavailable(Conflict):
    code, message = "product_unavailable", "商品已下架"


class StockInsufficient(Conflict):
    code, message = "stock_insufficient", "库存不足"


class StockWouldGoNegative(Conflict):
    code, message = "stock_would_go_negative", "库存调整后不能小于零"


class OrderNotFound(NotFound):
    code, message = "order_not_found", "订单不存在"


class OrderStateConflict(Conflict):
    code, message = "order_state_conflict", "订单当前状态不允许此操作"


class StaffAlreadyAssigned(Conflict):
    code, message = "vendor_staff_exists", "该账号已是本店员工"


class CommunityNotServed(APIError):
    status, code, message = 422, "community_not_served", "该商户不服务您所在的社区"
