"""Views of weighing and missing-item adjustments, after-sales, reviews, the vendor dashboard and statements."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from marketplace import adjustments, aftersales, blp, dashboard, orders, reviews, statements
from marketplace.aftersales_models import AftersaleStatus
from marketplace.aftersales_schemas import (
    AftersaleArbitrateSchema,
    AftersaleCreateSchema,
    AftersaleDecisionSchema,
    AftersaleEscalateSchema,
    AftersalePageSchema,
    AftersaleQueryArgsSchema,
    AftersaleSchema,
    DashboardArgsSchema,
    DashboardSchema,
    LineAdjustmentSchema,
    ReviewCreateSchema,
    ReviewPageSchema,
    ReviewReplySchema,
    ReviewSchema,
    StatementArgsSchema,
    StatementSchema,
)
from marketplace.schemas import OrderDetailSchema

# --- adjustments while preparing -------------------------------------------------------------------------------


@blp.route("/orders/<order_id>/lines/<int:line_no>/adjustment")
class OrderLineAdjustment(MethodView):
    @blp.arguments(LineAdjustmentSchema)
    @blp.response(200, OrderDetailSchema)
    @scoped("marketplace.order.decide")
    def put(self, data, order_id, line_no):
        """Enter a line's actual weight or missing quantity while preparing

        The differences of all lines are refunded together, once, when the order leaves preparing; a weight over
        the estimate costs the resident nothing more. Missing items are not returned to stock.
        """
        return orders.order_detail(adjustments.adjust_line(current_user(), order_id, line_no, data))


# --- after-sales -------------------------------------------------------------------------------------------------


def _status(args) -> AftersaleStatus | None:
    return AftersaleStatus(args["status"]) if args["status"] else None


@blp.route("/orders/<order_id>/aftersales")
class OrderAftersales(MethodView):
    @idempotent
    @blp.arguments(AftersaleCreateSchema)
    @blp.response(201, AftersaleSchema)
    @scoped(also="the resident, whoever placed the order, a marketplace delegate")
    def post(self, data, order_id):
        """Ask for a refund of one line of a completed order

        Within MARKETPLACE_AFTERSALES_DAYS of completion; photos are private uploads. One open request per line.
        """
        return aftersales.loaded(aftersales.request_refund(current_user(), order_id, data))

    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, AftersalePageSchema)
    @scoped(also="whoever may see the order")
    def get(self, args, order_id):
        """An order's after-sales requests, newest first"""
        return aftersales.order_aftersales(current_user(), order_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/aftersales")
class StaffAftersales(MethodView):
    @blp.arguments(AftersaleQueryArgsSchema, location="query")
    @blp.response(200, AftersalePageSchema)
    @scoped("marketplace.aftersales.arbitrate")
    def get(self, args):
        """After-sales requests in my communities (staff arbitration worklist; filter status=escalated)"""
        return aftersales.staff_aftersales(
            current_user(), status=_status(args), cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/vendors/<vendor_id>/aftersales")
class VendorAftersales(MethodView):
    @blp.arguments(AftersaleQueryArgsSchema, location="query")
    @blp.response(200, AftersalePageSchema)
    @scoped("marketplace.aftersales.decide")
    def get(self, args, vendor_id):
        """A vendor's after-sales requests (worklist)"""
        return aftersales.vendor_aftersales(
            current_user(), vendor_id, status=_status(args), cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/aftersales/<aftersale_id>")
class AftersaleById(MethodView):
    @blp.response(200, AftersaleSchema)
    @scoped(also="the resident's side, the vendor's staff, the community's staff")
    def get(self, aftersale_id):
        """An after-sales request"""
        return aftersales.aftersale_visible_to(current_user(), aftersale_id)


@blp.route("/aftersales/<aftersale_id>/approve")
class AftersaleApprove(MethodView):
    @blp.arguments(AftersaleDecisionSchema)
    @blp.response(200, AftersaleSchema)
    @scoped("marketplace.aftersales.decide")
    def post(self, data, aftersale_id):
        """Approve an after-sales request: the amount asked is refunded through payments"""
        item = aftersales.decide(current_user(), aftersale_id, approve=True, note=data["note"])
        return aftersales.loaded(item)


@blp.route("/aftersales/<aftersale_id>/refuse")
class AftersaleRefuse(MethodView):
    @blp.arguments(AftersaleDecisionSchema)
    @blp.response(200, AftersaleSchema)
    @scoped("marketplace.aftersales.decide")
    def post(self, data, aftersale_id):
        """Refuse an after-sales request (note required); the resident may escalate it"""
        item = aftersales.decide(current_user(), aftersale_id, approve=False, note=data["note"])
        return aftersales.loaded(item)


@blp.route("/aftersales/<aftersale_id>/escalate")
class AftersaleEscalate(MethodView):
    @blp.arguments(AftersaleEscalateSchema)
    @blp.response(200, AftersaleSchema)
    @scoped(also="the resident, whoever placed the order, a marketplace delegate")
    def post(self, data, aftersale_id):
        """Take a refused request to the community's staff"""
        return aftersales.loaded(aftersales.escalate(current_user(), aftersale_id, data["reason"]))


@blp.route("/aftersales/<aftersale_id>/arbitrate")
class AftersaleArbitrate(MethodView):
    @blp.arguments(AftersaleArbitrateSchema)
    @blp.response(200, AftersaleSchema)
    @scoped("marketplace.aftersales.arbitrate")
    def post(self, data, aftersale_id):
        """Settle an escalated request: refund (up to the amount asked) or uphold the vendor (audited)"""
        item = aftersales.arbitrate(
            current_user(),
            aftersale_id,
            refund=data["decision"] == "refund",
            note=data["note"],
            amount_fen=data["amount_fen"],
        )
        return aftersales.loaded(item)


# --- reviews -----------------------------------------------------------------------------------------------------


@blp.route("/orders/<order_id>/review")
class OrderReview(MethodView):
    @idempotent
    @blp.arguments(ReviewCreateSchema)
    @blp.response(201, ReviewSchema)
    @scoped(also="the resident, whoever placed the order, a marketplace delegate")
    def post(self, data, order_id):
        """Rate a completed order (once), with a comment and public photos"""
        return reviews.review_order(current_user(), order_id, data)


@blp.route("/reviews/<review_id>/reply")
class ReviewReply(MethodView):
    @blp.arguments(ReviewReplySchema)
    @blp.response(200, ReviewSchema)
    @scoped("marketplace.review.reply")
    def post(self, data, review_id):
        """Answer a review (once)"""
        return reviews.reply(current_user(), review_id, data["reply"])


@blp.route("/vendors/<vendor_id>/reviews")
class VendorReviews(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, ReviewPageSchema)
    @scoped(also="any signed-in account")
    def get(self, args, vendor_id):
        """A vendor's reviews, newest first"""
        return reviews.vendor_reviews(vendor_id, cursor=args["cursor"], limit=args["limit"])


# --- dashboard and statements ------------------------------------------------------------------------------------


@blp.route("/vendors/<vendor_id>/dashboard")
class VendorDashboard(MethodView):
    @blp.arguments(DashboardArgsSchema, location="query")
    @blp.response(200, DashboardSchema)
    @scoped("marketplace.vendor.dashboard")
    def get(self, args, vendor_id):
        """Orders by status, sales by day, top products, refunds, after-sales and ratings"""
        return dashboard.dashboard(current_user(), vendor_id, days=args["days"])


@blp.route("/vendors/<vendor_id>/statement")
class VendorStatement(MethodView):
    @blp.arguments(StatementArgsSchema, location="query")
    @blp.response(200, StatementSchema)
    @scoped("marketplace.vendor.statement")
    def get(self, args, vendor_id):
        """The month's statement: gross, refunds, platform commission, net (owner only)"""
        return statements.statement(current_user(), vendor_id, args["month"])


@blp.route("/vendors/<vendor_id>/statement/export")
class VendorStatementExport(MethodView):
    @blp.arguments(StatementArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "CSV, one order per line and a totals line (amounts in yuan)",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    )
    @scoped("marketplace.vendor.statement")
    def get(self, args, vendor_id):
        """The month's statement as CSV (owner only)"""
        text = statements.statement_csv(current_user(), vendor_id, args["month"])
        return Response(
            text,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="statement-{args["month"]}.csv"'},
        )
