"""Errors of payments, payees and refunds."""

from __future__ import annotations

from app.errors import APIError, Conflict, NotFound, ValidationFailed


class PaymentNotFound(NotFound):
    code, message = "payment_not_found", "支付记录不存在"


class ReceiptNotFound(NotFound):
    code, message = "receipt_not_found", "该支付尚未完成，没有收据"


class PayableNotFound(NotFound):
    code, message = "payable_not_found", "待支付的款项不存在"


class PayeeNotFound(NotFound):
    code, message = "payee_not_found", "收款方不存在"


class RefundNotFound(NotFound):
    code, message = "refund_not_found", "退款记录不存在"


class UnknownPayableKind(ValidationFailed):
    code, message = "unknown_payable_kind", "不支持的支付事项类型"


class MixedPayees(ValidationFailed):
    code, message = "mixed_payees", "不同收款方的款项不能合并支付，请分别支付"


class ChannelUnavailable(ValidationFailed):
    code, message = "channel_unavailable", "暂不支持该支付方式"


class PayableNotPayable(Conflict):
    code, message = "payable_not_payable", "该款项当前不可支付（可能已取消、已过期或已支付）"


class PayableLocked(Conflict):
    code, message = "payable_locked", "该款项已有支付正在处理中，请稍后再试"


class PayeeUnavailable(Conflict):
    code, message = "payee_unavailable", "收款方暂不能通过该方式收款"


class PayeeInUse(Conflict):
    code, message = "payee_in_use", "收款方已有支付记录，不能删除，可改为停用"


class PayeeExists(Conflict):
    code, message = "payee_exists", "该微信支付特约商户号已绑定其他收款方"


class PaymentNotPaid(Conflict):
    code, message = "payment_not_paid", "该支付尚未收到款项"


class PaymentUnapplied(Conflict):
    code, message = "payment_unapplied", "该支付到账后尚未处理完成，系统会自动入账或全额退款"


class PaymentNotUnapplied(Conflict):
    code, message = "payment_not_unapplied", "该支付不在待处理状态"


class PaymentNotSandbox(Conflict):
    code, message = "payment_not_sandbox", "只有沙箱支付可以模拟付款"


class RefundExceedsPaid(Conflict):
    code, message = "refund_exceeds_paid", "退款金额超过可退金额"


class RefundKeyReused(APIError):
    status, code, message = 422, "refund_key_reused", "该退款键已用于另一笔不同金额的退款"


class RefundNotFailed(Conflict):
    code, message = "refund_not_failed", "只有失败的退款可以重试"


class ChannelError(APIError):
    """A channel (gateway) refused or could not be reached; jobs retry, requests answer 502."""

    status, code, message = 502, "channel_error", "支付渠道暂时不可用，请稍后再试"


class ChannelTimeout(ChannelError):
    """The gateway did not answer in time (it may still have acted: jobs ask it again by the same key)."""

    status, code, message = 504, "channel_timeout", "支付渠道响应超时，请稍后再试"


class UnknownTrade(Exception):
    """A channel reported money for an ``out_trade_no`` we never issued (logged; the gateway is told to retry)."""
