"""Resident endpoints: pay, my payments, a payment and its receipt; and the demo-mode sandbox confirm."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api import Blueprint
from app.auth import current_user, require
from app.idempotency import idempotent
from payments import paid, services
from payments.schemas import (
    PaymentCreatedSchema,
    PaymentCreateSchema,
    PaymentListArgsSchema,
    PaymentPageSchema,
    PaymentSchema,
    ReceiptSchema,
    SandboxConfirmSchema,
)

blp = Blueprint("payments", __name__, url_prefix="/api/v1", description="支付：收款方、支付、收据与退款")
#: Registered only in demo mode: elsewhere the confirm route answers exactly like an unknown route.
sandbox_blp = Blueprint("payments_sandbox", __name__, url_prefix="/api/v1", description="沙箱支付（演示模式）")


@blp.record_once
def _register_sandbox_routes(state) -> None:
    if state.app.config.get("DEMO_MODE"):
        state.app.extensions["linli_api"].register_blueprint(sandbox_blp)


class _Created:
    """A payment with the client's payment parameters beside it, for one response."""

    def __init__(self, payment, pay_params: dict[str, Any]) -> None:
        self._payment = payment
        self.pay_params = pay_params

    def __getattr__(self, name: str) -> Any:
        return getattr(self._payment, name)


@blp.route("/payments")
class Payments(MethodView):
    @idempotent
    @blp.arguments(PaymentCreateSchema)
    @blp.response(201, PaymentCreatedSchema)
    @require()
    def post(self, data):
        """Pay one or more payables of one payee

        The amount comes from the payables, never from the client. My own payables, or those of a resident I act for
        with a delegation covering the kind (404 for anyone else's; 403 `delegation_denied` for a delegation that is
        pending, expired or lacks the scope). Payables of two payees: 422 `mixed_payees`. An open payment for exactly
        the same payables, channel and amount is returned again; otherwise it is closed and a new one opened.
        `pay_params` is what the client hands to the channel (WeChat Pay / Alipay / sandbox).
        """
        payment, pay_params = services.create_payment(current_user(), **data)
        return _Created(payment, pay_params)

    @blp.arguments(PaymentListArgsSchema, location="query")
    @blp.response(200, PaymentPageSchema)
    @require()
    def get(self, args):
        """My payments, newest first (cursor pagination)"""
        return services.my_payments(current_user(), status=args["status"], cursor=args["cursor"], limit=args["limit"])


@blp.route("/payments/<string:payment_id>")
class PaymentDetail(MethodView):
    @blp.response(200, PaymentSchema)
    @require()
    def get(self, payment_id: str):
        """A payment (its payer, the resident it paid for, or an admin; 404 for anyone else)"""
        return services.get_payment(current_user(), payment_id)


@blp.route("/payments/<string:payment_id>/receipt")
class PaymentReceipt(MethodView):
    @blp.response(200, ReceiptSchema)
    @require()
    def get(self, payment_id: str):
        """The receipt of a paid payment: items, amounts, payee, paid time, refunds

        404 `receipt_not_found` while the payment is unpaid.
        """
        return services.receipt(current_user(), payment_id)


@sandbox_blp.route("/payments/<string:payment_id>/sandbox/confirm")
class SandboxConfirm(MethodView):
    @sandbox_blp.arguments(SandboxConfirmSchema)
    @sandbox_blp.response(200, PaymentSchema)
    @require()
    def post(self, data, payment_id: str):
        """Pretend the sandbox channel was paid (demo mode only)

        Drives exactly the paid path of a real gateway callback: a closed payment is recorded as paid and refunded,
        `amount_fen` other than the amount due is refunded, the same `channel_txn_id` twice is recorded once.
        """
        return paid.confirm_sandbox(current_user(), payment_id, **data)
