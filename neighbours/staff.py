"""Moderation by residents and staff: reports (N hide a post or comment pending review), staff hide, restore and
mute (audited), the review queues and the image worklist. The word list is in ``neighbours.words``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit
from app.accounts.models import User
from app.api import decode_cursor, encode_cursor, keyset_page
from app.auth.scopes import authorize
from app.community.models import Region, RegionKind
from app.db import atomic, utcnow
from app.errors import NotFound
from app.extensions import db
from neighbours import access, moderation
from neighbours.comments import readable_comment, recount
from neighbours.errors import (
    CommentNotFound,
    CommunityNotFound,
    ImageAlreadyDecided,
    ImageNotFound,
    MuteNotFound,
    NotHidden,
    NotPublished,
    PostNotFound,
)
from neighbours.models import (
    Comment,
    ContentStatus,
    HideReason,
    ImageReview,
    ImageStatus,
    Mute,
    Post,
    PostImage,
    Report,
)
from neighbours.posts import post_views, readable_post

log = logging.getLogger(__name__)


def _threshold() -> int:
    return int(current_app.config["NEIGHBOURS_REPORT_THRESHOLD"])


# --- reports -------------------------------------------------------------------------------------------------------


def _count_report(model, target_id: int) -> ContentStatus:
    """One more report: a single UPDATE that also hides the target when it reaches the threshold (so concurrent
    reports cannot both miss it)."""
    reaching = sa.and_(model.report_count + 1 >= _threshold(), model.status == ContentStatus.published)
    return db.session.execute(
        sa.update(model)
        .where(model.id == target_id)
        .values(
            report_count=model.report_count + 1,
            status=sa.case((reaching, ContentStatus.hidden.value), else_=model.status),
            hidden_reason=sa.case((reaching, HideReason.reports.value), else_=model.hidden_reason),
            hidden_at=sa.case((reaching, sa.func.now()), else_=model.hidden_at),
        )
        .returning(model.status)
    ).scalar_one()


def report(user, *, post_public_id: str | None = None, comment_public_id: str | None = None, data: dict) -> dict:
    """Report a post or a comment once (a repeat changes nothing).

    :raises PostNotFound: :raises CommentNotFound: :raises ResidentNotVerified:
    """
    with atomic():
        if comment_public_id is not None:
            comment, post = readable_comment(user, comment_public_id)
            place = access.standing_in(user, post.community_id)
            target, model, target_id = ("comment", comment.public_id), Comment, comment.id
        else:
            post, place = readable_post(user, post_public_id)
            comment, target, model, target_id = None, ("post", post.public_id), Post, post.id
        access.ensure_verified(place)
        inserted = db.session.execute(
            pg_insert(Report)
            .values(
                post_id=post.id,
                comment_id=comment.id if comment else None,
                reporter_user_id=user.id,
                reason=data["reason"].value,
                note=data.get("note"),
            )
            .on_conflict_do_nothing()
            .returning(Report.id)
        ).scalar()
        if inserted:
            status = _count_report(model, target_id)
            if status is ContentStatus.hidden and comment is not None:
                recount(post.id, comment)
            if status is ContentStatus.hidden:
                log.info("%s %s hidden pending review after reports", target[0], target_id)
        return {"reported": True}


# --- staff: posts and comments ------------------------------------------------------------------------------------


def _staff_post(staff, public_id: str, action: str = "neighbours.moderate") -> Post:
    post = db.session.scalar(sa.select(Post).where(Post.public_id == public_id).with_for_update(of=Post))
    if post is None:
        raise PostNotFound()
    authorize(staff, action, post, not_found=PostNotFound)
    return post


def _staff_comment(staff, public_id: str) -> tuple[Comment, Post]:
    comment = db.session.scalar(sa.select(Comment).where(Comment.public_id == public_id).with_for_update(of=Comment))
    if comment is None:
        raise CommentNotFound()
    post = db.session.get(Post, comment.post_id)
    authorize(staff, "neighbours.moderate", post, not_found=CommentNotFound)
    return comment, post


def _hide(target, staff, kind: str, reason: str) -> None:
    if target.status is not ContentStatus.published:
        raise NotPublished(details={"status": target.status.value})
    target.status, target.hidden_reason, target.hidden_at = ContentStatus.hidden, HideReason.staff, utcnow()
    db.session.flush()
    audit.record(f"neighbours.{kind}.hide", actor=staff, target=(f"neighbours_{kind}", target.public_id), reason=reason)
    log.info("%s %s hidden by staff %s", kind, target.id, staff.id)


def _restore(target, staff, kind: str, reason: str) -> None:
    if target.status is not ContentStatus.hidden:
        raise NotHidden(details={"status": target.status.value})
    before = {"hidden_reason": target.hidden_reason.value, "report_count": target.report_count}
    # Restored after review: the count starts again, so new reports (by other residents) can hide it again.
    target.status, target.hidden_reason, target.hidden_at, target.report_count = ContentStatus.published, None, None, 0
    db.session.flush()
    audit.record(
        f"neighbours.{kind}.restore",
        actor=staff,
        target=(f"neighbours_{kind}", target.public_id),
        before=before,
        reason=reason,
    )
    log.info("%s %s restored by staff %s", kind, target.id, staff.id)


def hide_post(staff, public_id: str, reason: str) -> dict:
    with atomic():
        post = _staff_post(staff, public_id)
        _hide(post, staff, "post", reason)
        return post_views(staff, [post], staff=True)[0]


def restore_post(staff, public_id: str, reason: str) -> dict:
    with atomic():
        post = _staff_post(staff, public_id)
        _restore(post, staff, "post", reason)
        return post_views(staff, [post], staff=True)[0]


def _comment_staff_view(comment: Comment) -> dict:
    return {
        "id": comment.public_id,
        "text": comment.text,
        "status": comment.status.value,
        "hidden_reason": comment.hidden_reason.value if comment.hidden_reason else None,
        "report_count": comment.report_count,
        "author": {"id": comment.author.public_id, "name": comment.author.display_name},
        "created_at": comment.created_at,
    }


def hide_comment(staff, public_id: str, reason: str) -> dict:
    with atomic():
        comment, post = _staff_comment(staff, public_id)
        _hide(comment, staff, "comment", reason)
        recount(post.id, comment)
        return _comment_staff_view(comment)


def restore_comment(staff, public_id: str, reason: str) -> dict:
    with atomic():
        comment, post = _staff_comment(staff, public_id)
        _restore(comment, staff, "comment", reason)
        recount(post.id, comment)
        return _comment_staff_view(comment)


def _staff_community(staff, community_public_id: str, action: str) -> Region:
    region = db.session.scalar(
        sa.select(Region).where(Region.public_id == community_public_id, Region.kind == RegionKind.community)
    )
    if region is None:
        raise CommunityNotFound()
    authorize(staff, action, region, not_found=CommunityNotFound)
    return region


def review_queue(staff, community_public_id: str, *, state: str, cursor: str | None, limit: int) -> dict:
    """Posts of a community for review: ``hidden`` (by reports or staff) or ``reported`` (still showing)."""
    region = _staff_community(staff, community_public_id, "neighbours.read")
    query = sa.select(Post).where(Post.community_id == region.id)
    if state == "hidden":
        query = query.where(Post.status == ContentStatus.hidden)
    else:
        query = query.where(Post.status == ContentStatus.published, Post.report_count > 0)
    page = keyset_page(db.session, query, [Post.created_at, Post.public_id], cursor=cursor, limit=limit)
    return {"items": post_views(staff, page["items"], staff=True), "next_cursor": page["next_cursor"]}


def comment_queue(staff, community_public_id: str, *, state: str, cursor: str | None, limit: int) -> dict:
    """Comments of a community for review: ``hidden`` or ``reported`` (still showing)."""
    region = _staff_community(staff, community_public_id, "neighbours.read")
    query = (
        sa.select(Comment)
        .join(Post, Post.id == Comment.post_id)
        .where(Post.community_id == region.id)
        .add_columns(Post.public_id)
    )
    if state == "hidden":
        query = query.where(Comment.status == ContentStatus.hidden)
    else:
        query = query.where(Comment.status == ContentStatus.published, Comment.report_count > 0)
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 2:
            decode_cursor("!")
        query = query.where(sa.tuple_(Comment.created_at, Comment.public_id) < sa.tuple_(*map(sa.literal, values)))
    rows = db.session.execute(
        query.order_by(Comment.created_at.desc(), Comment.public_id.desc()).limit(limit + 1)
    ).all()
    items = [{**_comment_staff_view(comment), "post_id": post_id} for comment, post_id in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor([last.created_at, last.public_id])
    return {"items": items, "next_cursor": next_cursor}


# --- staff: mutes --------------------------------------------------------------------------------------------------


def _mute_view(mute: Mute, user_public_id: str) -> dict:
    return {
        "id": mute.public_id,
        "user_id": user_public_id,
        "until": mute.until,
        "reason": mute.reason,
        "created_at": mute.created_at,
        "lifted_at": mute.lifted_at,
    }


def mute_user(staff, data: dict[str, Any]) -> dict:
    """Silence a user in a community for ``days`` (posts and comments refused with ``user_muted``); audited."""
    with atomic():
        region = _staff_community(staff, data["community_id"], "neighbours.moderate")
        target = db.session.scalar(sa.select(User).where(User.public_id == data["user_id"]))
        if target is None or access.standing_in(target, region.id) is None:
            raise NotFound("该用户不是本社区居民", details={"user_id": data["user_id"]})
        until: datetime = utcnow() + timedelta(days=data["days"])
        mute = Mute(
            community_id=region.id, user_id=target.id, until=until, reason=data["reason"], created_by_user_id=staff.id
        )
        db.session.add(mute)
        db.session.flush()
        audit.record(
            "neighbours.mute",
            actor=staff,
            target=("user", target.public_id),
            after={"community": region.public_id, "until": until, "days": data["days"]},
            reason=data["reason"],
        )
        log.info("user %s muted in community %s until %s by staff %s", target.id, region.id, until, staff.id)
        return _mute_view(mute, target.public_id)


def list_mutes(staff, community_public_id: str, *, cursor: str | None, limit: int) -> dict:
    """Mutes in force in a community (not lifted, not yet over), newest first."""
    region = _staff_community(staff, community_public_id, "neighbours.read")
    query = sa.select(Mute).where(Mute.community_id == region.id, Mute.lifted_at.is_(None), Mute.until > utcnow())
    page = keyset_page(db.session, query, [Mute.created_at, Mute.public_id], cursor=cursor, limit=limit)
    ids = {mute.user_id for mute in page["items"]}
    users = dict(db.session.execute(sa.select(User.id, User.public_id).where(User.id.in_(ids))).all()) if ids else {}
    return {"items": [_mute_view(m, users[m.user_id]) for m in page["items"]], "next_cursor": page["next_cursor"]}


def lift_mute(staff, public_id: str, reason: str) -> dict:
    with atomic():
        mute = db.session.scalar(sa.select(Mute).where(Mute.public_id == public_id).with_for_update())
        if mute is None:
            raise MuteNotFound()
        authorize(staff, "neighbours.moderate", db.session.get(Region, mute.community_id), not_found=MuteNotFound)
        target = db.session.get(User, mute.user_id)
        if mute.lifted_at is None:
            mute.lifted_at, mute.lifted_by_user_id = utcnow(), staff.id
            db.session.flush()
            audit.record("neighbours.mute.lift", actor=staff, target=("user", target.public_id), reason=reason)
        return _mute_view(mute, target.public_id)


# --- staff: images -------------------------------------------------------------------------------------------------


def image_queue(staff, community_public_id: str, *, review: ImageReview | None, cursor: str | None, limit: int) -> dict:
    """Pending images of a community, oldest waiting last (newest first); staff may decide any of them."""
    region = _staff_community(staff, community_public_id, "neighbours.read")
    query = sa.select(PostImage).where(PostImage.community_id == region.id, PostImage.status == ImageStatus.pending)
    if review is not None:
        query = query.where(PostImage.review == review)
    page = keyset_page(db.session, query, [PostImage.created_at, PostImage.file_public_id], cursor=cursor, limit=limit)
    post_ids = {image.post_id for image in page["items"]}
    posts = (
        dict(db.session.execute(sa.select(Post.id, Post.public_id).where(Post.id.in_(post_ids))).all())
        if post_ids
        else {}
    )
    return {
        "items": [_image_view(staff, image, posts[image.post_id]) for image in page["items"]],
        "next_cursor": page["next_cursor"],
    }


def _image_view(staff, image: PostImage, post_public_id: str) -> dict:
    return {
        "id": image.file_public_id,
        "post_id": post_public_id,
        "url": moderation.image_url(image, staff),
        "review": image.review.value,
        "status": image.status.value,
        "note": image.decision_note,
        "created_at": image.created_at,
    }


def decide_image(staff, file_public_id: str, *, approve: bool, note: str | None) -> dict:
    """Staff approve or reject a pending image (whichever check it was waiting for); audited."""
    with atomic():
        image = db.session.scalar(
            sa.select(PostImage).where(PostImage.file_public_id == file_public_id).with_for_update()
        )
        if image is None:
            raise ImageNotFound()
        post = db.session.get(Post, image.post_id)
        authorize(staff, "neighbours.moderate", post, not_found=ImageNotFound)
        if image.status is not ImageStatus.pending:
            raise ImageAlreadyDecided(details={"status": image.status.value})
        image.status = ImageStatus.approved if approve else ImageStatus.rejected
        image.decided_at, image.decided_by_user_id, image.decision_note = utcnow(), staff.id, note
        db.session.flush()
        audit.record(
            "neighbours.image." + ("approve" if approve else "reject"),
            actor=staff,
            target=("neighbours_post", post.public_id),
            after={"image": file_public_id},
            reason=note,
        )
        return _image_view(staff, image, post.public_id)
