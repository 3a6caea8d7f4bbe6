"""Notice endpoints: staff preview, draft, publish, pin, withdraw, list, read statistics, export the follow-up list
and remind the unread once; residents read their feed and open notices sent to them."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from app.api import CursorArgsSchema, links
from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from notices import blp, feed, followup, services
from notices.schemas import (
    AudiencePreviewArgsSchema,
    AudiencePreviewSchema,
    NoticeCreateSchema,
    NoticeFeedArgsSchema,
    NoticePageSchema,
    NoticePinSchema,
    NoticePublishSchema,
    NoticeQueryArgsSchema,
    NoticeSchema,
    NoticeStatsSchema,
    NoticeUpdateSchema,
    NoticeWithdrawSchema,
    ReminderSchema,
    UnreadResidentPageSchema,
)


@blp.route("")
class Notices(MethodView):
    @idempotent
    @blp.arguments(NoticeCreateSchema)
    @blp.response(201, NoticeSchema)
    @blp.doc(
        **links(
            201,
            GetNotice=("get", "/api/v1/notices/{notice_id}", {"notice_id": "$response.body#/id"}),
            EditNotice=("patch", "/api/v1/notices/{notice_id}", {"notice_id": "$response.body#/id"}),
            PreviewNotice=("get", "/api/v1/notices/{notice_id}/preview", {"notice_id": "$response.body#/id"}),
            PublishNotice=("post", "/api/v1/notices/{notice_id}/publish", {"notice_id": "$response.body#/id"}),
        )
    )
    @scoped("notices.manage")
    def post(self, data):
        """Draft a notice at a community, street or district

        Channel (社区公告, 社区组织, 社区信息, 社区活动), Markdown body, pin, expiry. The audience is an expression
        (`and`, `or`, `not` over communities, estates, buildings, units, tags and age), or the places-and-tags form.
        Preview it with `POST /notices/preview`, publish with `POST /notices/{id}/publish`.
        """
        notice = services.create_notice(current_user(), data)
        return services.notice_view(notice, staff=current_user())

    @blp.arguments(NoticeQueryArgsSchema, location="query")
    @blp.response(200, NoticePageSchema)
    @scoped("notices.read")
    def get(self, args):
        """Notices posted in my communities, streets or districts (newest first)"""
        return services.list_notices(
            current_user(), cursor=args["cursor"], limit=args["limit"], status=args["status"], channel=args["channel"]
        )


@blp.route("/preview")
class NoticeAudiencePreview(MethodView):
    @blp.arguments(AudiencePreviewArgsSchema)
    @blp.response(200, AudiencePreviewSchema)
    @scoped("notices.manage")
    def post(self, data):
        """Preview an audience before posting: recipients, how many can be reached, a masked sample"""
        return followup.preview_audience(current_user(), data["region_id"], data["audience"])


@blp.route("/feed")
class NoticeFeed(MethodView):
    @blp.arguments(NoticeFeedArgsSchema, location="query")
    @blp.response(200, NoticePageSchema)
    @scoped(also="any signed-in resident (their own notices and those of residents who delegated notices to them)")
    def get(self, args):
        """My notices: published, unexpired notices sent to me, pinned first, then newest

        Filter by `channel`. Expired notices leave the feed (they still open from the inbox).
        """
        return feed.feed_page(current_user(), cursor=args["cursor"], limit=args["limit"], channel=args["channel"])


@blp.route("/<string:notice_id>")
class NoticeById(MethodView):
    @blp.response(200, NoticeSchema)
    @scoped(also="a resident (or their delegate) the published notice reached")
    def get(self, notice_id: str):
        """Open a notice

        Staff over its region see it in any state with its audience. A resident sees it only while published and
        only if it was sent to them (or to someone who delegated `notices` to them); opening it marks it read.
        Everyone else gets 404.
        """
        return services.open_notice(current_user(), notice_id)

    @blp.arguments(NoticeUpdateSchema)
    @blp.response(200, NoticeSchema)
    @scoped("notices.manage")
    def patch(self, data, notice_id: str):
        """Edit a draft notice"""
        notice = services.update_notice(current_user(), notice_id, data)
        return services.notice_view(notice, staff=current_user())


@blp.route("/<string:notice_id>/publish")
class NoticePublish(MethodView):
    @blp.arguments(NoticePublishSchema)
    @blp.response(200, NoticeSchema)
    @blp.doc(
        **links(
            200,
            NoticeStats=("get", "/api/v1/notices/{notice_id}/stats", {"notice_id": "$response.body#/id"}),
            NoticeUnread=("get", "/api/v1/notices/{notice_id}/unread", {"notice_id": "$response.body#/id"}),
            PinNotice=("put", "/api/v1/notices/{notice_id}/pin", {"notice_id": "$response.body#/id"}),
            RemindNotice=("post", "/api/v1/notices/{notice_id}/remind", {"notice_id": "$response.body#/id"}),
            WithdrawNotice=("post", "/api/v1/notices/{notice_id}/withdraw", {"notice_id": "$response.body#/id"}),
        )
    )
    @scoped("notices.manage")
    def post(self, data, notice_id: str):
        """Publish a draft now, or schedule it

        Publishing hands the audience query to push in one set-based send; the fan-out runs in jobs.
        """
        notice = services.publish_notice(current_user(), notice_id, publish_at=data["publish_at"])
        return services.notice_view(notice, staff=current_user())


@blp.route("/<string:notice_id>/withdraw")
class NoticeWithdraw(MethodView):
    @blp.arguments(NoticeWithdrawSchema)
    @blp.response(200, NoticeSchema)
    @scoped("notices.manage")
    def post(self, data, notice_id: str):
        """Withdraw a scheduled or published notice (residents can no longer open it)"""
        notice = services.withdraw_notice(current_user(), notice_id, reason=data["reason"])
        return services.notice_view(notice, staff=current_user())


@blp.route("/<string:notice_id>/stats")
class NoticeStats(MethodView):
    @blp.response(200, NoticeStatsSchema)
    @scoped("notices.read")
    def get(self, notice_id: str):
        """Read receipts of a notice: audience, reached, read, unread, unreachable (with the first unreachable page)"""
        return services.notice_stats(current_user(), notice_id)


@blp.route("/<string:notice_id>/unread")
class NoticeUnread(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, UnreadResidentPageSchema)
    @scoped("notices.read")
    def get(self, args, notice_id: str):
        """Residents the notice reached who have not read it, in my communities (for a call or a visit)

        A resident counts as read when any account receiving for them (their own or a delegate's) read it.
        """
        return services.unread_page(current_user(), notice_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/<string:notice_id>/preview")
class NoticePreview(MethodView):
    @blp.response(200, AudiencePreviewSchema)
    @scoped("notices.manage")
    def get(self, notice_id: str):
        """Preview a notice's audience: recipients, how many can be reached, a masked sample"""
        return followup.preview_notice(current_user(), notice_id)


@blp.route("/<string:notice_id>/pin")
class NoticePin(MethodView):
    @blp.arguments(NoticePinSchema)
    @blp.response(200, NoticeSchema)
    @scoped("notices.manage")
    def put(self, data, notice_id: str):
        """Pin or unpin a notice (pinned notices head the residents' feed)"""
        notice = services.pin_notice(current_user(), notice_id, pinned=data["pinned"])
        return services.notice_view(notice, staff=current_user())


@blp.route("/<string:notice_id>/followup/export")
class NoticeFollowupExport(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "未读或无法送达的居民 CSV（姓名、住址、手机号脱敏、状态）",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    )
    @scoped("notices.read")
    def get(self, notice_id: str):
        """Export the residents who have not read the notice or could not be reached, as CSV (masked; logged)"""
        filename, text = followup.export_followup(current_user(), notice_id)
        return Response(
            text.encode("utf-8"),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
        )


@blp.route("/<string:notice_id>/remind")
class NoticeRemind(MethodView):
    @blp.response(200, ReminderSchema)
    @scoped("notices.manage")
    def post(self, notice_id: str):
        """Remind the residents who have not read the notice (once per notice; a second time answers 409)"""
        return followup.remind_unread(current_user(), notice_id)
