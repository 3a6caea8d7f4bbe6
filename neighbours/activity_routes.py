"""Activity endpoints: residents list, read, sign up and cancel (or a delegate for an elder), volunteer hours; staff
create, publish, cancel, check in and out, and the volunteer ranking."""

from __future__ import annotations

from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from neighbours import activities, blp
from neighbours.activity_schemas import (
    ActivityCheckOutSchema,
    ActivityCreateSchema,
    ActivityHoursArgsSchema,
    ActivityHoursSchema,
    ActivityListArgsSchema,
    ActivityPageSchema,
    ActivityRankingArgsSchema,
    ActivityRankingSchema,
    ActivitySchema,
    ActivitySignupCancelArgsSchema,
    ActivitySignupCreateSchema,
    ActivitySignupPageSchema,
    ActivitySignupSchema,
    ActivityStaffListArgsSchema,
)

_RESIDENT = "a resident with an active membership in the activity's community"
_SIGNER = _RESIDENT + ", or a delegate of one (scope `activities`) naming `resident_id`"


@blp.route("/activities")
class Activities(MethodView):
    @blp.arguments(ActivityListArgsSchema, location="query")
    @blp.response(200, ActivityPageSchema)
    @scoped(also=_RESIDENT)
    def get(self, args):
        """Upcoming activities of my community (soonest first), with my sign-ups"""
        return activities.list_upcoming(
            current_user(), community_id=args["community_id"], cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/activities/<string:activity_id>")
class ActivityById(MethodView):
    @blp.response(200, ActivitySchema)
    @scoped(also=_RESIDENT)
    def get(self, activity_id: str):
        """Read an activity (drafts and other communities' activities: 404)"""
        return activities.get_activity(current_user(), activity_id)


@blp.route("/activities/<string:activity_id>/signup")
class ActivitySignup(MethodView):
    @blp.arguments(ActivitySignupCreateSchema)
    @blp.response(201, ActivitySignupSchema)
    @scoped(also=_SIGNER)
    def post(self, data, activity_id: str):
        """Sign up (报名), for myself or for an elder I act for

        Confirmed while places are left, otherwise waitlisted in order (`waitlist_position`). 409
        `activity_signup_closed` after the deadline, `activity_already_signed_up`, `activity_not_open`.
        """
        return activities.sign_up(current_user(), activity_id, data["resident_id"])

    @blp.arguments(ActivitySignupCancelArgsSchema, location="query")
    @blp.response(200, ActivitySignupSchema)
    @scoped(also=_SIGNER)
    def delete(self, args, activity_id: str):
        """Cancel a sign-up; a freed place goes to the first on the waitlist, who is told"""
        return activities.cancel_signup(current_user(), activity_id, args["resident_id"])


@blp.route("/volunteer-hours")
class VolunteerHours(MethodView):
    @blp.arguments(ActivityHoursArgsSchema, location="query")
    @blp.response(200, ActivityHoursSchema)
    @scoped(also="the volunteer themself, or a delegate (scope `activities`) naming `resident_id`")
    def get(self, args):
        """My volunteer hours (志愿服务时长): total minutes and history, latest first"""
        return activities.volunteer_hours(
            current_user(), args["resident_id"], cursor=args["cursor"], limit=args["limit"]
        )


# --- staff ---------------------------------------------------------------------------------------------------------


@blp.route("/manage/activities")
class ManagedActivities(MethodView):
    @idempotent
    @blp.arguments(ActivityCreateSchema)
    @blp.response(201, ActivitySchema)
    @scoped("activities.manage")
    def post(self, data):
        """Create an activity (a draft, or published at once with `publish`)

        422 `activity_invalid` when it ends before it starts, the deadline is after the start, or it starts in the
        past.
        """
        return activities.create_activity(current_user(), data)

    @blp.arguments(ActivityStaffListArgsSchema, location="query")
    @blp.response(200, ActivityPageSchema)
    @scoped("activities.read")
    def get(self, args):
        """A community's activities (all states), latest start first"""
        return activities.staff_list_activities(
            current_user(), args["community_id"], cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/manage/activities/<string:activity_id>")
class ManagedActivityById(MethodView):
    @blp.response(200, ActivitySchema)
    @scoped("activities.read")
    def get(self, activity_id: str):
        """Read an activity with its counts"""
        return activities.staff_get_activity(current_user(), activity_id)


@blp.route("/manage/activities/<string:activity_id>/publish")
class ManagedActivityPublish(MethodView):
    @blp.response(200, ActivitySchema)
    @scoped("activities.manage")
    def post(self, activity_id: str):
        """Publish a draft (residents see it and may sign up)"""
        return activities.publish_activity(current_user(), activity_id)


@blp.route("/manage/activities/<string:activity_id>/cancel")
class ManagedActivityCancel(MethodView):
    @blp.response(200, ActivitySchema)
    @scoped("activities.manage")
    def post(self, activity_id: str):
        """Call an activity off (everyone signed up is told; no reminders go out)"""
        return activities.cancel_activity(current_user(), activity_id)


@blp.route("/manage/activities/<string:activity_id>/signups")
class ManagedActivitySignups(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, ActivitySignupPageSchema)
    @scoped("activities.read")
    def get(self, args, activity_id: str):
        """Open sign-ups in queue order (confirmed, then the waitlist), for check-in"""
        return activities.staff_signups(current_user(), activity_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/manage/activities/<string:activity_id>/signups/<string:signup_id>/check-in")
class ManagedActivityCheckIn(MethodView):
    @blp.response(200, ActivitySignupSchema)
    @scoped("activities.manage")
    def post(self, activity_id: str, signup_id: str):
        """Check a confirmed participant in (签到)"""
        return activities.check_in(current_user(), activity_id, signup_id)


@blp.route("/manage/activities/<string:activity_id>/signups/<string:signup_id>/check-out")
class ManagedActivityCheckOut(MethodView):
    @blp.arguments(ActivityCheckOutSchema)
    @blp.response(200, ActivitySignupSchema)
    @scoped("activities.manage")
    def post(self, data, activity_id: str, signup_id: str):
        """Check a volunteer out (签退): minutes served as entered, or from check-in to now"""
        return activities.check_out(current_user(), activity_id, signup_id, data["minutes"])


@blp.route("/manage/volunteer-ranking")
class ManagedVolunteerRanking(MethodView):
    @blp.arguments(ActivityRankingArgsSchema, location="query")
    @blp.response(200, ActivityRankingSchema(many=True))
    @blp.paginate()
    @scoped("activities.read")
    def get(self, args, pagination_parameters):
        """Volunteers of a region by total minutes served (page numbers; `X-Pagination` header)"""
        return activities.volunteer_ranking(current_user(), args["region_id"], pagination_parameters)
