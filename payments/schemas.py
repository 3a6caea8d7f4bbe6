"""Request and response schemas of payments, receipts, refunds and payees. Money is integer fen."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from payments.models import (
    TRADE_NO_PATTERN,
    ItemState,
    LateReason,
    PayeeKind,
    PaymentChannel,
    PaymentStatus,
    RefundStatus,
)


def _fen(description: str = "金额（分）", **kwargs) -> fields.Integer:
    return fields.Integer(strict=True, metadata={"description": description}, **kwargs)


class PaymentCreateSchema(Schema):
    kind = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "款项类型，如 fees.bill、marketplace.order"},
    )
    ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "同一收款方的款项 id（金额以服务端为准）"},
    )
    channel = fields.String(required=True, validate=validate.OneOf([c.value for c in PaymentChannel]))


class PayeeBriefSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    kind = fields.Enum(PayeeKind, by_value=True)


class PaymentItemSchema(Schema):
    kind = fields.String()
    payable_id = fields.String()
    title = fields.String()
    amount_fen = _fen()
    state = fields.Enum(ItemState, by_value=True)


class PaymentSchema(Schema):
    id = fields.String(attribute="public_id")
    out_trade_no = fields.String(metadata={"description": "商户订单号（收据号）"})
    kind = fields.String()
    status = fields.Enum(PaymentStatus, by_value=True)
    channel = fields.Enum(PaymentChannel, by_value=True)
    amount_fen = _fen()
    paid_fen = _fen(allow_none=True)
    refunded_fen = _fen("已申请的退款（处理中与已退）")
    late_reason = fields.Enum(LateReason, by_value=True, allow_none=True)
    payee = fields.Nested(PayeeBriefSchema)
    items = fields.List(fields.Nested(PaymentItemSchema))
    expires_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    applied_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class PaymentCreatedSchema(PaymentSchema):
    pay_params = fields.Dict(metadata={"description": "交给客户端调起支付的参数（按支付方式不同）"})


class PaymentListArgsSchema(CursorArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in PaymentStatus]))


PaymentPageSchema = cursor_page_schema(PaymentSchema)


class RefundSchema(Schema):
    id = fields.String(attribute="public_id")
    payment_id = fields.String(attribute="payment.public_id")
    out_refund_no = fields.String()
    amount_fen = _fen()
    reason = fields.String()
    status = fields.Enum(RefundStatus, by_value=True)
    created_at = fields.DateTime()
    succeeded_at = fields.DateTime(allow_none=True)


class AdminRefundSchema(RefundSchema):
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    failed_at = fields.DateTime(allow_none=True)
    channel_refund_id = fields.String(allow_none=True)


class AdminPaymentSchema(PaymentSchema):
    channel_txn_id = fields.String(allow_none=True)
    apply_attempts = fields.Integer()
    apply_error = fields.String(allow_none=True)


class ReceiptSchema(Schema):
    receipt_no = fields.String()
    payment_id = fields.String()
    payee = fields.Nested(PayeeBriefSchema)
    items = fields.List(fields.Nested(PaymentItemSchema))
    amount_fen = _fen()
    paid_fen = _fen()
    refunded_fen = _fen("已退回的金额")
    paid_at = fields.DateTime()
    channel = fields.String()
    channel_txn_id = fields.String()
    status = fields.String()
    late_reason = fields.String(allow_none=True)
    refunds = fields.List(fields.Nested(RefundSchema))


class SandboxConfirmSchema(Schema):
    amount_fen = _fen(
        "模拟到账金额（分），默认为应付金额", load_default=None, validate=validate.Range(min=1, max=10**12)
    )
    channel_txn_id = fields.String(
        load_default=None,
        validate=validate.Regexp(TRADE_NO_PATTERN),
        metadata={"description": "模拟渠道交易号；相同交易号重复通知只记一次"},
    )


class AdminPaymentListArgsSchema(Schema):
    status = fields.String(
        load_default=PaymentStatus.paid_unapplied.value, validate=validate.OneOf([s.value for s in PaymentStatus])
    )


class AdminRefundCreateSchema(Schema):
    amount_fen = _fen(required=True, validate=validate.Range(min=1, max=10**12))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class PayeeSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    kind = fields.Enum(PayeeKind, by_value=True)
    wechat_sub_mchid = fields.String(allow_none=True)
    has_alipay_app_auth = fields.Function(lambda payee: payee.alipay_app_auth_token_ciphertext is not None)
    commission_bps = fields.Integer(metadata={"description": "平台佣金（万分之一），经渠道分账结算"})
    is_active = fields.Boolean()
    created_at = fields.DateTime()


class PayeeCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in PayeeKind]))
    wechat_sub_mchid = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[0-9]{6,32}$"))
    alipay_app_auth_token = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=256), load_only=True
    )
    commission_bps = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=10000))
    is_active = fields.Boolean(load_default=True)


class PayeeUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    kind = fields.String(validate=validate.OneOf([k.value for k in PayeeKind]))
    wechat_sub_mchid = fields.String(allow_none=True, validate=validate.Regexp(r"^[0-9]{6,32}$"))
    alipay_app_auth_token = fields.String(allow_none=True, validate=validate.Length(min=1, max=256), load_only=True)
    commission_bps = fields.Integer(strict=True, validate=validate.Range(min=0, max=10000))
    is_active = fields.Boolean()
