"""Comments with one level of replies, and the pushes they cause: a comment on your post, a reply to your comment.

A reply to a reply joins the same top-level comment and answers the reply's author (``reply_to``), so threads stay
one level deep; the database refuses anything deeper (see ``Comment``).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.orm import aliased

from app import audit, push, wechat
from app.accounts.models import User
from app.api import keyset_page
from app.db import atomic
from app.extensions import db
from neighbours import access, moderation
from neighbours.errors import CommentNotFound, NotAuthor, NotPublished, PostNotFound
from neighbours.models import Comment, ContentStatus, Post
from neighbours.posts import readable_post

log = logging.getLogger(__name__)

COMMENT_EVENT = "neighbours.comment"
REPLY_EVENT = "neighbours.reply"
#: Replies shown under each comment of a page; the rest through ``/comments/{id}/replies``.
REPLIES_PREVIEW = 3

push.register_event(
    COMMENT_EVENT,
    "动态评论",
    channels=("inbox", "wechat"),
    template_id="NEIGHBOURS_COMMENT",
    fields={"thing1": "commenter", "thing2": "excerpt", "time3": "commented_at"},
    title="{commenter}评论了你的动态",
    body="{excerpt}",
    page="pages/neighbours/post?id={post_id}",
)
push.register_event(
    REPLY_EVENT,
    "评论回复",
    channels=("inbox", "wechat"),
    template_id="NEIGHBOURS_REPLY",
    fields={"thing1": "commenter", "thing2": "excerpt", "time3": "commented_at"},
    title="{commenter}回复了你的评论",
    body="{excerpt}",
    page="pages/neighbours/post?id={post_id}",
)


def _published_comment(post: Post, public_id: str, *, lock: bool = False) -> Comment:
    query = sa.select(Comment).where(
        Comment.public_id == public_id, Comment.post_id == post.id, Comment.status == ContentStatus.published
    )
    if lock:
        query = query.with_for_update(of=Comment)
    comment = db.session.scalar(query)
    if comment is None:
        raise CommentNotFound()
    return comment


def readable_comment(user, public_id: str) -> tuple[Comment, Post]:
    """A published comment on a post the caller may see. :raises CommentNotFound:"""
    post_id = db.session.scalar(sa.select(Comment.post_id).where(Comment.public_id == public_id))
    if post_id is None:
        raise CommentNotFound()
    post_public_id = db.session.scalar(sa.select(Post.public_id).where(Post.id == post_id))
    try:
        post, _place = readable_post(user, post_public_id)
    except PostNotFound:  # the post is out of reach: so is the comment
        raise CommentNotFound() from None
    return _published_comment(post, public_id), post


def create_comment(user, post_public_id: str, data: dict[str, Any]) -> Comment:
    """Comment on a post, or reply to a comment of it (``reply_to``: a comment's id).

    :raises PostNotFound: :raises CommentNotFound: :raises NotPublished: :raises ResidentNotVerified:
    :raises UserMuted: :raises ContentRejected: :raises ContentRisky: :raises ContentCheckUnavailable:
    """
    with atomic():
        post, place = readable_post(user, post_public_id, lock=True)
        access.ensure_can_write(place)
        if post.status is not ContentStatus.published:
            raise NotPublished()
        parent = root = None
        if data.get("reply_to"):
            parent = _published_comment(post, data["reply_to"])
            root = parent if parent.parent_id is None else db.session.get(Comment, parent.parent_id)
        text = moderation.screen_text(user, post.community_id, data["text"].strip(), scene=wechat.SCENE_COMMENT)
        comment = Comment(
            post_id=post.id,
            parent_id=root.id if root else None,
            depth=1 if root else 0,
            parent_depth=0 if root else None,
            author_user_id=user.id,
            author_resident_id=place.resident_id,
            reply_to_user_id=parent.author_user_id if parent else None,
            text=text,
            created_at=sa.func.clock_timestamp(),
        )
        db.session.add(comment)
        db.session.flush()
        db.session.execute(sa.update(Post).where(Post.id == post.id).values(comment_count=Post.comment_count + 1))
        if root is not None:
            db.session.execute(
                sa.update(Comment).where(Comment.id == root.id).values(reply_count=Comment.reply_count + 1)
            )
        _notify(user, post, comment, parent)
        log.info("comment %s on post %s by user %s", comment.id, post.id, user.id)
        return comment


def _notify(user, post: Post, comment: Comment, parent: Comment | None) -> None:
    """Tell the post's author about a comment, or the answered comment's author about a reply (never oneself)."""
    if parent is None:
        event, resident_id, recipient_user = COMMENT_EVENT, post.author_resident_id, post.author_user_id
    else:
        event, resident_id, recipient_user = REPLY_EVENT, parent.author_resident_id, parent.author_user_id
    if resident_id is None or recipient_user == user.id:
        return
    push.send(
        event,
        [resident_id],
        {
            "commenter": user.display_name or "邻居",
            "excerpt": comment.text[:60],
            "commented_at": comment.created_at,
            "post_id": post.public_id,
        },
        source=("neighbours_post", post.public_id),
        key=f"neighbours:comment:{comment.id}",
    )


def delete_comment(user, public_id: str) -> None:
    """The author deletes their comment (its replies go with it from view)."""
    with atomic():
        comment, post = readable_comment(user, public_id)
        if comment.author_user_id != user.id:
            raise NotAuthor()  # the caller sees the comment: refusing, not hiding it
        changed = db.session.execute(
            sa.update(Comment)
            .where(Comment.id == comment.id, Comment.status == ContentStatus.published)
            .values(status=ContentStatus.deleted)
        ).rowcount
        if changed:
            recount(post.id, comment)
        audit.record("neighbours.comment.delete", actor=user, target=("neighbours_comment", comment.public_id))


def recount(post_id: int, comment: Comment) -> None:
    """Set the post's comment count and the parent's reply count to their published comments (after a comment was
    deleted, hidden or restored)."""
    db.session.execute(
        sa.update(Post)
        .where(Post.id == post_id)
        .values(
            comment_count=sa.select(func.count())
            .where(Comment.post_id == post_id, Comment.status == ContentStatus.published)
            .scalar_subquery()
        )
    )
    if comment.parent_id is not None:
        replies = aliased(Comment)
        db.session.execute(
            sa.update(Comment)
            .where(Comment.id == comment.parent_id)
            .values(
                reply_count=sa.select(func.count())
                .where(replies.parent_id == comment.parent_id, replies.status == ContentStatus.published)
                .scalar_subquery()
            )
        )


# --- reading -------------------------------------------------------------------------------------------------------


def _comment_view(user, comment: Comment, names: dict[int, tuple[str, str]]) -> dict[str, Any]:
    reply_to = names.get(comment.reply_to_user_id) if comment.parent_id is not None else None
    return {
        "id": comment.public_id,
        "text": comment.text,
        "author": {"id": comment.author.public_id, "name": comment.author.display_name},
        "reply_to": {"id": reply_to[0], "name": reply_to[1]} if reply_to else None,
        "reply_count": comment.reply_count,
        "mine": comment.author_user_id == user.id,
        "created_at": comment.created_at,
    }


def comment_view(user, comment: Comment) -> dict[str, Any]:
    """One comment or reply as its reader sees it."""
    return _comment_view(user, comment, _names({comment.reply_to_user_id} - {None}))


def _names(user_ids: set[int]) -> dict[int, tuple[str, str]]:
    if not user_ids:
        return {}
    rows = db.session.execute(sa.select(User.id, User.public_id, User.display_name).where(User.id.in_(user_ids)))
    return {row.id: (row.public_id, row.display_name) for row in rows}


def comments_page(user, post_public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Top-level comments, newest first, each with its latest replies (three statements per page)."""
    post, _place = readable_post(user, post_public_id)
    query = sa.select(Comment).where(
        Comment.post_id == post.id, Comment.parent_id.is_(None), Comment.status == ContentStatus.published
    )
    page = keyset_page(db.session, query, [Comment.created_at, Comment.public_id], cursor=cursor, limit=limit)
    parents = [comment.id for comment in page["items"]]
    replies: dict[int, list[Comment]] = {}
    if parents:
        ranked = (
            sa.select(
                Comment.id,
                func.row_number()
                .over(partition_by=Comment.parent_id, order_by=(Comment.created_at.desc(), Comment.id.desc()))
                .label("n"),
            )
            .where(Comment.parent_id.in_(parents), Comment.status == ContentStatus.published)
            .subquery()
        )
        rows = db.session.scalars(
            sa.select(Comment)
            .join(ranked, ranked.c.id == Comment.id)
            .where(ranked.c.n <= REPLIES_PREVIEW)
            .order_by(Comment.created_at, Comment.id)
        ).all()
        for reply in rows:
            replies.setdefault(reply.parent_id, []).append(reply)
    names = _names({reply.reply_to_user_id for group in replies.values() for reply in group if reply.reply_to_user_id})
    items = []
    for comment in page["items"]:
        view = _comment_view(user, comment, names)
        view["replies"] = [_comment_view(user, reply, names) for reply in replies.get(comment.id, [])]
        items.append(view)
    return {"items": items, "next_cursor": page["next_cursor"]}


def replies_page(user, comment_public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Replies to one comment, newest first."""
    comment, _post = readable_comment(user, comment_public_id)
    query = sa.select(Comment).where(Comment.parent_id == comment.id, Comment.status == ContentStatus.published)
    page = keyset_page(db.session, query, [Comment.created_at, Comment.public_id], cursor=cursor, limit=limit)
    names = _names({reply.reply_to_user_id for reply in page["items"] if reply.reply_to_user_id})
    return {"items": [_comment_view(user, reply, names) for reply in page["items"]], "next_cursor": page["next_cursor"]}
