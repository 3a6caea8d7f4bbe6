"""Staff endpoints: fee items, meter readings, billing runs, one-off bills, adjustments, arrears, dashboard."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from fees import arrears, billing, blp, items, readings, statements
from fees.schemas import (
    ArrearsRowSchema,
    BillAdjustmentCreateSchema,
    BillDetailSchema,
    BillingRunCreateSchema,
    BillingRunSchema,
    BillSchema,
    EstateBillArgsSchema,
    FeeDashboardArgsSchema,
    FeeDashboardSchema,
    FeeItemCreateSchema,
    FeeItemSchema,
    FeeItemUpdateSchema,
    FeePeriodArgsSchema,
    MeterReadingCreateSchema,
    MeterReadingImportResultSchema,
    MeterReadingSchema,
    OneOffBillCreateSchema,
    RemindResultSchema,
)

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "CSV（UTF-8 或 GBK），表头：楼栋,单元,房号,本期读数,上期读数,抄表日期,"
        "换表说明,旧表止数,新表起数。"
        "上期读数省略时取该户上一期读数；本期小于上期时须填写换表说明与旧表止数。"
        "也可用 multipart/form-data 的 file 字段上传。",
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": readings.TEMPLATE},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


# --- fee items -------------------------------------------------------------------------------------------------


@blp.route("/estates/<string:estate_id>/items")
class EstateItems(MethodView):
    @blp.response(200, FeeItemSchema(many=True))
    @scoped("fees.read")
    def get(self, estate_id: str):
        """An estate's fee items"""
        return items.list_items(current_user(), estate_id)

    @blp.arguments(FeeItemCreateSchema)
    @blp.response(201, FeeItemSchema)
    @scoped("fees.manage")
    def post(self, data, estate_id: str):
        """Add a fee item (物业费, 停车费, 水费 …) to an estate

        `rate_centifen` is in 0.01 fen: per m² per month (`per_area`), per household per month (`fixed`) or per
        meter unit (`metered`). A quarterly or yearly per-area item bills 3 or 12 months at once.
        """
        return items.create_item(current_user(), estate_id, data)


@blp.route("/items/<string:item_id>")
class ItemById(MethodView):
    @blp.response(200, FeeItemSchema)
    @scoped("fees.read")
    def get(self, item_id: str):
        """A fee item"""
        return items.read_item(current_user(), item_id)

    @blp.arguments(FeeItemUpdateSchema)
    @blp.response(200, FeeItemSchema)
    @scoped("fees.manage")
    def patch(self, data, item_id: str):
        """Edit a fee item (bills already issued keep their terms)"""
        return items.update_item(current_user(), item_id, data)


# --- meter readings --------------------------------------------------------------------------------------------


@blp.route("/items/<string:item_id>/readings")
class ItemReadings(MethodView):
    @blp.arguments(FeePeriodArgsSchema, location="query")
    @blp.response(200, MeterReadingSchema(many=True))
    @blp.paginate()
    @scoped("fees.read")
    def get(self, args, item_id: str, pagination_parameters):
        """A period's meter readings of a metered item"""
        return readings.list_readings(current_user(), item_id, args["period"], pagination_parameters)

    @blp.arguments(MeterReadingCreateSchema)
    @blp.response(201, MeterReadingSchema)
    @scoped("fees.manage")
    def post(self, data, item_id: str):
        """Enter a household's meter reading for a period

        422 `reading_invalid` for a reading below the previous one without `meter_change_note` (then
        `old_meter_end` is required, and the usage spans both meters), or with no previous reading known or given.
        """
        return readings.reading_view(readings.record_reading(current_user(), item_id, data), data["household_id"])


@blp.route("/items/<string:item_id>/readings/import")
class ItemReadingsImport(MethodView):
    @blp.arguments(FeePeriodArgsSchema, location="query")
    @blp.doc(**_CSV_BODY)
    @blp.response(201, MeterReadingImportResultSchema)
    @blp.alt_response(422, description="Row errors (`details.errors`: row, column, message); nothing was imported")
    @scoped("fees.manage")
    def post(self, args, item_id: str):
        """Import a period's meter readings from CSV (all rows or none)"""
        upload = request.files.get("file")
        if upload is not None:
            data = upload.read()
        elif request.mimetype in ("text/csv", "text/plain", "application/csv"):
            data = request.get_data()
        else:
            data = None  # refused by the service after the scope check (outsiders get 404, not a hint)
        return readings.import_readings(current_user(), item_id, args["period"], data)


# --- billing ---------------------------------------------------------------------------------------------------


@blp.route("/estates/<string:estate_id>/billing-runs")
class EstateBillingRuns(MethodView):
    @blp.arguments(BillingRunCreateSchema)
    @blp.response(202, BillingRunSchema)
    @scoped("fees.manage")
    def post(self, data, estate_id: str):
        """Bill an estate for a period (出账), as one background job

        Every active monthly, quarterly and yearly item, for each household with an active membership; metered items
        for households with a reading of the period. Running it again bills only what is missing (households that
        moved in since): one bill per household, item and period, however often and however concurrently it runs.
        """
        return billing.request_run(current_user(), estate_id, data["period"])


@blp.route("/billing-runs/<string:run_id>")
class BillingRunById(MethodView):
    @blp.response(200, BillingRunSchema)
    @scoped("fees.read")
    def get(self, run_id: str):
        """A billing run and what it made"""
        return billing.get_run(current_user(), run_id)


@blp.route("/estates/<string:estate_id>/bills")
class EstateBills(MethodView):
    @blp.arguments(EstateBillArgsSchema, location="query")
    @blp.response(200, BillSchema(many=True))
    @blp.paginate()
    @scoped("fees.read")
    def get(self, args, estate_id: str, pagination_parameters):
        """An estate's bills of a period, by building and room (staff worklist)"""
        return statements.estate_bills(
            current_user(), estate_id, period=args["period"], status=args["status"], pagination=pagination_parameters
        )


@blp.route("/bills")
class OneOffBills(MethodView):
    @idempotent
    @blp.arguments(OneOffBillCreateSchema)
    @blp.response(201, BillDetailSchema)
    @scoped("fees.manage")
    def post(self, data):
        """Issue a one-off bill to a household (against a fee item of its estate)"""
        bill = billing.create_one_off(current_user(), data)
        return statements.bill_detail(current_user(), bill.public_id)


@blp.route("/bills/<string:bill_id>/adjustments")
class BillAdjustments(MethodView):
    @blp.arguments(BillAdjustmentCreateSchema)
    @blp.response(201, BillDetailSchema)
    @scoped("fees.adjust")
    def post(self, data, bill_id: str):
        """Discount (减免), waive the late fee of, or cancel a bill, with a reason (audited)

        409 `bill_locked` while the bill is in an open fee order; 409 `bill_not_unpaid` once paid, waived or
        cancelled.
        """
        billing.adjust_bill(current_user(), bill_id, **data)
        return statements.bill_detail(current_user(), bill_id)


# --- arrears and dashboard -------------------------------------------------------------------------------------


@blp.route("/estates/<string:estate_id>/arrears")
class EstateArrears(MethodView):
    @blp.response(200, ArrearsRowSchema(many=True))
    @blp.paginate()
    @scoped("fees.read")
    def get(self, estate_id: str, pagination_parameters):
        """Households with overdue bills, largest arrears first (late fees as of today; names masked)"""
        return arrears.arrears_list(current_user(), estate_id, pagination_parameters)


@blp.route("/estates/<string:estate_id>/arrears/export")
class EstateArrearsExport(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "欠费清单 CSV（姓名、手机号脱敏）",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    )
    @scoped("fees.export")
    def get(self, estate_id: str):
        """Export the arrears list as CSV (masked; every export is logged)"""
        filename, text = arrears.export_arrears(current_user(), estate_id)
        return Response(
            text.encode("utf-8"),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
        )


@blp.route("/estates/<string:estate_id>/reminders")
class EstateReminders(MethodView):
    @blp.response(200, RemindResultSchema)
    @scoped("fees.manage")
    def post(self, estate_id: str):
        """Send arrears reminders (催缴) now to the estate's households with overdue bills

        Through the inbox and SMS, to members and their delegates for `bills`; a household reminded in the last
        N days (`FEES_REMINDER_INTERVAL_DAYS`, default 7) is skipped. The same runs daily at 10:00.
        """
        return arrears.remind_estate(current_user(), estate_id)


@blp.route("/estates/<string:estate_id>/dashboard")
class EstateDashboard(MethodView):
    @blp.arguments(FeeDashboardArgsSchema, location="query")
    @blp.response(200, FeeDashboardSchema)
    @scoped("fees.read")
    def get(self, args, estate_id: str):
        """Billed, collected, collection rate and arrears per period (收缴率 = 实收本金 / 应收本金)"""
        return arrears.dashboard(current_user(), estate_id, start=args["start"], end=args["end"])
