"""Staff endpoints (under ``/manage``): centres and their rules, windows and sessions, closures, guide drafts and
publishing, the desk (worklist, 代理预约, served, no-show, cancel) and suspensions.

Staff of the centre's community (or of a street or district above it) and platform admins; anyone else gets 404.
"""

from __future__ import annotations

from flask.views import MethodView

from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from govservice import booking_views, bookings, centres, desk, guide_editing, guides
from govservice.guide_schemas import (
    CategoryCreateSchema,
    CategorySchema,
    CategoryUpdateSchema,
    GuideContentSchema,
    GuideCreateSchema,
    StaffGuideListArgsSchema,
    StaffGuideRowSchema,
    StaffGuideSchema,
)
from govservice.permissions import DESK, MANAGE
from govservice.routes import blp
from govservice.schemas import (
    BookingSchema,
    CentreCreateSchema,
    CentreSchema,
    CentreUpdateSchema,
    ClosureCreateSchema,
    ClosureListArgsSchema,
    ClosureSchema,
    DeskListArgsSchema,
    ReasonSchema,
    StaffBookingCreateSchema,
    SuspensionListArgsSchema,
    SuspensionSchema,
    WindowCreateSchema,
    WindowSchema,
    WindowUpdateSchema,
)


@blp.route("/manage/centres")
class ManageCentres(MethodView):
    @blp.arguments(CentreCreateSchema)
    @blp.response(201, CentreSchema)
    @scoped(MANAGE)
    def post(self, data):
        """Create a service centre for a community or street, with its booking rules"""
        region = data.pop("region_id")
        return centres.create_centre(current_user(), region, data)


@blp.route("/manage/centres/<string:centre_id>")
class ManageCentre(MethodView):
    @blp.arguments(CentreUpdateSchema)
    @blp.response(200, CentreSchema)
    @scoped(MANAGE)
    def patch(self, data, centre_id: str):
        """Change a centre's details and booking rules (new bookings follow them; existing ones keep theirs)"""
        return centres.update_centre(current_user(), centre_id, data)


@blp.route("/manage/centres/<string:centre_id>/windows")
class ManageWindows(MethodView):
    @blp.arguments(WindowCreateSchema)
    @blp.response(201, WindowSchema)
    @scoped(MANAGE)
    def post(self, data, centre_id: str):
        """Add a window with the items it serves and its weekly sessions"""
        return centres.create_window(current_user(), centre_id, data)


@blp.route("/manage/windows/<string:window_id>")
class ManageWindow(MethodView):
    @blp.arguments(WindowUpdateSchema)
    @blp.response(200, WindowSchema)
    @scoped(MANAGE)
    def patch(self, data, window_id: str):
        """Change a window; `item_ids` and `sessions` replace the whole set

        Sessions say when the window opens: `workday_only` sessions follow working days (closed on statutory
        holidays; on a 调休 make-up Saturday the sessions of the centre's `makeup_weekday` open); other sessions
        (weekend, evening) open on their weekday unless it is a holiday, or always with `holiday_service`.
        """
        return centres.update_window(current_user(), window_id, data)


@blp.route("/manage/centres/<string:centre_id>/closures")
class ManageClosures(MethodView):
    @blp.arguments(ClosureListArgsSchema, location="query")
    @blp.response(200, ClosureSchema(many=True))
    @scoped(DESK)
    def get(self, args, centre_id: str):
        """Closures from a day on (today by default)"""
        return centres.list_closures(current_user(), centre_id, first=args["since"])

    @blp.arguments(ClosureCreateSchema)
    @blp.response(201, ClosureSchema)
    @scoped(MANAGE)
    def post(self, data, centre_id: str):
        """Close a window or the whole centre for a day or some hours

        Bookings it covers are cancelled at once and their residents told (`cancelled_bookings` counts them).
        """
        return centres.create_closure(current_user(), centre_id, data)


@blp.route("/manage/closures/<string:closure_id>")
class ManageClosure(MethodView):
    @blp.response(204)
    @scoped(MANAGE)
    def delete(self, closure_id: str):
        """Remove a closure: the slots open again (cancelled bookings stay cancelled)"""
        centres.delete_closure(current_user(), closure_id)


# --- guides --------------------------------------------------------------------------------------------------------


@blp.route("/manage/centres/<string:centre_id>/categories")
class ManageCategories(MethodView):
    @blp.arguments(CategoryCreateSchema)
    @blp.response(201, CategorySchema)
    @scoped(MANAGE)
    def post(self, data, centre_id: str):
        """Add a guide category"""
        return guides.create_category(current_user(), centre_id, data)


@blp.route("/manage/categories/<string:category_id>")
class ManageCategory(MethodView):
    @blp.arguments(CategoryUpdateSchema)
    @blp.response(200, CategorySchema)
    @scoped(MANAGE)
    def patch(self, data, category_id: str):
        """Rename or reorder a category"""
        return guides.update_category(current_user(), category_id, data)


@blp.route("/manage/centres/<string:centre_id>/guides")
class ManageGuides(MethodView):
    @blp.arguments(StaffGuideListArgsSchema, location="query")
    @blp.response(200, StaffGuideRowSchema(many=True))
    @blp.paginate()
    @scoped(MANAGE)
    def get(self, args, centre_id: str, pagination_parameters):
        """Every item of a centre, drafts included, with its publication state (page pagination)"""
        return guide_editing.staff_guides(
            current_user(), centre_id, q=args["q"], status=args["status"], pagination=pagination_parameters
        )

    @blp.arguments(GuideCreateSchema)
    @blp.response(201, StaffGuideSchema)
    @scoped(MANAGE)
    def post(self, data, centre_id: str):
        """Create an item with its first draft (not visible to residents until published)"""
        return guide_editing.create_guide(current_user(), centre_id, data)


@blp.route("/manage/guides/<string:item_id>")
class ManageGuide(MethodView):
    @blp.response(200, StaffGuideSchema)
    @scoped(MANAGE)
    def get(self, item_id: str):
        """An item's draft and published versions"""
        return guide_editing.staff_guide(current_user(), item_id)


@blp.route("/manage/guides/<string:item_id>/draft")
class ManageGuideDraft(MethodView):
    @blp.arguments(GuideContentSchema)
    @blp.response(200, StaffGuideSchema)
    @scoped(MANAGE)
    def patch(self, data, item_id: str):
        """Edit the draft (made from the published version if there is none); residents keep reading the published
        one"""
        return guide_editing.edit_draft(current_user(), item_id, data)

    @blp.response(204)
    @scoped(MANAGE)
    def delete(self, item_id: str):
        """Discard the draft"""
        guide_editing.discard_draft(current_user(), item_id)


@blp.route("/manage/guides/<string:item_id>/publish")
class ManageGuidePublish(MethodView):
    @blp.response(200, StaffGuideSchema)
    @scoped(MANAGE)
    def post(self, item_id: str):
        """Publish the draft (the previous publication is retired); 409 `no_draft`"""
        return guide_editing.publish(current_user(), item_id)


@blp.route("/manage/guides/<string:item_id>/unpublish")
class ManageGuideUnpublish(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, StaffGuideSchema)
    @scoped(MANAGE)
    def post(self, data, item_id: str):
        """Withdraw the published version (residents no longer see it; bookings made stay)"""
        return guide_editing.unpublish(current_user(), item_id, data["reason"])


# --- the desk ------------------------------------------------------------------------------------------------------


@blp.route("/manage/centres/<string:centre_id>/bookings")
class DeskBookings(MethodView):
    @blp.arguments(DeskListArgsSchema, location="query")
    @blp.response(200, BookingSchema(many=True))
    @blp.paginate()
    @scoped(DESK)
    def get(self, args, centre_id: str, pagination_parameters):
        """The day's bookings of a centre (today by default), by start time (page pagination with totals)"""
        return desk.worklist(
            current_user(),
            centre_id,
            day=args["day"],
            window_id=args["window_id"],
            status=args["status"],
            pagination=pagination_parameters,
        )

    @idempotent
    @blp.arguments(StaffBookingCreateSchema)
    @blp.response(201, BookingSchema)
    @scoped(DESK, also="only for a resident the staff member may act for (resident.act_for)")
    def post(self, data, centre_id: str):
        """Book for a walk-in or phone caller (代理预约), with a reason recorded with actor and subject

        Staff may book from today, whatever the centre's earliest bookable day; the other rules apply.
        """
        booking = bookings.book(
            current_user(),
            item_id=data["item_id"],
            window_id=data["window_id"],
            starts_at=data["starts_at"],
            for_resident_id=data["resident_id"],
            staff_reason=data["reason"],
            staff_centre_id=centre_id,
        )
        return booking_views.view(booking, staff=True)


@blp.route("/manage/bookings/<string:booking_id>/served")
class DeskServed(MethodView):
    @blp.response(200, BookingSchema)
    @scoped(DESK)
    def post(self, booking_id: str):
        """Mark a checked-in booking served (办结)"""
        return desk.mark_served(current_user(), booking_id)


@blp.route("/manage/bookings/<string:booking_id>/no-show")
class DeskNoShow(MethodView):
    @blp.response(200, BookingSchema)
    @scoped(DESK)
    def post(self, booking_id: str):
        """Mark a booking a no-show (爽约) after its start

        The centre's `noshow_limit` no-shows within `noshow_window_days` suspend booking there for
        `suspension_days` (3 in 90 days → 30 days by default).
        """
        return desk.mark_no_show(current_user(), booking_id)


@blp.route("/manage/bookings/<string:booking_id>/cancel")
class DeskCancel(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, BookingSchema)
    @scoped(DESK)
    def post(self, data, booking_id: str):
        """Cancel a booking at the desk with a reason (the resident is told)"""
        return booking_views.view(bookings.staff_cancel(current_user(), booking_id, reason=data["reason"]), staff=True)


@blp.route("/manage/centres/<string:centre_id>/suspensions")
class DeskSuspensions(MethodView):
    @blp.arguments(SuspensionListArgsSchema, location="query")
    @blp.response(200, SuspensionSchema(many=True))
    @blp.paginate()
    @scoped(DESK)
    def get(self, args, centre_id: str, pagination_parameters):
        """Residents whose booking is suspended after no-shows (active ones by default)"""
        return desk.suspensions(current_user(), centre_id, active_only=args["active"], pagination=pagination_parameters)


@blp.route("/manage/suspensions/<string:suspension_id>/lift")
class DeskLiftSuspension(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, SuspensionSchema)
    @scoped(DESK)
    def post(self, data, suspension_id: str):
        """Lift a suspension early, with a reason"""
        return desk.lift(current_user(), suspension_id, reason=data["reason"])
