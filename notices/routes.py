"""Notice endpoints: staff draft, publish, withdraw, list and read statistics; residents open notices sent to them."""

from __future__ import annotations

from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from notices import blp, services
from notices.schemas import (
    NoticeCreateSchema,
    NoticePageSchema,
    NoticePublishSchema,
    NoticeQueryArgsSchema,
    NoticeSchema,
    NoticeStatsSchema,
    NoticeUpdateSchema,
    NoticeWithdrawSchema,
    UnreadResidentPageSchema,
)


@blp.route("")
class Notices(MethodView):
    @idempotent
    @blp.arguments(NoticeCreateSchema)
    @blp.response(201, NoticeSchema)
    @scoped("notices.manage")
    def post(self, data):
        """Draft a notice at a community, street or district

        The audience is data: places (communities, estates, buildings; union) narrowed by resident tags (any or
        all). Publish it with `POST /notices/{id}/publish`.
        """
        notice = services.create_notice(current_user(), data)
        return services.notice_view(notice, staff=current_user())

    @blp.arguments(NoticeQueryArgsSchema, location="query")
    @blp.response(200, NoticePageSchema)
    @scoped("notices.read")
    def get(self, args):
        """Notices posted in my communities, streets or districts (newest first)"""
        return services.list_notices(current_user(), cursor=args["cursor"], limit=args["limit"], status=args["status"])


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
