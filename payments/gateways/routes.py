"""Gateway callbacks (answered in each gateway's own format) and the admins' view of notifications and
reconciliation reports.

``gateways_blp`` is the one blueprint to register; it brings ``gateways_admin_blp`` along. Importing this module
registers the channels and the jobs.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Response, jsonify, request
from flask.views import MethodView
from marshmallow import fields, validate

from app.api import Blueprint, Schema
from app.auth import require
from app.extensions import db, limiter
from payments.gateways import channels, notifications, reports
from payments.gateways.models import GatewayNotification, ReconciliationReport, ReportStatus, Verdict

channels.register()

gateways_blp = Blueprint(
    "payment_gateways",
    __name__,
    url_prefix="/api/v1/payments/notify",
    description="支付渠道回调（微信支付、支付宝）：按渠道自己的格式应答",
)
gateways_admin_blp = Blueprint(
    "payment_gateways_admin",
    __name__,
    url_prefix="/api/v1/admin/payment-gateways",
    description="支付渠道：回调记录与对账（管理员）",
)
#: For the app factory's registry of core blueprints (``module.blp``).
blp = gateways_blp


@gateways_blp.record_once
def _register_admin_routes(state) -> None:
    state.app.extensions["linli_api"].register_blueprint(gateways_admin_blp)


@gateways_blp.route("/wechat")
class WeChatNotify(MethodView):
    # Gateways deliver in bursts from a few addresses: a 429 would only delay money. The signature is the gate.
    decorators = (limiter.exempt,)

    @gateways_blp.doc(
        security=[],
        responses={
            "204": {"description": "Received (WeChat Pay stops sending it)"},
            "400": {"description": "Does not match our record: `{code: FAIL, message}`, WeChat Pay sends it again"},
            "401": {"description": "Signature, serial or timestamp refused: `{code: FAIL, message}`"},
            "404": {"description": "Unknown order, or WeChat Pay not configured here"},
        },
    )
    @require(public=True)
    def post(self):
        """WeChat Pay notification (payments and refunds)

        Signed by WeChat Pay (`Wechatpay-*` headers) with the resource encrypted by the APIv3 key. The answer is
        WeChat Pay's format, not ours.
        """
        status, body = notifications.handle_wechat(request.headers, request.get_data(cache=False))
        if body is None:
            return Response(status=status)
        response = jsonify(body)
        response.status_code = status
        return response


@gateways_blp.route("/alipay")
class AlipayNotify(MethodView):
    decorators = (limiter.exempt,)

    @gateways_blp.doc(
        security=[],
        responses={
            "200": {
                "description": "`success` (Alipay stops sending it)",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "400": {
                "description": "`failure`: refused or not matching; Alipay sends it again",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "404": {"description": "`failure`: Alipay not configured here"},
        },
    )
    @require(public=True)
    def post(self):
        """Alipay asynchronous notification (form-encoded, RSA2-signed)

        Answers the text `success` or `failure`, as Alipay expects.
        """
        status, text = notifications.handle_alipay(request.form)
        return Response(text, status=status, mimetype="text/plain")


# --- admins ------------------------------------------------------------------------------------------------------


class NotificationSchema(Schema):
    id = fields.Integer()
    gateway = fields.String()
    verdict = fields.Enum(Verdict, by_value=True)
    reason = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    event_type = fields.String(allow_none=True)
    notify_id = fields.String(allow_none=True)
    out_trade_no = fields.String(allow_none=True)
    out_refund_no = fields.String(allow_none=True)
    payload = fields.Dict()
    received_at = fields.DateTime()


class NotificationArgsSchema(Schema):
    verdict = fields.String(load_default="rejected", validate=validate.OneOf([v.value for v in Verdict]))
    gateway = fields.String(load_default=None, validate=validate.OneOf(["wechatpay", "alipay"]))


class ReportSchema(Schema):
    id = fields.Integer()
    gateway = fields.String()
    bill_date = fields.Date()
    merchant = fields.String()
    status = fields.Enum(ReportStatus, by_value=True)
    lines = fields.Integer()
    matched = fields.Integer()
    mismatches = fields.List(fields.Dict())
    error = fields.String(allow_none=True)
    updated_at = fields.DateTime()


class ReportArgsSchema(Schema):
    gateway = fields.String(load_default=None, validate=validate.OneOf(["wechatpay", "alipay"]))
    bill_date = fields.Date(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in ReportStatus]))


class ExportArgsSchema(Schema):
    bill_date = fields.Date(required=True)
    gateway = fields.String(load_default=None, validate=validate.OneOf(["wechatpay", "alipay"]))


class RunSchema(Schema):
    bill_date = fields.Date(required=True, metadata={"description": "账单日期（北京时间），通常为昨天"})


class RunQueuedSchema(Schema):
    job_id = fields.Integer(allow_none=True)
    bill_date = fields.Date()


@gateways_admin_blp.route("/notifications")
class Notifications(MethodView):
    @gateways_admin_blp.arguments(NotificationArgsSchema, location="query")
    @gateways_admin_blp.response(200, NotificationSchema(many=True))
    @gateways_admin_blp.paginate()
    @require("admin")
    def get(self, args, pagination_parameters):
        """Gateway notifications, newest first (admins); by default the rejected ones

        A rejected notification changed nothing: forged, tampered, stale, for another merchant, or not matching
        our record (`reason`). What was sent is kept, cut short.
        """
        where = [GatewayNotification.verdict == Verdict(args["verdict"])]
        if args.get("gateway"):
            where.append(GatewayNotification.gateway == args["gateway"])
        pagination_parameters.item_count = db.session.scalar(
            sa.select(sa.func.count()).select_from(GatewayNotification).where(*where)
        )
        return db.session.scalars(
            sa.select(GatewayNotification)
            .where(*where)
            .order_by(GatewayNotification.id.desc())
            .offset(pagination_parameters.first_item)
            .limit(pagination_parameters.page_size)
        ).all()


@gateways_admin_blp.route("/reconciliations")
class Reconciliations(MethodView):
    @gateways_admin_blp.arguments(ReportArgsSchema, location="query")
    @gateways_admin_blp.response(200, ReportSchema(many=True))
    @gateways_admin_blp.paginate()
    @require("admin")
    def get(self, args, pagination_parameters):
        """Reconciliation reports, newest day first (admins)

        One per statement: WeChat Pay's service-provider statement (`merchant` empty) and one per Alipay seller.
        `mismatches` lists `missing_here`, `missing_there`, `amount_differs` and `state_differs` lines.
        """
        return reports.list_reports(args, pagination_parameters)

    @gateways_admin_blp.arguments(RunSchema)
    @gateways_admin_blp.response(202, RunQueuedSchema)
    @require("admin")
    def post(self, data):
        """Reconcile a day again now (admins); the reports are replaced when the job has run"""
        return {"job_id": reports.queue_reconciliation(data["bill_date"]), "bill_date": data["bill_date"]}


@gateways_admin_blp.route("/reconciliations/<int:report_id>")
class ReconciliationById(MethodView):
    @gateways_admin_blp.response(200, ReportSchema)
    @require("admin")
    def get(self, report_id: int):
        """A reconciliation report (admins)"""
        return reports.get_report(report_id)


@gateways_admin_blp.route("/reconciliations/export")
class ReconciliationExport(MethodView):
    @gateways_admin_blp.arguments(ExportArgsSchema, location="query")
    @gateways_admin_blp.doc(
        responses={
            "200": {
                "description": "CSV, one mismatch per line",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    )
    @require("admin")
    def get(self, args):
        """The day's mismatches as CSV (admins)"""
        text = reports.export_csv(args["bill_date"], args.get("gateway"))
        day: date = args["bill_date"]
        return Response(
            text,
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="reconciliation-{day.isoformat()}.csv"',
            },
        )


__all__ = ["ReconciliationReport", "blp", "gateways_admin_blp", "gateways_blp"]
