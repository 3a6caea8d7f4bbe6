"""Views of service listings and bookings: parse, permission, one service call, return."""

from __future__ import annotations

from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from marketplace import blp, services_bookings, services_listings, services_steps
from marketplace.service_models import ServiceOrderStatus
from marketplace.service_schemas import (
    ServiceBrowseArgsSchema,
    ServiceCreateSchema,
    ServiceOrderCompleteSchema,
    ServiceOrderCreateSchema,
    ServiceOrderDetailSchema,
    ServiceOrderNoteSchema,
    ServiceOrderPageSchema,
    ServiceOrderQueryArgsSchema,
    ServiceOrderRatingCreateSchema,
    ServiceOrderReasonSchema,
    ServiceOrderReplySchema,
    ServiceOrderRequiredReasonSchema,
    ServicePageSchema,
    ServiceQuoteCreateSchema,
    ServiceSchema,
    ServiceTechnicianAssignSchema,
    ServiceUpdateSchema,
    VendorServicePageSchema,
    VendorServiceSchema,
)

RESIDENT_SIDE = "the resident, whoever booked it, a marketplace delegate"


def _detail(order):
    return services_bookings.booking_detail(current_user(), order)


# --- listings ----------------------------------------------------------------------------------------------------


@blp.route("/vendors/<vendor_id>/services")
class VendorServices(MethodView):
    @idempotent
    @blp.arguments(ServiceCreateSchema)
    @blp.response(201, VendorServiceSchema)
    @scoped("marketplace.service.manage")
    def post(self, data, vendor_id):
        """List a service (repair, household-service and recycling vendors; owner only)"""
        return services_listings.create_service(current_user(), vendor_id, data)

    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, VendorServicePageSchema)
    @scoped("marketplace.service.read")
    def get(self, args, vendor_id):
        """A vendor's services, on shelf or not"""
        return services_listings.vendor_services(current_user(), vendor_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/vendor-services/<service_id>")
class VendorServiceById(MethodView):
    @blp.arguments(ServiceUpdateSchema)
    @blp.response(200, VendorServiceSchema)
    @scoped("marketplace.service.manage")
    def patch(self, data, service_id):
        """Edit a service, its call-out fee, or put it on or off the shelf (owner only)"""
        return services_listings.update_service(current_user(), service_id, data)


@blp.route("/services")
class Services(MethodView):
    @blp.arguments(ServiceBrowseArgsSchema, location="query")
    @blp.response(200, ServicePageSchema)
    @scoped(also="residents: services of approved vendors serving their communities")
    def get(self, args):
        """Browse home services

        Cursor pages, newest first; the number of SQL statements does not grow with the page size.
        """
        return services_listings.browse_services(current_user(), **args)


@blp.route("/services/<service_id>")
class ServiceById(MethodView):
    @blp.response(200, ServiceSchema)
    @scoped(also="residents of a community the vendor serves")
    def get(self, service_id):
        """A home service"""
        return services_listings.browse_service(current_user(), service_id)


# --- bookings: the resident's side -------------------------------------------------------------------------------


@blp.route("/service-orders")
class ServiceOrders(MethodView):
    @idempotent
    @blp.arguments(ServiceOrderCreateSchema)
    @blp.response(201, ServiceOrderDetailSchema)
    @scoped(also="a resident, or a delegate holding a marketplace delegation (for_resident_id)")
    def post(self, data):
        """Book a home service

        With a description, private photos, a preferred time window and the household to come to. The vendor
        accepts and sends a technician; pay through POST /api/v1/payments with kind marketplace.service_order.
        """
        return _detail(services_bookings.book_service(current_user(), data))

    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, ServiceOrderPageSchema)
    @scoped(also="the caller's own bookings and those made for them")
    def get(self, args):
        """My service bookings, newest first"""
        return services_bookings.my_bookings(current_user(), cursor=args["cursor"], limit=args["limit"])


@blp.route("/service-orders/<order_id>")
class ServiceOrderById(MethodView):
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped(also=f"{RESIDENT_SIDE}; the vendor's owner and clerks; the assigned technician")
    def get(self, order_id):
        """A service booking with its quote and steps"""
        return _detail(services_bookings.order_visible_to(current_user(), order_id))


@blp.route("/service-orders/<order_id>/cancel")
class ServiceOrderCancel(MethodView):
    @blp.arguments(ServiceOrderReasonSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped(also=RESIDENT_SIDE)
    def post(self, data, order_id):
        """Cancel a booking before the technician sets out"""
        return _detail(services_bookings.cancel_booking(current_user(), order_id, reason=data["reason"]))


@blp.route("/service-orders/<order_id>/accept-quote")
class ServiceOrderAcceptQuote(MethodView):
    @blp.arguments(ServiceOrderNoteSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped(also=RESIDENT_SIDE)
    def post(self, data, order_id):
        """Accept the technician's quote: the work goes ahead and costs the quote"""
        return _detail(services_bookings.answer_quote(current_user(), order_id, accept=True))


@blp.route("/service-orders/<order_id>/decline-quote")
class ServiceOrderDeclineQuote(MethodView):
    @blp.arguments(ServiceOrderReasonSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped(also=RESIDENT_SIDE)
    def post(self, data, order_id):
        """Decline the quote: only the call-out fee is owed"""
        return _detail(services_bookings.answer_quote(current_user(), order_id, accept=False, reason=data["reason"]))


@blp.route("/service-orders/<order_id>/rate")
class ServiceOrderRate(MethodView):
    @blp.arguments(ServiceOrderRatingCreateSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped(also=RESIDENT_SIDE)
    def post(self, data, order_id):
        """Rate a paid booking (1–5, once)"""
        booking = services_bookings.rate_booking(
            current_user(), order_id, rating=data["rating"], comment=data["comment"], photo_ids=data["photo_ids"]
        )
        return _detail(booking)


@blp.route("/service-orders/<order_id>/reply")
class ServiceOrderReply(MethodView):
    @blp.arguments(ServiceOrderReplySchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped("marketplace.booking.dispatch")
    def post(self, data, order_id):
        """Answer the resident's rating, once (owner or clerk; 409 before a rating or after a reply)"""
        return _detail(services_steps.reply_to_rating(current_user(), order_id, text=data["text"]))


@blp.route("/service-orders/<order_id>/rework")
class ServiceOrderRework(MethodView):
    @blp.arguments(ServiceOrderRequiredReasonSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped(also=RESIDENT_SIDE)
    def post(self, data, order_id):
        """Ask for rework within the warranty (free of charge)

        MARKETPLACE_SERVICE_WARRANTY_DAYS (30) after completion; only work that was quoted and done.
        """
        return _detail(services_bookings.request_rework(current_user(), order_id, reason=data["reason"]))


# --- bookings: the vendor's side ---------------------------------------------------------------------------------


@blp.route("/vendors/<vendor_id>/service-orders")
class VendorServiceOrders(MethodView):
    @blp.arguments(ServiceOrderQueryArgsSchema, location="query")
    @blp.response(200, ServiceOrderPageSchema)
    @scoped("marketplace.booking.read", also="a technician (courier) sees only its own assignments")
    def get(self, args, vendor_id):
        """A vendor's service bookings (worklist)"""
        status = ServiceOrderStatus(args["status"]) if args["status"] else None
        return services_steps.vendor_bookings(
            current_user(), vendor_id, status=status, cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/service-orders/<order_id>/accept")
class ServiceOrderAccept(MethodView):
    @blp.arguments(ServiceTechnicianAssignSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped("marketplace.booking.dispatch")
    def post(self, data, order_id):
        """Accept a booking and send a technician (one of the vendor's staff)"""
        return _detail(
            services_steps.accept_booking(
                current_user(), order_id, technician_id=data["technician_id"], note=data["note"]
            )
        )


@blp.route("/service-orders/<order_id>/decline")
class ServiceOrderDecline(MethodView):
    @blp.arguments(ServiceOrderRequiredReasonSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped("marketplace.booking.dispatch")
    def post(self, data, order_id):
        """Decline a booking, saying why"""
        return _detail(services_steps.decline_booking(current_user(), order_id, reason=data["reason"]))


@blp.route("/service-orders/<order_id>/assign")
class ServiceOrderAssign(MethodView):
    @blp.arguments(ServiceTechnicianAssignSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped("marketplace.booking.dispatch")
    def post(self, data, order_id):
        """Send another technician before the visit starts"""
        return _detail(
            services_steps.assign_technician(
                current_user(), order_id, technician_id=data["technician_id"], note=data["note"]
            )
        )


def _visit_view(step: str, summary: str):
    class Visit(MethodView):
        @blp.arguments(ServiceOrderNoteSchema)
        @blp.response(200, ServiceOrderDetailSchema)
        @scoped("marketplace.booking.work", also="a technician (courier): only on its own assignments")
        def post(self, data, order_id):
            return _detail(services_steps.visit_step(current_user(), order_id, step, note=data["note"]))

    Visit.post.__doc__ = summary
    Visit.__name__ = f"ServiceOrder{step.capitalize()}"
    return Visit


for _step, _summary in {
    "depart": "The technician sets out (上门中)",
    "arrive": "The technician arrives (到达)",
}.items():
    blp.route(f"/service-orders/<order_id>/{_step}", endpoint=f"ServiceOrderVisit_{_step}")(
        _visit_view(_step, _summary)
    )


@blp.route("/service-orders/<order_id>/quote")
class ServiceOrderQuote(MethodView):
    @blp.arguments(ServiceQuoteCreateSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped("marketplace.booking.work", also="a technician (courier): only on its own assignments")
    def post(self, data, order_id):
        """Quote the work on site, line by line (fen)"""
        return _detail(services_steps.submit_quote(current_user(), order_id, lines=data["lines"], note=data["note"]))


@blp.route("/service-orders/<order_id>/complete")
class ServiceOrderComplete(MethodView):
    @blp.arguments(ServiceOrderCompleteSchema)
    @blp.response(200, ServiceOrderDetailSchema)
    @scoped("marketplace.booking.work", also="a technician (courier): only on its own assignments")
    def post(self, data, order_id):
        """Finish the work, with photos (a rework visit finishes free of charge)"""
        return _detail(
            services_steps.complete_work(current_user(), order_id, photo_ids=data["photo_ids"], note=data["note"])
        )
