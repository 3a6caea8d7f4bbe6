"""Resident endpoints: the households I pay for, their bills, fee orders, receipts (JSON and printable)."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user, require
from app.auth.scopes import scoped
from app.idempotency import idempotent
from fees import blp, orders, receipts, statements
from fees.schemas import (
    BillDetailSchema,
    BillListArgsSchema,
    BillPageSchema,
    FeeOrderCreateSchema,
    FeeOrderSchema,
    FeeReceiptPageSchema,
    FeeReceiptSchema,
    PayableHouseholdSchema,
)

_RESIDENTS = "active members of the household, and delegates of a member holding scope `bills`"


@blp.route("/households")
class PayableHouseholds(MethodView):
    @blp.response(200, PayableHouseholdSchema(many=True))
    @require()
    def get(self):
        """Households whose bills I pay, with what is owed today

        My own households (active memberships) and those of members who gave me a delegation with scope `bills`
        (an elder's flat). A household I moved out of is not listed.
        """
        return statements.my_households(current_user())


@blp.route("/households/<string:household_id>/bills")
class HouseholdBills(MethodView):
    @blp.arguments(BillListArgsSchema, location="query")
    @blp.response(200, BillPageSchema)
    @scoped("fees.read", also=_RESIDENTS)
    def get(self, args, household_id: str):
        """A household's bills, newest period first (cursor pagination)

        Unpaid bills show their late fee (滞纳金) and total as of today; `locked` bills are in an open fee order.
        404 for a former member and anyone else outside the household; 403 `delegation_denied` for a delegate of a
        member whose delegation does not include `bills`.
        """
        return statements.household_bills(
            current_user(), household_id, status=args["status"], cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/bills/<string:bill_id>")
class BillById(MethodView):
    @blp.response(200, BillDetailSchema)
    @scoped("fees.read", also=_RESIDENTS)
    def get(self, bill_id: str):
        """A bill with its adjustments (the reasons are shown to staff only)"""
        return statements.bill_detail(current_user(), bill_id)


@blp.route("/orders")
class FeeOrders(MethodView):
    @idempotent
    @blp.arguments(FeeOrderCreateSchema)
    @blp.response(201, FeeOrderSchema)
    @require()
    def post(self, data):
        """Put bills together to pay them in one payment

        Bills of one household and one payee. Then pay with `POST /api/v1/payments`
        `{"kind": "fees.fee_order", "ids": [<order id>], "channel": …}` (the `payable` field). The order holds its
        bills for 15 minutes: another order for them gets 409 `bill_locked`. Making the same order again returns it;
        a different one replaces my own unpaid order. Late fees are fixed as of today.
        """
        order = orders.create_order(current_user(), household_id=data["household_id"], bill_ids=data["bill_ids"])
        return statements.order_view(order)


@blp.route("/orders/<string:order_id>")
class FeeOrderById(MethodView):
    @blp.response(200, FeeOrderSchema)
    @scoped("fees.read", also=f"the order's creator; {_RESIDENTS}")
    def get(self, order_id: str):
        """A fee order, with its payment and receipt once paid"""
        return statements.order_view(orders.visible_order(current_user(), order_id))


@blp.route("/orders/<string:order_id>/cancel")
class FeeOrderCancel(MethodView):
    @blp.response(200, FeeOrderSchema)
    @require()
    def post(self, order_id: str):
        """Give up my open fee order (409 while a payment for it is open)"""
        return statements.order_view(orders.cancel_order(current_user(), order_id))


@blp.route("/receipts")
class Receipts(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, FeeReceiptPageSchema)
    @require()
    def get(self, args):
        """Receipts I paid and those of the households I pay for, newest first"""
        return receipts.my_receipts(current_user(), cursor=args["cursor"], limit=args["limit"])


@blp.route("/receipts/<string:receipt_id>")
class ReceiptById(MethodView):
    @blp.response(200, FeeReceiptSchema)
    @scoped("fees.read", also=f"the payer; {_RESIDENTS}")
    def get(self, receipt_id: str):
        """A receipt (收据): number, payee, lines, amounts, payment time"""
        return receipts.get_receipt(current_user(), receipt_id)


@blp.route("/receipts/<string:receipt_id>/printable")
class ReceiptPrintable(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "收据（可打印的 HTML 页面）",
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        }
    )
    @scoped("fees.read", also=f"the payer; {_RESIDENTS}")
    def get(self, receipt_id: str):
        """A receipt as a printable HTML page"""
        html = receipts.printable(current_user(), receipt_id)
        return Response(html, mimetype="text/html", headers={"Cache-Control": "private, no-store"})
