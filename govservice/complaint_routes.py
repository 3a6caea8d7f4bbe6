"""Complaint and suggestion endpoints (诉求): residents submit and follow theirs; staff, departments and grid
workers work them (under ``/manage``); staff issue Open311 api keys. The Open311 reads and writes are in
``govservice.open311``."""

from __future__ import annotations

from flask.views import MethodView

from app.auth import current_user, require
from app.auth.scopes import scoped
from app.community.services import get_community
from app.idempotency import idempotent
from app.ratelimit import limit_from_setting
from govservice import complaint_views, complaints, open311
from govservice.complaint_schemas import (
    ComplaintCategoryCreateSchema,
    ComplaintCategoryListArgsSchema,
    ComplaintCategorySchema,
    ComplaintCategoryUpdateSchema,
    ComplaintConfirmSchema,
    ComplaintCreateSchema,
    ComplaintDetailSchema,
    ComplaintDispatchSchema,
    ComplaintNoteSchema,
    ComplaintPageSchema,
    ComplaintRejectSchema,
    ComplaintReopenSchema,
    ComplaintReplySchema,
    ComplaintSchema,
    ComplaintWorklistArgsSchema,
    MyComplaintArgsSchema,
    Open311ClientCreatedSchema,
    Open311ClientCreateSchema,
    Open311ClientSchema,
)
from govservice.routes import blp

AUTHOR = "the resident who submitted it (404 for anyone else)"


@blp.route("/complaint-categories")
class ComplaintCategories(MethodView):
    @blp.arguments(ComplaintCategoryListArgsSchema, location="query")
    @blp.response(200, ComplaintCategorySchema(many=True))
    @require(public=True)
    def get(self, args):
        """Complaint categories a community's residents may choose (its own and its street's and district's)"""
        return complaints.categories_for_community(get_community(args["community_id"]))


@blp.route("/complaints")
class Complaints(MethodView):
    @idempotent
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintDetailSchema)
    @require()
    @limit_from_setting("GOVSERVICE_COMPLAINT_RATE_LIMIT")
    def post(self, data):
        """Submit a complaint or suggestion (诉求) in a community I live in, with up to 6 photos (my private uploads)

        422 `not_a_community_member` outside my communities; 404 `complaint_category_not_found`; past
        `GOVSERVICE_COMPLAINT_RATE_LIMIT` per account, 429 `rate_limited`.
        """
        user = current_user()
        return complaint_views.detail(complaints.submit(user, data), staff=False, user=user)

    @blp.arguments(MyComplaintArgsSchema, location="query")
    @blp.response(200, ComplaintPageSchema)
    @require()
    def get(self, args):
        """My complaints, newest first (cursor pagination)"""
        page = complaints.my_complaints(current_user(), cursor=args["cursor"], limit=args["limit"])
        return {**page, "items": complaint_views.views(page["items"])}


@blp.route("/complaints/<string:complaint_id>")
class ComplaintById(MethodView):
    @blp.response(200, ComplaintDetailSchema)
    @scoped(also=AUTHOR)
    def get(self, complaint_id: str):
        """My complaint with its history and the answer"""
        user = current_user()
        return complaint_views.detail(complaints.mine(user, complaint_id), staff=False, user=user)


@blp.route("/complaints/<string:complaint_id>/confirm")
class ComplaintConfirm(MethodView):
    @blp.arguments(ComplaintConfirmSchema)
    @blp.response(200, ComplaintSchema)
    @scoped(also=AUTHOR)
    def post(self, data, complaint_id: str):
        """Accept the answer and rate it (满意度 1–5); the complaint is resolved (409 unless answered)"""
        row = complaints.confirm(current_user(), complaint_id, rating=data.get("rating"), comment=data.get("comment"))
        return complaint_views.views([row])[0]


@blp.route("/complaints/<string:complaint_id>/reopen")
class ComplaintReopen(MethodView):
    @blp.arguments(ComplaintReopenSchema)
    @blp.response(200, ComplaintSchema)
    @scoped(also=AUTHOR)
    def post(self, data, complaint_id: str):
        """Not solved: send it back to whoever answered, with a fresh time limit (counted as a reopen)"""
        return complaint_views.views([complaints.reopen(current_user(), complaint_id, reason=data["reason"])])[0]


# --- staff ---------------------------------------------------------------------------------------------------------


@blp.route("/manage/regions/<string:region_id>/complaint-categories")
class ManageComplaintCategories(MethodView):
    @blp.arguments(ComplaintCategoryCreateSchema)
    @blp.response(201, ComplaintCategorySchema)
    @scoped(complaints.MANAGE)
    def post(self, data, region_id: str):
        """Create a complaint category with its time limit (working days) for every community of the region"""
        return complaints.create_category(current_user(), region_id, data)


@blp.route("/manage/complaint-categories/<string:category_id>")
class ManageComplaintCategory(MethodView):
    @blp.arguments(ComplaintCategoryUpdateSchema)
    @blp.response(200, ComplaintCategorySchema)
    @scoped(complaints.MANAGE)
    def patch(self, data, category_id: str):
        """Edit a category (its code stays); `active: false` hides it from new complaints"""
        return complaints.update_category(current_user(), category_id, data)


@blp.route("/manage/complaints")
class ManageComplaints(MethodView):
    @blp.arguments(ComplaintWorklistArgsSchema, location="query")
    @blp.response(200, ComplaintSchema(many=True))
    @blp.paginate()
    @scoped(complaints.READ, also="department handlers (their department's) and grid workers (dispatched to them)")
    def get(self, args, pagination_parameters):
        """The complaint worklist, oldest first: filter by status, community, category, department, overdue, escalated

        Staff and grid workers see their region's; department handlers what was dispatched to their department.
        """
        rows = complaints.worklist(current_user(), pagination=pagination_parameters, **args)
        return complaint_views.views(rows)


@blp.route("/manage/complaints/<string:complaint_id>")
class ManageComplaint(MethodView):
    @blp.response(200, ComplaintDetailSchema)
    @scoped(complaints.READ, also="the department or grid worker it was dispatched to")
    def get(self, complaint_id: str):
        """A complaint with its history, photos and whom to call back (masked phone)"""
        user = current_user()
        return complaint_views.detail(complaints.staff_read(user, complaint_id), staff=True, user=user)


@blp.route("/manage/complaints/<string:complaint_id>/accept")
class ManageComplaintAccept(MethodView):
    @blp.arguments(ComplaintNoteSchema)
    @blp.response(200, ComplaintSchema)
    @scoped(complaints.MANAGE)
    def post(self, data, complaint_id: str):
        """受理: the category's time limit starts (from the next working day)"""
        return complaint_views.views([complaints.accept(current_user(), complaint_id, note=data.get("note"))])[0]


@blp.route("/manage/complaints/<string:complaint_id>/reject")
class ManageComplaintReject(MethodView):
    @blp.arguments(ComplaintRejectSchema)
    @blp.response(200, ComplaintSchema)
    @scoped(complaints.MANAGE)
    def post(self, data, complaint_id: str):
        """不予受理 with a reason the resident sees"""
        return complaint_views.views([complaints.reject(current_user(), complaint_id, reason=data["reason"])])[0]


@blp.route("/manage/complaints/<string:complaint_id>/dispatch")
class ManageComplaintDispatch(MethodView):
    @blp.arguments(ComplaintDispatchSchema)
    @blp.response(200, ComplaintSchema)
    @scoped(complaints.MANAGE)
    def post(self, data, complaint_id: str):
        """转办 to a department of the community or above, or to a grid worker of the community (accepts it too)"""
        row = complaints.dispatch(
            current_user(),
            complaint_id,
            department_id=data.get("department_id"),
            grid_worker_id=data.get("grid_worker_id"),
            note=data.get("note"),
        )
        return complaint_views.views([row])[0]


@blp.route("/manage/complaints/<string:complaint_id>/reply")
class ManageComplaintReply(MethodView):
    @blp.arguments(ComplaintReplySchema)
    @blp.response(200, ComplaintSchema)
    @scoped(complaints.REPLY, also="the grid worker it was dispatched to")
    def post(self, data, complaint_id: str):
        """Answer the resident (the department or grid worker it went to, or staff); they confirm or reopen"""
        return complaint_views.views([complaints.reply(current_user(), complaint_id, text=data["text"])])[0]


@blp.route("/manage/open311-clients")
class ManageOpen311Clients(MethodView):
    @blp.response(200, Open311ClientSchema(many=True))
    @scoped(complaints.MANAGE)
    def get(self):
        """Open311 clients issued for my regions"""
        return open311.list_clients(current_user())

    @blp.arguments(Open311ClientCreateSchema)
    @blp.response(201, Open311ClientCreatedSchema)
    @scoped(complaints.MANAGE)
    def post(self, data):
        """Issue an Open311 api key for a system posting into a region's communities (shown once)"""
        client, key = open311.create_client(current_user(), data["region_id"], data["name"])
        client.api_key = key  # shown in this answer only; never stored
        return client


@blp.route("/manage/open311-clients/<string:client_id>/revoke")
class ManageOpen311ClientRevoke(MethodView):
    @blp.response(200, Open311ClientSchema)
    @scoped(complaints.MANAGE)
    def post(self, client_id: str):
        """Revoke an Open311 api key (its requests stay)"""
        return open311.revoke_client(current_user(), client_id)
