"""Endpoints of departments (staff, under ``/manage/departments``) and online applications (办件)."""

from __future__ import annotations

from flask.views import MethodView

from app.auth import current_user, require
from app.auth.scopes import scoped
from app.idempotency import idempotent
from govservice import (
    applications,
    applications_staff,
    applications_views,
    applications_worklists,
    departments,
    statistics,
)
from govservice.application_schemas import (
    ApplicationCorrectionRequestSchema,
    ApplicationCorrectionSupplySchema,
    ApplicationCreateSchema,
    ApplicationDecisionSchema,
    ApplicationDetailSchema,
    ApplicationFormArgsSchema,
    ApplicationFormSchema,
    ApplicationNoteSchema,
    ApplicationPageSchema,
    ApplicationRatingCreateSchema,
    ApplicationRatingSchema,
    ApplicationReasonSchema,
    ApplicationSchema,
    ApplicationStaffStatisticsArgsSchema,
    ApplicationStatisticsArgsSchema,
    ApplicationStatisticsSchema,
    ApplicationWithdrawSchema,
    CentreWorklistArgsSchema,
    DepartmentCreateSchema,
    DepartmentListArgsSchema,
    DepartmentMemberCreateSchema,
    DepartmentMemberDeleteArgsSchema,
    DepartmentMemberSchema,
    DepartmentSchema,
    DepartmentUpdateSchema,
    DepartmentWorklistArgsSchema,
    ItemRoutingSchema,
    ItemRoutingUpdateSchema,
    MyApplicationsArgsSchema,
)
from govservice.permissions import APPLICATION_REVIEW, APPLICATION_SPECIAL, APPLICATION_STATS, MANAGE
from govservice.routes import blp

# --- departments ---------------------------------------------------------------------------------------------------


@blp.route("/manage/departments")
class ManageDepartments(MethodView):
    @blp.arguments(DepartmentListArgsSchema, location="query")
    @blp.response(200, DepartmentSchema(many=True))
    @blp.paginate()
    @scoped(departments.READ)
    def get(self, args, pagination_parameters):
        """Departments the caller may see: those of their regions, or those they work in (page pagination)"""
        return departments.list_departments(
            current_user(), region_public_id=args["region"], pagination=pagination_parameters
        )

    @blp.arguments(DepartmentCreateSchema)
    @blp.response(201, DepartmentSchema)
    @scoped(departments.MANAGE)
    def post(self, data):
        """Create a department of a district, street or community (staff of that region or above)"""
        region = data.pop("region_id")
        return departments.create_department(current_user(), region, data)


@blp.route("/manage/departments/<string:department_id>")
class ManageDepartment(MethodView):
    @blp.response(200, DepartmentSchema)
    @scoped(departments.READ)
    def get(self, department_id: str):
        """A department"""
        return departments.department_for(current_user(), department_id, departments.READ)

    @blp.arguments(DepartmentUpdateSchema)
    @blp.response(200, DepartmentSchema)
    @scoped(departments.MANAGE)
    def patch(self, data, department_id: str):
        """Rename, recode, change the phone, or deactivate a department (inactive ones take no new work)"""
        return departments.update_department(current_user(), department_id, data)

    @blp.response(204)
    @scoped(departments.MANAGE)
    def delete(self, department_id: str):
        """Delete a department nothing was routed to yet; 409 `department_in_use` otherwise (deactivate it)"""
        departments.delete_department(current_user(), department_id)


@blp.route("/manage/departments/<string:department_id>/members")
class ManageDepartmentMembers(MethodView):
    @blp.response(200, DepartmentMemberSchema(many=True))
    @scoped(departments.READ)
    def get(self, department_id: str):
        """Who handles the department's work (handler 经办人, head 部门负责人)"""
        return departments.list_members(current_user(), department_id)

    @blp.arguments(DepartmentMemberCreateSchema)
    @blp.response(201, DepartmentMemberSchema)
    @scoped(departments.MANAGE)
    def post(self, data, department_id: str):
        """Give an account a role in the department (idempotent)"""
        return departments.add_member(current_user(), department_id, user_public_id=data["user_id"], role=data["role"])


@blp.route("/manage/departments/<string:department_id>/members/<string:user_id>")
class ManageDepartmentMember(MethodView):
    @blp.arguments(DepartmentMemberDeleteArgsSchema, location="query")
    @blp.response(204)
    @scoped(departments.MANAGE)
    def delete(self, args, department_id: str, user_id: str):
        """Take a role in the department away from an account"""
        departments.remove_member(current_user(), department_id, user_public_id=user_id, role=args["role"])


# --- applications: residents -----------------------------------------------------------------------------------------


@blp.route("/guides/<string:item_id>/application-form")
class ApplicationForm(MethodView):
    @blp.arguments(ApplicationFormArgsSchema, location="query")
    @blp.response(200, ApplicationFormSchema)
    @scoped(also="the resident, or a family member holding an applications delegation (for_resident_id)")
    def get(self, args, item_id: str):
        """The application form of an online-able item, prefilled from the profile

        Each material says where it would come from: `profile` (held in the profile), `reused` (the file of an
        earlier accepted application is referenced) or `upload` (upload a private file with `POST /api/v1/files`).
        """
        return applications.application_form(current_user(), item_id, args["for_resident_id"])


@blp.route("/applications")
class Applications(MethodView):
    @blp.arguments(MyApplicationsArgsSchema, location="query")
    @blp.response(200, ApplicationPageSchema)
    @require()
    def get(self, args):
        """My applications and those I submitted for family members, newest first (cursor pages)"""
        page = applications.my_applications(
            current_user(), status=args["status"], cursor=args["cursor"], limit=args["limit"]
        )
        return {"items": applications_views.views(page["items"]), "next_cursor": page["next_cursor"]}

    @idempotent
    @blp.arguments(ApplicationCreateSchema)
    @blp.response(201, ApplicationDetailSchema)
    @scoped(also="the resident, or a family member holding an applications delegation (for_resident_id)")
    def post(self, data):
        """Apply online (网上申办); the application waits for 预审 (待预审)

        Materials the profile or an earlier accepted application supplies need no upload; a required material
        supplied by neither is 422 `materials_missing` (listed in `details.materials`).
        """
        application = applications.submit(
            current_user(),
            item_id=data["item_id"],
            for_resident_id=data["for_resident_id"],
            form=data["form"],
            materials=data["materials"],
        )
        return applications_views.view(application)


@blp.route("/applications/<string:application_id>")
class ApplicationById(MethodView):
    @blp.response(200, ApplicationDetailSchema)
    @scoped(also="the applicant, their delegates, centre staff, handlers of a department it was routed to")
    def get(self, application_id: str):
        """An application: state, term (remaining or overdue working days), materials, departments, history"""
        application, staff = applications.read(current_user(), application_id)
        return applications_views.view(application, staff=staff)


@blp.route("/applications/<string:application_id>/withdraw")
class ApplicationWithdraw(MethodView):
    @blp.arguments(ApplicationWithdrawSchema)
    @blp.response(200, ApplicationDetailSchema)
    @scoped(also="the applicant or their delegate; only while 待预审 (else 409 invalid_transition)")
    def post(self, data, application_id: str):
        """Withdraw an application still waiting for 预审 (撤回)"""
        return applications_views.view(applications.withdraw(current_user(), application_id, reason=data["reason"]))


@blp.route("/applications/<string:application_id>/correction")
class ApplicationCorrection(MethodView):
    @blp.arguments(ApplicationCorrectionSupplySchema)
    @blp.response(200, ApplicationDetailSchema)
    @scoped(also="the applicant or their delegate; only while 待补正")
    def post(self, data, application_id: str):
        """Supply the materials a 补正 asked for; the application is 受理 again and its clock runs on"""
        application = applications.supply_correction(
            current_user(), application_id, materials=data["materials"], note=data["note"]
        )
        return applications_views.view(application)


@blp.route("/applications/<string:application_id>/rating")
class ApplicationRatingView(MethodView):
    @blp.arguments(ApplicationRatingCreateSchema)
    @blp.response(201, ApplicationRatingSchema)
    @scoped(also="the applicant or their delegate; after 办结, once (409 already_rated)")
    def post(self, data, application_id: str):
        """Rate a finished application (好差评): 1 非常不满意 … 5 非常满意, with a comment"""
        return applications.rate(current_user(), application_id, score=data["score"], comment=data["comment"])


@blp.route("/centres/<string:centre_id>/application-stats")
class CentreApplicationSummary(MethodView):
    @blp.arguments(ApplicationStatisticsArgsSchema, location="query")
    @blp.response(200, ApplicationStatisticsSchema)
    @require(public=True)
    def get(self, args, centre_id: str):
        """A centre's public summary of online applications (aggregates only, no personal data)"""
        return statistics.public_summary(centre_id, start=args["start"], end=args["end"])


# --- applications: staff -------------------------------------------------------------------------------------------


@blp.route("/manage/centres/<string:centre_id>/applications")
class ManageCentreApplications(MethodView):
    @blp.arguments(CentreWorklistArgsSchema, location="query")
    @blp.response(200, ApplicationSchema(many=True))
    @blp.paginate()
    @scoped(APPLICATION_REVIEW)
    def get(self, args, centre_id: str, pagination_parameters):
        """A centre's applications in one queue (page pagination with totals)

        Queues: `pending_review` 待预审, `awaiting_acceptance` 待受理, `correction` 待补正, `accepted`, `processing`
        部门办理, `special` 特别程序, `due_soon` 即将超期 (running, due within GOVSERVICE_DUE_SOON_WORKDAYS working
        days), `overdue` 已超期 (running, past the due day), `closed`, `all`.
        """
        return applications_worklists.centre_worklist(
            current_user(), centre_id, queue=args["queue"], item_id=args["item_id"], pagination=pagination_parameters
        )


@blp.route("/manage/centres/<string:centre_id>/application-stats")
class ManageCentreStatistics(MethodView):
    @blp.arguments(ApplicationStaffStatisticsArgsSchema, location="query")
    @blp.response(200, ApplicationStatisticsSchema)
    @scoped(APPLICATION_STATS)
    def get(self, args, centre_id: str):
        """Statistics of a centre's applications per item and period, each rate with numerator and denominator"""
        return statistics.staff_statistics(
            current_user(), centre_id, start=args["start"], end=args["end"], item_id=args["item_id"]
        )


@blp.route("/manage/departments/<string:department_id>/applications")
class ManageDepartmentApplications(MethodView):
    @blp.arguments(DepartmentWorklistArgsSchema, location="query")
    @blp.response(200, ApplicationSchema(many=True))
    @blp.paginate()
    @scoped(departments.READ)
    def get(self, args, department_id: str, pagination_parameters):
        """Applications routed to a department: `active` (its turn), `waiting`, `done`, `all` (page pagination)"""
        return applications_worklists.department_worklist(
            current_user(), department_id, queue=args["queue"], pagination=pagination_parameters
        )


@blp.route("/manage/guides/<string:item_id>/routing")
class ManageItemRouting(MethodView):
    @blp.response(200, ItemRoutingSchema)
    @scoped(MANAGE)
    def get(self, item_id: str):
        """The departments an item's accepted applications go to, and how (parallel or serial)"""
        return applications_staff.get_routing(current_user(), item_id)

    @blp.arguments(ItemRoutingUpdateSchema)
    @blp.response(200, ItemRoutingSchema)
    @scoped(MANAGE)
    def put(self, data, item_id: str):
        """Set an item's routing: departments of the centre's region or a region above, in order"""
        return applications_staff.set_routing(
            current_user(), item_id, mode=data["mode"], department_ids=data["department_ids"]
        )


def _staff_action(path: str, name: str, schema, doc: str, action: str, call):
    """One view class per staff action on an application (``POST /manage/applications/{id}/<path>``)."""

    def post(self, data, application_id: str):
        return applications_views.view(call(current_user(), application_id, data), staff=True)

    post.__doc__ = doc
    view = type(name, (MethodView,), {"post": post})
    view.post = blp.arguments(schema)(blp.response(200, ApplicationDetailSchema)(scoped(action)(post)))
    blp.route(f"/manage/applications/<string:application_id>/{path}")(view)
    return view


STAFF_ACTIONS = (
    (
        "pass-review",
        "ApplicationPassReview",
        ApplicationNoteSchema,
        "预审通过: the application waits for acceptance (待受理)",
        APPLICATION_REVIEW,
        lambda u, i, d: applications_staff.pass_review(u, i, note=d["note"]),
    ),
    (
        "return",
        "ApplicationReturn",
        ApplicationReasonSchema,
        "预审退回 with a reason (only while 待预审)",
        APPLICATION_REVIEW,
        lambda u, i, d: applications_staff.return_application(u, i, reason=d["reason"]),
    ),
    (
        "accept",
        "ApplicationAccept",
        ApplicationNoteSchema,
        "受理: the promised term (承诺期限) counts working days from the next day",
        APPLICATION_REVIEW,
        lambda u, i, d: applications_staff.accept(u, i, note=d["note"]),
    ),
    (
        "refuse",
        "ApplicationRefuse",
        ApplicationReasonSchema,
        "不予受理 with a reason",
        APPLICATION_REVIEW,
        lambda u, i, d: applications_staff.refuse(u, i, reason=d["reason"]),
    ),
    (
        "request-correction",
        "ApplicationRequestCorrection",
        ApplicationCorrectionRequestSchema,
        "补正: list the materials to supply; the clock pauses until the resident supplies them",
        APPLICATION_REVIEW,
        lambda u, i, d: applications_staff.request_correction(u, i, reason=d["reason"], material_codes=d["materials"]),
    ),
    (
        "dispatch",
        "ApplicationDispatch",
        ApplicationNoteSchema,
        "部门办理: send to the item's departments (parallel: all at once; serial: the first in order)",
        APPLICATION_REVIEW,
        lambda u, i, d: applications_staff.dispatch(u, i, note=d["note"]),
    ),
    (
        "special",
        "ApplicationStartSpecial",
        ApplicationReasonSchema,
        "特别程序 starts: the clock pauses",
        APPLICATION_SPECIAL,
        lambda u, i, d: applications_staff.start_special(u, i, reason=d["reason"]),
    ),
    (
        "special/end",
        "ApplicationEndSpecial",
        ApplicationNoteSchema,
        "特别程序 ends: back to where it was, the clock runs on",
        APPLICATION_SPECIAL,
        lambda u, i, d: applications_staff.end_special(u, i, note=d["note"]),
    ),
    (
        "complete",
        "ApplicationComplete",
        ApplicationDecisionSchema,
        "办结 by centre staff for an item without departments (409 routing_configured otherwise)",
        APPLICATION_REVIEW,
        lambda u, i, d: applications_staff.complete(u, i, outcome=d["outcome"], result=d["result"]),
    ),
)
for _path, _name, _schema, _doc, _action, _call in STAFF_ACTIONS:
    _staff_action(_path, _name, _schema, _doc, _action, _call)


@blp.route("/manage/applications/<string:application_id>/departments/<string:department_id>/decide")
class ApplicationDepartmentDecide(MethodView):
    @blp.arguments(ApplicationDecisionSchema)
    @blp.response(200, ApplicationDetailSchema)
    @scoped(departments.HANDLE)
    def post(self, data, application_id: str, department_id: str):
        """A department's decision on its part (approved / denied, with the result)

        Parallel routing: 办结 once every department approved; the first denial denies at once. Serial: an
        approval passes it to the next department; the last approval completes it. 409 `task_not_active` when the
        department has nothing active on it.
        """
        application = applications_staff.decide_task(
            current_user(), application_id, department_id, outcome=data["outcome"], result=data["result"]
        )
        return applications_views.view(application, staff=True)
