"""Errors of settlement, after-sales, reviews and statements: stable English codes, Chinese messages."""

from app.errors import APIError, Conflict, NotFound


class LineNotFound(NotFound):
    code, message = "order_line_not_found", "订单中没有这一行商品"


class LineRefundExceeded(Conflict):
    code, message = "line_refund_exceeded", "退款金额超过该商品实付未退的金额"


class OrderNotPaid(Conflict):
    code, message = "order_not_paid", "订单未支付，无可退款项"


class AftersaleNotFound(NotFound):
    code, message = "aftersale_not_found", "售后申请不存在"


class AftersaleStateConflict(Conflict):
    code, message = "aftersale_state_conflict", "售后申请当前状态不允许此操作"


class AftersaleOpen(Conflict):
    code, message = "aftersale_open", "该商品已有处理中的售后申请"


class AftersaleWindowClosed(Conflict):
    code, message = "aftersale_window_closed", "已超过售后申请期限"


class ReviewExists(Conflict):
    code, message = "review_exists", "该订单已评价"


class ReviewNotFound(NotFound):
    code, message = "review_not_found", "评价不存在"


class ReviewAlreadyReplied(Conflict):
    code, message = "review_already_replied", "商户已回复过该评价"


class OrderNotCompleted(APIError):
    status, code, message = 409, "order_not_completed", "订单完成后才能评价或申请售后"
