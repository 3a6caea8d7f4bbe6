"""Push endpoints: my inbox, my subscribe grants and SMS choices, and the staff views of a source's delivery."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.auth import current_user, require
from app.auth.scopes import scoped
from app.push import inbox, staff, subscriptions
from app.push.schemas import (
    GrantRequestSchema,
    GrantSchema,
    InboxArgsSchema,
    InboxItemSchema,
    InboxPageSchema,
    MarkedSchema,
    MessageRecordPageSchema,
    PreferenceSchema,
    PreferenceUpdateSchema,
    SourceArgsSchema,
    TemplateSchema,
    UnreachablePageSchema,
)

blp = Blueprint("push", __name__, url_prefix="/api/v1", description="消息中心、订阅消息与短信")

_SELF = "the signed-in account (its own inbox and choices)"


@blp.route("/me/inbox")
class MyInbox(MethodView):
    @blp.arguments(InboxArgsSchema, location="query")
    @blp.response(200, InboxPageSchema)
    @scoped(also=_SELF)
    def get(self, args):
        """My messages, newest first (by cursor), with the unread count

        Messages received for a resident I hold a delegation from name that resident in `for_resident`.
        """
        return inbox.inbox_page(current_user(), cursor=args["cursor"], limit=args["limit"], unread_only=args["unread"])


@blp.route("/me/inbox/<string:item_id>/read")
class MyInboxItemRead(MethodView):
    @blp.response(200, InboxItemSchema)
    @scoped(also=_SELF)
    def post(self, item_id):
        """Mark one message read (again is harmless)"""
        return inbox.mark_read(current_user(), item_id)


@blp.route("/me/inbox/read-all")
class MyInboxReadAll(MethodView):
    @blp.response(200, MarkedSchema)
    @scoped(also=_SELF)
    def post(self):
        """Mark all my messages read"""
        return {"marked": inbox.mark_all_read(current_user())}


@blp.route("/me/subscriptions")
class MySubscriptions(MethodView):
    @blp.response(200, GrantSchema(many=True))
    @scoped(also=_SELF)
    def get(self):
        """My one-time subscribe-message grants left, per template"""
        return subscriptions.my_grants(current_user())

    @blp.arguments(GrantRequestSchema)
    @blp.response(200, GrantSchema(many=True))
    @scoped(also=_SELF)
    def post(self, data):
        """Report the templates I accepted in `wx.requestSubscribeMessage` (one grant each)

        Each accepted template allows one subscribe message; each message sent spends one.
        """
        return subscriptions.record_grants(current_user(), data["template_ids"])


@blp.route("/push/templates")
class Templates(MethodView):
    @blp.response(200, TemplateSchema(many=True))
    @require()
    def get(self):
        """Subscribe-message templates the mini-program may ask for, with the events they carry"""
        return subscriptions.templates()


@blp.route("/me/push-preferences")
class MyPreferences(MethodView):
    @blp.response(200, PreferenceSchema(many=True))
    @scoped(also=_SELF)
    def get(self):
        """My SMS choice for each event that may send an SMS (on unless turned off)

        Non-urgent SMS are held during quiet hours (22:00–07:00 Asia/Shanghai) and sent at 07:00.
        """
        return subscriptions.my_preferences(current_user())

    @blp.arguments(PreferenceUpdateSchema)
    @blp.response(200, PreferenceSchema(many=True))
    @scoped(also=_SELF)
    def put(self, data):
        """Turn SMS on or off per event"""
        return subscriptions.set_preferences(current_user(), data["sms"])


@blp.route("/push/unreachable")
class UnreachableResidents(MethodView):
    @blp.arguments(SourceArgsSchema, location="query")
    @blp.response(200, UnreachablePageSchema)
    @scoped("push.unreachable.read")
    def get(self, args):
        """Residents a source's messages could not reach, in my communities (for a visit or a call)

        A resident is unreachable when they have no active account and nobody holds an active delegation from them
        with the event's scope; one reached by a later send of the same source drops off the list.
        """
        return staff.unreachable_page(
            current_user(), args["source_kind"], args["source_id"], cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/push/messages")
class MessageRecords(MethodView):
    @blp.arguments(SourceArgsSchema, location="query")
    @blp.response(200, MessageRecordPageSchema)
    @require("admin")
    def get(self, args):
        """Outside sends (WeChat, SMS) of a source with status, error and attempts (platform admins)"""
        return staff.message_records(args["source_kind"], args["source_id"], cursor=args["cursor"], limit=args["limit"])
