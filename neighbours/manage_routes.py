"""邻里圈 staff endpoints: review queue, hide and restore, mutes, the image worklist and sensitive words."""

from __future__ import annotations

from flask.views import MethodView

from app.auth import current_user
from app.auth.scopes import scoped
from neighbours import blp, staff, words
from neighbours.schemas import (
    CommunityCursorArgsSchema,
    ImageDecisionSchema,
    ImageQueueArgsSchema,
    ModerationReasonSchema,
    MuteCreateSchema,
    MutePageSchema,
    MuteSchema,
    PostPageSchema,
    PostSchema,
    ReviewQueueArgsSchema,
    StaffCommentPageSchema,
    StaffCommentSchema,
    StaffImagePageSchema,
    StaffImageSchema,
    WordArgsSchema,
    WordCreateSchema,
    WordPageSchema,
    WordSchema,
)


@blp.route("/manage/posts")
class ManagedPosts(MethodView):
    @blp.arguments(ReviewQueueArgsSchema, location="query")
    @blp.response(200, PostPageSchema)
    @scoped("neighbours.read")
    def get(self, args):
        """Posts of a community to review: hidden (by reports or staff), or reported but still showing"""
        return staff.review_queue(
            current_user(), args["community_id"], state=args["state"], cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/manage/posts/<string:post_id>/hide")
class ManagedPostHide(MethodView):
    @blp.arguments(ModerationReasonSchema)
    @blp.response(200, PostSchema)
    @scoped("neighbours.moderate")
    def post(self, data, post_id: str):
        """Hide a post (audited)"""
        return staff.hide_post(current_user(), post_id, data["reason"])


@blp.route("/manage/posts/<string:post_id>/restore")
class ManagedPostRestore(MethodView):
    @blp.arguments(ModerationReasonSchema)
    @blp.response(200, PostSchema)
    @scoped("neighbours.moderate")
    def post(self, data, post_id: str):
        """Restore a hidden post after review (its report count starts again; audited)"""
        return staff.restore_post(current_user(), post_id, data["reason"])


@blp.route("/manage/comments")
class ManagedComments(MethodView):
    @blp.arguments(ReviewQueueArgsSchema, location="query")
    @blp.response(200, StaffCommentPageSchema)
    @scoped("neighbours.read")
    def get(self, args):
        """Comments of a community to review: hidden (by reports or staff), or reported but still showing"""
        return staff.comment_queue(
            current_user(), args["community_id"], state=args["state"], cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/manage/comments/<string:comment_id>/hide")
class ManagedCommentHide(MethodView):
    @blp.arguments(ModerationReasonSchema)
    @blp.response(200, StaffCommentSchema)
    @scoped("neighbours.moderate")
    def post(self, data, comment_id: str):
        """Hide a comment (audited)"""
        return staff.hide_comment(current_user(), comment_id, data["reason"])


@blp.route("/manage/comments/<string:comment_id>/restore")
class ManagedCommentRestore(MethodView):
    @blp.arguments(ModerationReasonSchema)
    @blp.response(200, StaffCommentSchema)
    @scoped("neighbours.moderate")
    def post(self, data, comment_id: str):
        """Restore a hidden comment (audited)"""
        return staff.restore_comment(current_user(), comment_id, data["reason"])


@blp.route("/manage/mutes")
class Mutes(MethodView):
    @blp.arguments(CommunityCursorArgsSchema, location="query")
    @blp.response(200, MutePageSchema)
    @scoped("neighbours.read")
    def get(self, args):
        """Mutes in force in a community"""
        return staff.list_mutes(current_user(), args["community_id"], cursor=args["cursor"], limit=args["limit"])

    @blp.arguments(MuteCreateSchema)
    @blp.response(201, MuteSchema)
    @scoped("neighbours.moderate")
    def post(self, data):
        """Mute a resident in a community for some days (403 `user_muted` on their posts and comments; audited)"""
        return staff.mute_user(current_user(), data)


@blp.route("/manage/mutes/<string:mute_id>/lift")
class MuteLift(MethodView):
    @blp.arguments(ModerationReasonSchema)
    @blp.response(200, MuteSchema)
    @scoped("neighbours.moderate")
    def post(self, data, mute_id: str):
        """Lift a mute early (audited)"""
        return staff.lift_mute(current_user(), mute_id, data["reason"])


@blp.route("/manage/images")
class ManagedImages(MethodView):
    @blp.arguments(ImageQueueArgsSchema, location="query")
    @blp.response(200, StaffImagePageSchema)
    @scoped("neighbours.read")
    def get(self, args):
        """Images waiting for a check in a community (phone-app authors' images wait for staff)"""
        return staff.image_queue(
            current_user(), args["community_id"], review=args["review"], cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/manage/images/<string:image_id>/approve")
class ManagedImageApprove(MethodView):
    @blp.arguments(ImageDecisionSchema)
    @blp.response(200, StaffImageSchema)
    @scoped("neighbours.moderate")
    def post(self, data, image_id: str):
        """Approve a pending image: it shows to the post's readers (audited)"""
        return staff.decide_image(current_user(), image_id, approve=True, note=data["note"])


@blp.route("/manage/images/<string:image_id>/reject")
class ManagedImageReject(MethodView):
    @blp.arguments(ImageDecisionSchema)
    @blp.response(200, StaffImageSchema)
    @scoped("neighbours.moderate")
    def post(self, data, image_id: str):
        """Reject a pending image: it never shows (audited)"""
        return staff.decide_image(current_user(), image_id, approve=False, note=data["note"])


@blp.route("/manage/words")
class Words(MethodView):
    @blp.arguments(WordArgsSchema, location="query")
    @blp.response(200, WordPageSchema)
    @scoped("neighbours.read", also="platform admins for platform-wide words")
    def get(self, args):
        """Sensitive words kept platform-wide, or at one region"""
        return words.list_words(current_user(), args["region_id"], cursor=args["cursor"], limit=args["limit"])

    @blp.arguments(WordCreateSchema)
    @blp.response(201, WordSchema)
    @scoped("neighbours.moderate", also="platform admins for platform-wide words")
    def post(self, data):
        """Add a sensitive word (mask or reject) at a region, or platform-wide (audited)"""
        return words.add_word(current_user(), data)


@blp.route("/manage/words/<string:word_id>")
class WordById(MethodView):
    @blp.response(204)
    @scoped("neighbours.moderate", also="platform admins for platform-wide words")
    def delete(self, word_id: str):
        """Remove a sensitive word (audited)"""
        words.remove_word(current_user(), word_id)
