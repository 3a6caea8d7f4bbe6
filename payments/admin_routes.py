"""Platform-admin endpoints: payees, the worklists (money not applied, failed refunds), re-application and refunds."""

from __future__ import annotations

import secrets

from flask import request
from flask.views import MethodView

from app.auth import current_user, require
from app.idempotency import HEADER, idempotent
from payments import paid, payees, refunds, services
from payments.models import PaymentStatus
from payments.routes import blp
from payments.schemas import (
    AdminPaymentListArgsSchema,
    AdminPaymentSchema,
    AdminRefundCreateSchema,
    AdminRefundSchema,
    PayeeCreateSchema,
    PayeeSchema,
    PayeeUpdateSchema,
)


@blp.route("/admin/payees")
class Payees(MethodView):
    @blp.response(200, PayeeSchema(many=True))
    @blp.paginate()
    @require("admin")
    def get(self, pagination_parameters):
        """List payees (admins)"""
        return payees.list_payees(pagination_parameters)

    @blp.arguments(PayeeCreateSchema)
    @blp.response(201, PayeeSchema)
    @require("admin")
    def post(self, data):
        """Create a payee with its channel identities (admins)

        `wechat_sub_mchid` is the WeChat Pay sub-merchant under the platform's service-provider account;
        `alipay_app_auth_token` is stored encrypted and never returned. 409 `payee_exists` for a sub-merchant id
        already bound to another payee.
        """
        return payees.create_payee(current_user(), data)


@blp.route("/admin/payees/<string:payee_id>")
class PayeeDetail(MethodView):
    @blp.response(200, PayeeSchema)
    @require("admin")
    def get(self, payee_id: str):
        """A payee (admins)"""
        return payees.get_payee(payee_id)

    @blp.arguments(PayeeUpdateSchema)
    @blp.response(200, PayeeSchema)
    @require("admin")
    def patch(self, data, payee_id: str):
        """Change a payee (admins); `is_active: false` stops new payments to it"""
        return payees.update_payee(current_user(), payee_id, data)

    @blp.response(204)
    @require("admin")
    def delete(self, payee_id: str):
        """Delete a payee nobody has paid (admins); 409 `payee_in_use` otherwise (deactivate it instead)"""
        payees.delete_payee(current_user(), payee_id)


@blp.route("/admin/payments")
class AdminPayments(MethodView):
    @blp.arguments(AdminPaymentListArgsSchema, location="query")
    @blp.response(200, AdminPaymentSchema(many=True))
    @blp.paginate()
    @require("admin")
    def get(self, args, pagination_parameters):
        """Payments by status, oldest money first (admins); by default the money not yet applied"""
        return services.worklist(PaymentStatus(args["status"]), pagination_parameters)


@blp.route("/admin/payments/<string:payment_id>")
class AdminPaymentDetail(MethodView):
    @blp.response(200, AdminPaymentSchema)
    @require("admin")
    def get(self, payment_id: str):
        """A payment with its channel transaction and last application error (admins)"""
        return services.payment_by_public_id(payment_id)


@blp.route("/admin/payments/<string:payment_id>/reapply")
class AdminReapply(MethodView):
    @blp.response(200, AdminPaymentSchema)
    @require("admin")
    def post(self, payment_id: str):
        """Apply a `paid_unapplied` payment now (admins)

        Refunds it instead when its payable is gone; another failure leaves it `paid_unapplied` with the error.
        409 `payment_not_unapplied` for a payment not waiting.
        """
        return paid.reapply_now(current_user(), payment_id)


@blp.route("/admin/payments/<string:payment_id>/refunds")
class AdminPaymentRefunds(MethodView):
    @idempotent
    @blp.arguments(AdminRefundCreateSchema)
    @blp.response(201, AdminRefundSchema)
    @require("admin")
    def post(self, data, payment_id: str):
        """Refund part or all of a payment (admins)

        Never more than paid minus refunds already requested: 409 `refund_exceeds_paid`. The channel is called by a
        job, retried with a back-off; send an `Idempotency-Key` to make a retried request safe.
        """
        admin = current_user()
        key = f"admin:{admin.id}:{request.headers.get(HEADER) or secrets.token_urlsafe(16)}"
        return refunds.refund(payment_id, data["amount_fen"], data["reason"], key, actor=admin)


@blp.route("/admin/refunds")
class AdminRefunds(MethodView):
    @blp.response(200, AdminRefundSchema(many=True))
    @blp.paginate()
    @require("admin")
    def get(self, pagination_parameters):
        """Failed refunds, oldest first (admins)"""
        return refunds.failed_refunds(pagination_parameters)


@blp.route("/admin/refunds/<string:refund_id>/retry")
class AdminRefundRetry(MethodView):
    @blp.response(200, AdminRefundSchema)
    @require("admin")
    def post(self, refund_id: str):
        """Send a failed refund again with a fresh set of attempts (admins); 409 `refund_not_failed` otherwise"""
        return refunds.retry_refund(refund_id, actor=current_user())
