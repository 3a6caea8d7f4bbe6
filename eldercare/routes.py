"""Eldercare views: parse, permission, one service call, return."""

from __future__ import annotations

from decimal import Decimal

from flask import Response
from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user, require
from app.auth.scopes import scoped
from app.idempotency import idempotent
from eldercare import (
    blp,
    caregivers,
    claims,
    elders,
    orders,
    providers,
    subsidies,
    visits,
    visits_alerts,
    visits_cancel,
)
from eldercare.models import CareOrderStatus
from eldercare.schemas import (
    CareAssignmentPageSchema,
    CareClaimArgsSchema,
    CareClaimReportSchema,
    CaregiverPageSchema,
    CaregiverSchema,
    CaregiverSkillsSchema,
    CareItemCreateSchema,
    CareItemQueryArgsSchema,
    CareItemSchema,
    CareNoAnswerSchema,
    CareOfferCreateSchema,
    CareOfferFeeOutSchema,
    CareOfferFeeSchema,
    CareOfferQueryArgsSchema,
    CareOfferSchema,
    CareOrderAcceptSchema,
    CareOrderCancelSchema,
    CareOrderCreateSchema,
    CareOrderDeclineSchema,
    CareOrderPageSchema,
    CareOrderQueryArgsSchema,
    CareOrderSchema,
    CareProviderCreateSchema,
    CareProviderDecisionSchema,
    CareProviderFeeOutSchema,
    CareProviderFeeSchema,
    CareProviderOrderQueryArgsSchema,
    CareProviderSchema,
    CareProviderStaffCreateSchema,
    CareProviderStaffSchema,
    CareQuoteSchema,
    CareReasonSchema,
    CareVisitAssignSchema,
    CareVisitCheckInSchema,
    CareVisitCheckOutSchema,
    CareVisitConfirmSchema,
    CareVisitSchema,
    ElderSchema,
    ElderUpdateSchema,
    EligibilityRuleCreateSchema,
    EligibilityRuleSchema,
)

# --- elders and eligibility ----------------------------------------------------------------------------------------


@blp.route("/elders/<resident_id>")
class ElderById(MethodView):
    @blp.response(200, ElderSchema)
    @scoped(also="the elder, a family member with an eldercare delegation, community staff")
    def get(self, resident_id):
        """An elder's record with the subsidy rule that applies today"""
        return elders.read_elder(current_user(), resident_id)

    @blp.arguments(ElderUpdateSchema)
    @blp.response(200, ElderSchema)
    @scoped(also="care level: community staff; contacts and health notes: the elder, an eldercare delegate, staff")
    def put(self, data, resident_id):
        """Create or update an elder's record

        Health notes need the elder's separate consent to sensitive data (409 sensitive_consent_required).
        """
        return elders.update_elder(current_user(), resident_id, data)


@blp.route("/eligibility-rules")
class EligibilityRules(MethodView):
    @blp.arguments(EligibilityRuleCreateSchema)
    @blp.response(201, EligibilityRuleSchema)
    @require("admin")
    def post(self, data):
        """Add a subsidy eligibility rule (first match by priority, lowest first)"""
        return subsidies.create_rule(current_user(), data)

    @blp.response(200, EligibilityRuleSchema(many=True))
    @require("admin")
    def get(self):
        """Eligibility rules in the order they are tried"""
        return subsidies.list_rules()


# --- catalogue and providers ---------------------------------------------------------------------------------------


@blp.route("/items")
class CareItems(MethodView):
    @blp.arguments(CareItemCreateSchema)
    @blp.response(201, CareItemSchema)
    @require("admin")
    def post(self, data):
        """Add a catalogue item to one of the six categories"""
        return providers.create_item(current_user(), data)

    @blp.arguments(CareItemQueryArgsSchema, location="query")
    @blp.response(200, CareItemSchema(many=True))
    @require()
    def get(self, args):
        """The care catalogue (助餐 助浴 助医 助洁 跑腿 陪伴)"""
        return providers.list_items(args["category"])


@blp.route("/offers")
class CareOffers(MethodView):
    @blp.arguments(CareOfferQueryArgsSchema, location="query")
    @blp.response(200, CareOfferSchema(many=True))
    @require()
    def get(self, args):
        """Offers of approved providers, by category and community"""
        return providers.browse_offers(category=args["category"], community_public_id=args["community_id"])


@blp.route("/providers")
class CareProviders(MethodView):
    @idempotent
    @blp.arguments(CareProviderCreateSchema)
    @blp.response(201, CareProviderSchema)
    @scoped(also="any signed-in account; the applicant becomes the provider's provider_admin")
    def post(self, data):
        """Apply as a care provider"""
        return providers.apply_provider(current_user(), data)


@blp.route("/providers/<provider_id>")
class CareProviderById(MethodView):
    @blp.response(200, CareProviderSchema)
    @scoped("eldercare.provider.read")
    def get(self, provider_id):
        """A provider, for its people and the community staff deciding on it"""
        return providers.provider_for(current_user(), provider_id, "eldercare.provider.read")


def _decision_view(decision: str, summary: str):
    class Decision(MethodView):
        @blp.arguments(CareProviderDecisionSchema)
        @blp.response(200, CareProviderSchema)
        @scoped("eldercare.provider.decide")
        def post(self, data, provider_id):
            return providers.decide_provider(
                current_user(), provider_id, decision, note=data["note"], payee_id=data["payee_id"]
            )

    Decision.post.__doc__ = summary
    Decision.__name__ = f"CareProvider{decision.capitalize()}"
    return Decision


for _decision, _summary in {
    "approve": "Approve a care provider (naming its payee)",
    "reject": "Reject a care provider application",
    "suspend": "Suspend a care provider",
}.items():
    blp.route(f"/providers/<provider_id>/{_decision}", endpoint=f"CareProviderDecision_{_decision}")(
        _decision_view(_decision, _summary)
    )


@blp.route("/providers/<provider_id>/staff")
class CareProviderStaff(MethodView):
    @blp.arguments(CareProviderStaffCreateSchema)
    @blp.response(201, CareProviderStaffSchema)
    @scoped("eldercare.provider.manage")
    def post(self, data, provider_id):
        """Give an account a caregiver or provider_admin role"""
        return providers.add_staff(current_user(), provider_id, user_public_id=data["user_id"], role=data["role"])


@blp.route("/providers/<provider_id>/offers")
class CareProviderOffers(MethodView):
    @blp.arguments(CareOfferCreateSchema)
    @blp.response(201, CareOfferSchema)
    @scoped("eldercare.provider.manage")
    def post(self, data, provider_id):
        """Offer a catalogue item at a price and duration in some of the provider's communities"""
        offer = providers.create_offer(current_user(), provider_id, data)
        return providers.browse_offers_one(offer)


@blp.route("/providers/<provider_id>/orders")
class CareProviderOrders(MethodView):
    @blp.arguments(CareProviderOrderQueryArgsSchema, location="query")
    @blp.response(200, CareOrderPageSchema)
    @scoped("eldercare.order.read")
    def get(self, args, provider_id):
        """A provider's care orders (worklist)"""
        status = CareOrderStatus(args["status"]) if args["status"] else None
        return orders.provider_orders(
            current_user(), provider_id, status=status, cursor=args["cursor"], limit=args["limit"]
        )


# --- orders --------------------------------------------------------------------------------------------------------


@blp.route("/orders/quote")
class CareOrderQuote(MethodView):
    @blp.arguments(CareOrderCreateSchema)
    @blp.response(200, CareQuoteSchema)
    @scoped(also="the elder, an eldercare delegate, staff by phone with a reason")
    def post(self, data):
        """Price, subsidy and copay before confirming (nothing is held)"""
        return orders.quote_order(current_user(), data)


@blp.route("/orders")
class CareOrders(MethodView):
    @idempotent
    @blp.arguments(CareOrderCreateSchema)
    @blp.response(201, CareOrderSchema)
    @scoped(also="the elder, an eldercare delegate (elder_id), staff by phone (elder_id and reason)")
    def post(self, data):
        """Confirm a care order

        The subsidy is held from the elder's monthly quota now; a copay above zero is paid through
        POST /api/v1/payments with kind eldercare.care_order before the provider sees the order.
        """
        return orders.place_order(current_user(), data)

    @blp.arguments(CareOrderQueryArgsSchema, location="query")
    @blp.response(200, CareOrderPageSchema)
    @scoped(also="the caller's own orders, or an elder's with an eldercare delegation (elder_id)")
    def get(self, args):
        """Care orders, newest first"""
        return orders.my_orders(current_user(), elder_id=args["elder_id"], cursor=args["cursor"], limit=args["limit"])


@blp.route("/orders/<order_id>")
class CareOrderById(MethodView):
    @blp.response(200, CareOrderSchema)
    @scoped(also="the elder, whoever placed it, an eldercare delegate, the provider's people")
    def get(self, order_id):
        """A care order"""
        return orders.order_visible_to(current_user(), order_id)


@blp.route("/orders/<order_id>/accept")
class CareOrderAccept(MethodView):
    @blp.arguments(CareOrderAcceptSchema)
    @blp.response(200, CareOrderSchema)
    @scoped("eldercare.order.decide")
    def post(self, data, order_id):
        """Accept a submitted care order"""
        return orders.accept_order(current_user(), order_id, note=data["note"])


@blp.route("/orders/<order_id>/decline")
class CareOrderDecline(MethodView):
    @blp.arguments(CareOrderDeclineSchema)
    @blp.response(200, CareOrderSchema)
    @scoped("eldercare.order.decide")
    def post(self, data, order_id):
        """Decline a care order (the subsidy hold is released, a paid copay refunded, the family told)"""
        return orders.decline_order(current_user(), order_id, reason=data["reason"])


@blp.route("/orders/<order_id>/cancel")
class CareOrderCancel(MethodView):
    @blp.arguments(CareOrderCancelSchema)
    @blp.response(200, CareOrderSchema)
    @scoped(also="the elder, whoever placed it, an eldercare delegate; before the scheduled start")
    def post(self, data, order_id):
        """Cancel a care order before it starts (the subsidy hold is released once)"""
        return orders.cancel_order(current_user(), order_id, reason=data["reason"])


# --- caregivers and cancellation fees ------------------------------------------------------------------------------


@blp.route("/providers/<provider_id>/caregivers")
class CareProviderCaregivers(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, CaregiverPageSchema)
    @scoped("eldercare.provider.manage")
    def get(self, args, provider_id):
        """The provider's caregivers and their skills"""
        return caregivers.list_caregivers(current_user(), provider_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/providers/<provider_id>/caregivers/<user_id>")
class CareProviderCaregiver(MethodView):
    @blp.arguments(CaregiverSkillsSchema)
    @blp.response(200, CaregiverSchema)
    @scoped("eldercare.provider.manage")
    def put(self, data, provider_id, user_id):
        """Set the care categories a caregiver may be assigned"""
        return caregivers.set_skills(current_user(), provider_id, user_id, data["skills"])


@blp.route("/providers/<provider_id>/cancellation-fee")
class CareProviderCancellationFee(MethodView):
    @blp.arguments(CareProviderFeeSchema)
    @blp.response(200, CareProviderFeeOutSchema)
    @scoped("eldercare.provider.manage")
    def put(self, data, provider_id):
        """Set the provider's late-cancellation fee (fen)

        Kept from the paid copay when the family cancels later than ELDERCARE_FREE_CANCEL_HOURS before the start.
        """
        return visits_cancel.set_provider_fee(current_user(), provider_id, data["cancellation_fee_fen"])


@blp.route("/offers/<offer_id>/cancellation-fee")
class CareOfferCancellationFee(MethodView):
    @blp.arguments(CareOfferFeeSchema)
    @blp.response(200, CareOfferFeeOutSchema)
    @scoped("eldercare.provider.manage")
    def put(self, data, offer_id):
        """Set one offer's late-cancellation fee (null: the provider's applies)"""
        return visits_cancel.set_offer_fee(current_user(), offer_id, data["cancellation_fee_fen"])


# --- visits --------------------------------------------------------------------------------------------------------


@blp.route("/visits")
class CareMyVisits(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, CareAssignmentPageSchema)
    @scoped(also="a caregiver: the visits assigned to them")
    def get(self, args):
        """My assignments (caregivers), newest first"""
        return visits.my_visits(current_user(), cursor=args["cursor"], limit=args["limit"])


@blp.route("/orders/<order_id>/visit")
class CareOrderVisit(MethodView):
    @blp.response(200, CareVisitSchema)
    @scoped(
        also="the elder, whoever placed it, an eldercare delegate, community staff, the provider admin, "
        "the assigned caregiver"
    )
    def get(self, order_id):
        """The visit of a care order: caregiver, check-in, service record, rating"""
        return visits.read_visit(current_user(), order_id)


@blp.route("/orders/<order_id>/assign")
class CareOrderAssign(MethodView):
    @blp.arguments(CareVisitAssignSchema)
    @blp.response(200, CareVisitSchema)
    @scoped("eldercare.order.decide")
    def post(self, data, order_id):
        """Assign (or, before check-in, reassign) a caregiver skilled in the order's category"""
        return visits.assign(current_user(), order_id, caregiver_id=data["caregiver_id"])


@blp.route("/orders/<order_id>/check-in")
class CareOrderCheckIn(MethodView):
    @blp.arguments(CareVisitCheckInSchema)
    @blp.response(200, CareVisitSchema)
    @scoped(also="the caregiver assigned to the order (anyone else: 404)")
    def post(self, data, order_id):
        """Check in at the home (location, optional private photo); the family is told"""
        return visits.check_in(
            current_user(),
            order_id,
            lat=Decimal(str(round(data["lat"], 6))),
            lng=Decimal(str(round(data["lng"], 6))),
            photo_id=data["photo_id"],
        )


@blp.route("/orders/<order_id>/check-out")
class CareOrderCheckOut(MethodView):
    @blp.arguments(CareVisitCheckOutSchema)
    @blp.response(200, CareVisitSchema)
    @scoped(also="the caregiver assigned to the order (anyone else: 404)")
    def post(self, data, order_id):
        """Check out with the service record; the family is asked to confirm"""
        return visits.check_out(current_user(), order_id, service_record=data["service_record"], notes=data["notes"])


@blp.route("/orders/<order_id>/confirm")
class CareOrderConfirm(MethodView):
    @blp.arguments(CareVisitConfirmSchema)
    @blp.response(200, CareVisitSchema)
    @scoped(also="the elder, whoever placed it, an eldercare delegate, staff of the order's community")
    def post(self, data, order_id):
        """Confirm the visit and rate it 1–5 (the subsidy hold becomes a claim)"""
        return visits.confirm(current_user(), order_id, rating=data["rating"], comment=data["comment"])


@blp.route("/orders/<order_id>/no-answer")
class CareOrderNoAnswer(MethodView):
    @blp.arguments(CareNoAnswerSchema)
    @blp.response(200, CareVisitSchema)
    @scoped(also="the caregiver assigned to the order (anyone else: 404)")
    def post(self, data, order_id):
        """Report no answer at the door (family, provider and emergency contacts alerted)"""
        return visits_alerts.report_no_answer(current_user(), order_id, note=data["note"])


@blp.route("/orders/<order_id>/no-show")
class CareOrderNoShow(MethodView):
    @blp.arguments(CareReasonSchema)
    @blp.response(200, CareOrderSchema)
    @scoped("eldercare.order.no_show")
    def post(self, data, order_id):
        """Mark a caregiver no-show after the start (hold released, copay refunded)"""
        return visits.mark_no_show(current_user(), order_id, reason=data["reason"])


@blp.route("/orders/<order_id>/provider-cancel")
class CareOrderProviderCancel(MethodView):
    @blp.arguments(CareReasonSchema)
    @blp.response(200, CareOrderSchema)
    @scoped("eldercare.order.decide")
    def post(self, data, order_id):
        """Cancel as the provider, with a reason the family is told (hold released, copay refunded in full)"""
        return visits_cancel.cancel_by_provider(current_user(), order_id, reason=data["reason"])


# --- subsidy claims --------------------------------------------------------------------------------------------------


@blp.route("/providers/<provider_id>/claims")
class CareProviderClaims(MethodView):
    @blp.arguments(CareClaimArgsSchema, location="query")
    @blp.response(200, CareClaimReportSchema)
    @scoped("eldercare.claims.read")
    def get(self, args, provider_id):
        """A provider's subsidy claims for a month: delivered visits and amounts per elder (street office)"""
        return claims.claim_report(current_user(), provider_id, args["month"])


@blp.route("/providers/<provider_id>/claims/export")
class CareProviderClaimsExport(MethodView):
    @blp.arguments(CareClaimArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "补贴申领 CSV（金额单位：元）",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    )
    @scoped("eldercare.claims.read")
    def get(self, args, provider_id):
        """Export a provider's monthly subsidy claims as CSV (every export is logged)"""
        filename, text = claims.export_claims(current_user(), provider_id, args["month"])
        return Response(
            text.encode("utf-8"),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
        )
