"""Public and resident endpoints: centres, published guides and search, availability, my bookings."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.auth import current_user, require
from app.auth.scopes import scoped
from app.idempotency import idempotent
from govservice import availability, booking_views, bookings, centres, desk, guides
from govservice.guide_schemas import (
    CategorySchema,
    GuideListArgsSchema,
    GuidePageSchema,
    GuideSchema,
)
from govservice.schemas import (
    AvailabilityArgsSchema,
    AvailabilitySchema,
    BookingCreateSchema,
    BookingListArgsSchema,
    BookingPageSchema,
    BookingSchema,
    CancelSchema,
    CentreListArgsSchema,
    CentreSchema,
    RescheduleSchema,
    WindowSchema,
)

blp = Blueprint(
    "govservice",
    __name__,
    url_prefix="/api/v1/govservice",
    description="政务服务：办事指南、窗口预约、网上申办、投诉建议",
)


@blp.route("/centres")
class Centres(MethodView):
    @blp.arguments(CentreListArgsSchema, location="query")
    @blp.response(200, CentreSchema(many=True))
    @require(public=True)
    def get(self, args):
        """Service centres (those serving a community: its own and its street's)"""
        return centres.list_centres(region_public_id=args["region"])


@blp.route("/centres/<string:centre_id>")
class CentreById(MethodView):
    @blp.response(200, CentreSchema)
    @require(public=True)
    def get(self, centre_id: str):
        """A service centre with its booking rules"""
        return centres.get_centre(centre_id)


@blp.route("/centres/<string:centre_id>/windows")
class CentreWindows(MethodView):
    @blp.response(200, WindowSchema(many=True))
    @require(public=True)
    def get(self, centre_id: str):
        """A centre's windows: the items each serves and its weekly sessions"""
        return centres.list_windows(centres.get_centre(centre_id))


@blp.route("/centres/<string:centre_id>/categories")
class CentreCategories(MethodView):
    @blp.response(200, CategorySchema(many=True))
    @require(public=True)
    def get(self, centre_id: str):
        """A centre's guide categories with their numbers of published items"""
        return guides.list_categories(centre_id)


@blp.route("/guides")
class Guides(MethodView):
    @blp.arguments(GuideListArgsSchema, location="query")
    @blp.response(200, GuidePageSchema)
    @require(public=True)
    def get(self, args):
        """Search published guides (办事指南) by Chinese, full pinyin or initials

        `q=社保`, `q=shebao` and `q=sbk` all find 社保卡 items. Ordered by 事项编码 (cursor pagination).
        """
        return guides.search_guides(
            centre_public_id=args["centre"],
            category_public_id=args["category"],
            q=args["q"],
            online=args["online"],
            bookable=args["bookable"],
            cursor=args["cursor"],
            limit=args["limit"],
        )


@blp.route("/guides/<string:item_id>")
class GuideById(MethodView):
    @blp.response(200, GuideSchema)
    @require(public=True)
    def get(self, item_id: str):
        """A published guide with its materials, FAQ and the windows serving it (404 until published)"""
        return guides.published_guide(item_id)


@blp.route("/guides/<string:item_id>/availability")
class GuideAvailability(MethodView):
    @blp.arguments(AvailabilityArgsSchema, location="query")
    @blp.response(200, AvailabilitySchema)
    @require(public=True)
    def get(self, args, item_id: str):
        """Open slots of a bookable item, day by day, within the centre's booking window

        Each day says whether it is a working day, a holiday or a 调休 make-up working day. 409 `not_bookable`.
        """
        return availability.availability(item_id, args["start"], args["end"])


@blp.route("/bookings")
class Bookings(MethodView):
    @idempotent
    @blp.arguments(BookingCreateSchema)
    @blp.response(201, BookingSchema)
    @require()
    def post(self, data):
        """Book a window appointment (预约) for myself or, with `for_resident_id`, for a family member

        Booking for someone else needs their delegation covering `appointments` (403 `delegation_denied` when pending,
        expired or without that scope; 404 without any). 409 `slot_full`, `already_booked_that_day` (one active
        booking per person per item per day), `slot_closed`; 403 `booking_suspended` after repeated no-shows; 422
        `slot_not_offered`, `outside_booking_window`. Reminders follow the evening before and before the start.
        ---
        Internal: the place is taken by one upsert on the slot row (bookings._take_place).
        """
        booking = bookings.book(current_user(), **data)
        return booking_views.view(booking)

    @blp.arguments(BookingListArgsSchema, location="query")
    @blp.response(200, BookingPageSchema)
    @require()
    def get(self, args):
        """My bookings and those I made for family members, newest first (cursor pagination)"""
        return bookings.my_bookings(current_user(), status=args["status"], cursor=args["cursor"], limit=args["limit"])


#: Who else acts on a resident's booking (``acting_for`` with the ``appointments`` scope).
FAMILY = "a family member holding an appointments delegation (403 delegation_denied without that scope)"


@blp.route("/bookings/<string:booking_id>")
class BookingById(MethodView):
    @blp.response(200, BookingSchema)
    @scoped(also=f"the resident, whoever booked it, {FAMILY}, or desk staff of the centre")
    def get(self, booking_id: str):
        """A booking (its resident, whoever booked it, family with an appointments delegation, or desk staff of the
        centre; 404 for anyone else)"""
        return bookings.read(current_user(), booking_id)


@blp.route("/bookings/<string:booking_id>/cancel")
class BookingCancel(MethodView):
    @blp.arguments(CancelSchema)
    @blp.response(200, BookingSchema)
    @scoped(also=f"the resident or {FAMILY}")
    def post(self, data, booking_id: str):
        """Cancel my booking (or one I made with a delegation) before the centre's cut-off (409 `cutoff_passed`)"""
        return booking_views.view(bookings.cancel(current_user(), booking_id, reason=data["reason"]))


@blp.route("/bookings/<string:booking_id>/reschedule")
class BookingReschedule(MethodView):
    @blp.arguments(RescheduleSchema)
    @blp.response(200, BookingSchema)
    @scoped(also=f"the resident or {FAMILY}")
    def post(self, data, booking_id: str):
        """Move my booking to another slot of the same item, before the cut-off; the old place is released"""
        booking = bookings.reschedule(
            current_user(), booking_id, starts_at=data["starts_at"], window_id=data["window_id"]
        )
        return booking_views.view(booking)


@blp.route("/bookings/<string:booking_id>/check-in")
class BookingCheckIn(MethodView):
    @blp.response(200, BookingSchema)
    @scoped(also=f"the resident or {FAMILY}, on site; desk staff of the centre on the booking's day")
    def post(self, booking_id: str):
        """Check in on site and get a queue number (取号)

        The resident (or delegate) from the centre's `checkin_open_minutes` before the start until the slot ends;
        desk staff of the centre any time on the booking's day. Asking again returns the same number.
        """
        return desk.check_in(current_user(), booking_id)
