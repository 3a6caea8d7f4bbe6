"""邻里圈 endpoints for residents: posts, feeds, likes, comments, reports, groups; and WeChat's media-check callback."""

from __future__ import annotations

import logging

from flask import Response, current_app, request
from flask.views import MethodView

from app import wechat
from app.api import CursorArgsSchema, links
from app.auth import current_user, require
from app.auth.scopes import scoped
from app.idempotency import idempotent
from app.ratelimit import limit_from_setting
from neighbours import blp, comments, groups, moderation, posts, staff
from neighbours.errors import CallbackSignatureInvalid
from neighbours.models import TOPIC_LABELS
from neighbours.schemas import (
    CommentCreateSchema,
    CommentPageSchema,
    CommentReplySchema,
    FeedArgsSchema,
    GroupArgsSchema,
    GroupCreateSchema,
    GroupJoinRequestPageSchema,
    GroupPageSchema,
    GroupSchema,
    LikeSchema,
    MessagePushArgsSchema,
    PostCreateSchema,
    PostPageSchema,
    PostSchema,
    ReplyPageSchema,
    ReportCreateSchema,
    ReportedSchema,
    TopicListSchema,
)

log = logging.getLogger(__name__)

_RESIDENT = "a resident with an active membership in the post's community (building-only posts: that building)"
#: The blueprint's prefix, for the OpenAPI links between its operations.
N = blp.url_prefix

_WRITER = "a verified resident of the community who is not muted there"


@blp.route("/topics")
class Topics(MethodView):
    @blp.response(200, TopicListSchema)
    @require()
    def get(self):
        """Post topics (stable codes and Chinese labels)"""
        return {"items": [{"code": topic.value, "label": label} for topic, label in TOPIC_LABELS.items()]}


@blp.route("/posts")
class Posts(MethodView):
    @idempotent
    @blp.arguments(PostCreateSchema)
    @blp.response(201, PostSchema)
    @blp.doc(
        **links(
            201,
            GetPost=("get", f"{N}/posts/{{post_id}}", {"post_id": "$response.body#/id"}),
            LikePost=("post", f"{N}/posts/{{post_id}}/like", {"post_id": "$response.body#/id"}),
            CommentOnPost=("post", f"{N}/posts/{{post_id}}/comments", {"post_id": "$response.body#/id"}),
            ListComments=("get", f"{N}/posts/{{post_id}}/comments", {"post_id": "$response.body#/id"}),
            ReportPost=("post", f"{N}/posts/{{post_id}}/reports", {"post_id": "$response.body#/id"}),
            DeletePost=("delete", f"{N}/posts/{{post_id}}", {"post_id": "$response.body#/id"}),
        )
    )
    @scoped(also=_WRITER)
    @limit_from_setting("NEIGHBOURS_POST_RATE_LIMIT")
    def post(self, data):
        """Write a post (写动态)

        The text goes through the sensitive-word filter (422 `content_rejected`, or masked words) and, for
        mini-program users, WeChat's msgSecCheck (422 `content_risky`; 503 `content_check_unavailable`). Images
        (uploaded private) show to others once checked: WeChat's asynchronous media check for mini-program users,
        staff review for phone-app users. 403 `resident_not_verified`, `user_muted`; 429 `rate_limited`.
        """
        user = current_user()
        post = posts.create_post(user, data)
        return posts.post_views(user, [post])[0]

    @blp.arguments(FeedArgsSchema, location="query")
    @blp.response(200, PostPageSchema)
    @scoped(also=_RESIDENT)
    def get(self, args):
        """The community feed: newest first, by topic, or hot

        Posts outside interest groups that the caller may see. `sort=hot` ranks once per first page and returns a
        cursor naming that snapshot; later pages keep its order while likes change (410 `hot_snapshot_expired`
        after an hour: reload the first page).
        """
        return posts.feed(
            current_user(),
            community_id=args["community_id"],
            topic=args["topic"],
            sort=args["sort"],
            cursor=args["cursor"],
            limit=args["limit"],
        )


@blp.route("/posts/<string:post_id>")
class PostById(MethodView):
    @blp.response(200, PostSchema)
    @scoped("neighbours.read", also=_RESIDENT)
    def get(self, post_id: str):
        """Open a post (404 for anyone who may not see it)"""
        return posts.open_post(current_user(), post_id)

    @blp.response(204)
    @scoped(also="the post's author")
    def delete(self, post_id: str):
        """Delete my post"""
        posts.delete_post(current_user(), post_id)


@blp.route("/posts/<string:post_id>/like")
class PostLike(MethodView):
    @blp.response(200, LikeSchema)
    @scoped(also="a verified resident who may see the post")
    def post(self, post_id: str):
        """Like a post (a repeat changes nothing)"""
        return posts.like_post(current_user(), post_id)

    @blp.response(200, LikeSchema)
    @scoped(also=_RESIDENT)
    def delete(self, post_id: str):
        """Take my like back"""
        return posts.unlike_post(current_user(), post_id)


@blp.route("/posts/<string:post_id>/comments")
class PostComments(MethodView):
    @blp.arguments(CommentCreateSchema)
    @blp.response(201, CommentReplySchema)
    @blp.doc(
        **links(
            201,
            ListReplies=("get", f"{N}/comments/{{comment_id}}/replies", {"comment_id": "$response.body#/id"}),
            ReportComment=("post", f"{N}/comments/{{comment_id}}/reports", {"comment_id": "$response.body#/id"}),
            DeleteComment=("delete", f"{N}/comments/{{comment_id}}", {"comment_id": "$response.body#/id"}),
        )
    )
    @scoped(also=_WRITER)
    @limit_from_setting("NEIGHBOURS_COMMENT_RATE_LIMIT")
    def post(self, data, post_id: str):
        """Comment on a post, or reply to a comment (`reply_to`)

        Same text checks as posts. The post's author (or the author of the comment answered) is told through push.
        """
        user = current_user()
        comment = comments.create_comment(user, post_id, data)
        return comments.comment_view(user, comment)

    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, CommentPageSchema)
    @scoped(also=_RESIDENT)
    def get(self, args, post_id: str):
        """Comments on a post, newest first, each with its latest replies"""
        return comments.comments_page(current_user(), post_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/comments/<string:comment_id>")
class CommentById(MethodView):
    @blp.response(204)
    @scoped(also="the comment's author")
    def delete(self, comment_id: str):
        """Delete my comment"""
        comments.delete_comment(current_user(), comment_id)


@blp.route("/comments/<string:comment_id>/replies")
class CommentReplies(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, ReplyPageSchema)
    @scoped(also=_RESIDENT)
    def get(self, args, comment_id: str):
        """Replies to a comment, newest first"""
        return comments.replies_page(current_user(), comment_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/posts/<string:post_id>/reports")
class PostReports(MethodView):
    @blp.arguments(ReportCreateSchema)
    @blp.response(201, ReportedSchema)
    @scoped(also="a verified resident who may see the post")
    def post(self, data, post_id: str):
        """Report a post

        Once per resident. `NEIGHBOURS_REPORT_THRESHOLD` reports hide it pending staff review.
        """
        return staff.report(current_user(), post_public_id=post_id, data=data)


@blp.route("/comments/<string:comment_id>/reports")
class CommentReports(MethodView):
    @blp.arguments(ReportCreateSchema)
    @blp.response(201, ReportedSchema)
    @scoped(also="a verified resident who may see the comment")
    def post(self, data, comment_id: str):
        """Report a comment (hidden at the same threshold as posts)"""
        return staff.report(current_user(), comment_public_id=comment_id, data=data)


# --- groups --------------------------------------------------------------------------------------------------------


@blp.route("/groups")
class Groups(MethodView):
    @blp.arguments(GroupCreateSchema)
    @blp.response(201, GroupSchema)
    @blp.doc(
        **links(
            201,
            GetGroup=("get", f"{N}/groups/{{group_id}}", {"group_id": "$response.body#/id"}),
            GroupPosts=("get", f"{N}/groups/{{group_id}}/posts", {"group_id": "$response.body#/id"}),
            GroupRequests=("get", f"{N}/groups/{{group_id}}/requests", {"group_id": "$response.body#/id"}),
        )
    )
    @scoped(also=_WRITER)
    def post(self, data):
        """Create an interest group (I become its owner)"""
        return groups.create_group(current_user(), data)

    @blp.arguments(GroupArgsSchema, location="query")
    @blp.response(200, GroupPageSchema)
    @scoped(also="a resident of the community")
    def get(self, args):
        """Interest groups of my community, newest first"""
        return groups.list_groups(
            current_user(), community_id=args["community_id"], cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/groups/<string:group_id>")
class GroupById(MethodView):
    @blp.response(200, GroupSchema)
    @scoped(also="a resident of the group's community")
    def get(self, group_id: str):
        """One group, with my membership"""
        return groups.get_group(current_user(), group_id)


@blp.route("/groups/<string:group_id>/join")
class GroupJoin(MethodView):
    @blp.response(200, GroupSchema)
    @scoped(also="a verified resident of the group's community")
    def post(self, group_id: str):
        """Join an open group, or ask to join a closed one"""
        return groups.join_group(current_user(), group_id)


@blp.route("/groups/<string:group_id>/leave")
class GroupLeave(MethodView):
    @blp.response(200, GroupSchema)
    @scoped(also="a member of the group (not its owner)")
    def post(self, group_id: str):
        """Leave a group (or withdraw my request)"""
        return groups.leave_group(current_user(), group_id)


@blp.route("/groups/<string:group_id>/requests")
class GroupRequests(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, GroupJoinRequestPageSchema)
    @scoped(also="the group's owner")
    def get(self, args, group_id: str):
        """Join requests waiting for me (closed groups)"""
        return groups.pending_members(current_user(), group_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/groups/<string:group_id>/requests/<string:user_id>/approve")
class GroupRequestApprove(MethodView):
    @blp.response(200, GroupSchema)
    @scoped(also="the group's owner")
    def post(self, group_id: str, user_id: str):
        """Let a resident into my closed group"""
        return groups.approve_member(current_user(), group_id, user_id)


@blp.route("/groups/<string:group_id>/posts")
class GroupPosts(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, PostPageSchema)
    @scoped(also="a resident of the group's community; members only for a closed group")
    def get(self, args, group_id: str):
        """A group's posts, newest first (403 `group_members_only` for a closed group)"""
        return posts.group_feed(current_user(), group_id, cursor=args["cursor"], limit=args["limit"])


# --- WeChat message push: media-check results ----------------------------------------------------------------------


@blp.route("/wechat/media-check")
class MediaCheckCallback(MethodView):
    @blp.arguments(MessagePushArgsSchema, location="query")
    @blp.doc(responses={"200": {"description": "`echostr`（地址验证）或 `success`"}})
    @require(public=True)
    def get(self, args):
        """WeChat message push: URL verification (answers `echostr` when the signature holds)"""
        _verify(args)
        return Response(args["echostr"] or "", mimetype="text/plain")

    @blp.arguments(MessagePushArgsSchema, location="query")
    @blp.doc(responses={"200": {"description": "`success`"}})
    @require(public=True)
    def post(self, args):
        """WeChat message push: asynchronous media-check results (`wxa_media_check`, version 2, JSON)

        The query's `signature` must be SHA-1 of `WECHAT_MESSAGE_TOKEN`, `timestamp` and `nonce` (403
        `wechat_signature_invalid` otherwise, and nothing changes). `pass` shows the image, `risky` keeps it hidden,
        `review` hands it to staff. Other events are acknowledged and ignored.
        """
        _verify(args)
        payload = request.get_json(silent=True, force=True)
        if isinstance(payload, dict) and payload.get("Event") == "wxa_media_check":
            moderation.record_media_check(payload)
        return Response("success", mimetype="text/plain")


def _verify(args) -> None:
    token = current_app.config.get("WECHAT_MESSAGE_TOKEN")
    if not wechat.check_message_signature(token, args["signature"], args["timestamp"], args["nonce"]):
        log.warning("message push with a bad signature refused from %s", request.remote_addr)
        raise CallbackSignatureInvalid()
