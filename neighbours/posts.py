"""Posts, likes and feeds: write a post (checked before it shows), open one, delete one's own, like, and read the
community's feeds by newest, by topic and hot (a ranking frozen per snapshot).

Every page costs the same statements whatever its size: the caller's standing (1), the page (1, authors joined),
the page's images (1) and the caller's likes among them (1).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit, files, wechat
from app.api import decode_cursor, encode_cursor, keyset_page
from app.auth.scopes import can
from app.db import atomic, new_public_id, utcnow
from app.extensions import db
from neighbours import access, moderation
from neighbours.errors import (
    GroupMembersOnly,
    GroupNotFound,
    HotSnapshotExpired,
    NotAuthor,
    NotPublished,
    PostNotFound,
)
from neighbours.models import (
    ContentStatus,
    Group,
    GroupMember,
    GroupMemberStatus,
    HotSnapshot,
    ImageStatus,
    Like,
    Post,
    PostImage,
    Topic,
)

log = logging.getLogger(__name__)

#: Hot ranking: posts of the last week, at most this many per snapshot, which lives an hour.
HOT_WINDOW = timedelta(days=7)
HOT_MAX_POSTS = 500
HOT_SNAPSHOT_TTL = timedelta(hours=1)


# --- lookups and visibility ----------------------------------------------------------------------------------------


def _is_active_member(user_id: int, group_id: int) -> bool:
    return bool(
        db.session.scalar(
            sa.select(
                sa.exists().where(
                    GroupMember.group_id == group_id,
                    GroupMember.user_id == user_id,
                    GroupMember.status == GroupMemberStatus.active,
                )
            )
        )
    )


def _group_allows(user_id: int, post: Post) -> bool:
    """Posts of a closed group are for its members only."""
    if post.group_id is None:
        return True
    group = db.session.get(Group, post.group_id)
    return not group.closed or _is_active_member(user_id, group.id)


def readable_post(user, public_id: str, *, lock: bool = False) -> tuple[Post, access.Standing]:
    """The post with the caller's standing in its community, if the caller may see it.

    :raises PostNotFound: no such post, another community's, building-only for another building, hidden, deleted,
        or in a closed group the caller is not a member of.
    """
    query = sa.select(Post).where(Post.public_id == public_id)
    if lock:
        query = query.with_for_update(of=Post)
    post = db.session.scalar(query)
    if post is None:
        raise PostNotFound()
    place = access.standing_in(user, post.community_id)
    if not access.can_see(place, post) or not _group_allows(user.id, post):
        raise PostNotFound()
    return post, place


def _can_read_image(user, post_id: int) -> bool:
    post = db.session.get(Post, post_id)
    if post is None:
        return False
    if can(user, "neighbours.read", post):
        return True
    place = access.standing_in(user, post.community_id)
    return access.can_see(place, post) and _group_allows(user.id, post)


files.register_owner_kind(moderation.IMAGE_OWNER_KIND, _can_read_image)


# --- writing -------------------------------------------------------------------------------------------------------


def create_post(user, data: dict[str, Any]) -> Post:
    """Publish a post in the caller's community (or one of its groups).

    :raises ResidentNotVerified: :raises UserMuted: :raises ContentRejected: :raises ContentRisky:
    :raises ContentCheckUnavailable: :raises GroupNotFound: :raises GroupMembersOnly:
    :raises ValidationFailed: a building-only post by someone living in several buildings, or a bad image.
    """
    with atomic():
        place = access.standing(user, data.get("community_id"))
        access.ensure_can_write(place)
        group_id = None
        if data.get("group_id"):
            group = db.session.scalar(
                sa.select(Group).where(Group.public_id == data["group_id"], Group.community_id == place.community_id)
            )
            if group is None:
                raise GroupNotFound()
            if not _is_active_member(user.id, group.id):
                raise GroupMembersOnly()
            group_id = group.id
        building_id = None
        if data.get("building_only"):
            building_id = _only_building(place, data.get("building_id"))
        text = moderation.screen_text(user, place.community_id, data["text"].strip(), scene=wechat.SCENE_FORUM)
        post = Post(
            community_id=place.community_id,
            author_user_id=user.id,
            author_resident_id=place.resident_id,
            group_id=group_id,
            building_id=building_id,
            topic=data["topic"],
            text=text,
            # The moment of the insert, not of the transaction's start: feed order follows the writing order.
            created_at=sa.func.clock_timestamp(),
        )
        db.session.add(post)
        db.session.flush()
        moderation.add_images(user, post, list(dict.fromkeys(data.get("image_ids") or [])))
        log.info("post %s published in community %s by user %s", post.id, place.community_id, user.id)
        return post


def _only_building(place: access.Standing, building_public_id: str | None) -> int:
    from app.community.models import Building
    from app.errors import ValidationFailed

    if building_public_id is None:
        if len(place.building_ids) == 1:
            return next(iter(place.building_ids))
        raise ValidationFailed(details={"fields": {"building_id": ["您在多栋楼有住房，请指定楼栋"]}})
    building_id = db.session.scalar(sa.select(Building.id).where(Building.public_id == building_public_id))
    if building_id not in place.building_ids:
        raise ValidationFailed(details={"fields": {"building_id": ["只能选择您居住的楼栋"]}})
    return building_id


def delete_post(user, public_id: str) -> None:
    """The author deletes their post (it disappears for everyone; the row stays for moderation history)."""
    with atomic():
        post, _place = readable_post(user, public_id, lock=True)
        if post.author_user_id != user.id:
            raise NotAuthor()  # the caller sees the post: refusing, not hiding it
        post.status, post.hidden_reason, post.hidden_at = ContentStatus.deleted, None, None
        db.session.flush()
        audit.record("neighbours.post.delete", actor=user, target=("neighbours_post", post.public_id))


# --- likes ---------------------------------------------------------------------------------------------------------


def like_post(user, public_id: str) -> dict[str, Any]:
    """Like a post once: a second like by the same user changes nothing. The count moves only with the row
    inserted (an ``INSERT … ON CONFLICT DO NOTHING`` then an ``UPDATE … SET like_count = like_count + 1``), so
    concurrent likes are all counted and a double tap counts once."""
    with atomic():
        post, place = readable_post(user, public_id)
        access.ensure_verified(place)
        if post.status is not ContentStatus.published:
            raise NotPublished()
        inserted = db.session.execute(
            pg_insert(Like).values(post_id=post.id, user_id=user.id).on_conflict_do_nothing().returning(Like.post_id)
        ).scalar()
        count = db.session.execute(
            sa.update(Post)
            .where(Post.id == post.id)
            .values(like_count=Post.like_count + (1 if inserted else 0))
            .returning(Post.like_count)
        ).scalar_one()
        return {"liked": True, "like_count": count}


def unlike_post(user, public_id: str) -> dict[str, Any]:
    with atomic():
        post, _place = readable_post(user, public_id)
        removed = db.session.execute(
            sa.delete(Like).where(Like.post_id == post.id, Like.user_id == user.id).returning(Like.post_id)
        ).scalar()
        count = db.session.execute(
            sa.update(Post)
            .where(Post.id == post.id)
            .values(like_count=Post.like_count - (1 if removed else 0))
            .returning(Post.like_count)
        ).scalar_one()
        return {"liked": False, "like_count": count}


# --- views ---------------------------------------------------------------------------------------------------------


def post_views(user, posts: list[Post], *, staff: bool = False) -> list[dict[str, Any]]:
    """Posts as a reader sees them: approved images (all of them, with their state, for the author and staff) and
    whether the reader liked each. Two statements whatever the number of posts."""
    ids = [post.id for post in posts]
    images: dict[int, list[PostImage]] = {}
    liked: set[int] = set()
    if ids:
        for image in db.session.scalars(
            sa.select(PostImage).where(PostImage.post_id.in_(ids)).order_by(PostImage.post_id, PostImage.position)
        ):
            images.setdefault(image.post_id, []).append(image)
        liked = set(db.session.scalars(sa.select(Like.post_id).where(Like.user_id == user.id, Like.post_id.in_(ids))))
    group_ids = {post.group_id for post in posts if post.group_id is not None}
    groups = (
        dict(db.session.execute(sa.select(Group.id, Group.public_id).where(Group.id.in_(group_ids))).all())
        if group_ids
        else {}
    )
    return [
        _view(user, post, images.get(post.id, []), post.id in liked, groups.get(post.group_id), staff=staff)
        for post in posts
    ]


def _view(user, post: Post, images: list[PostImage], liked: bool, group: str | None, *, staff: bool) -> dict:
    mine = post.author_user_id == user.id
    shown = [
        {
            "id": image.file_public_id,
            "url": moderation.image_url(image, user),
            "status": image.status.value if (mine or staff) else None,
        }
        for image in images
        if image.status is ImageStatus.approved or ((mine or staff) and image.status is ImageStatus.pending)
    ]
    return {
        "id": post.public_id,
        "topic": post.topic,
        "text": post.text,
        "images": shown,
        "building_only": post.building_id is not None,
        "group_id": group,
        "author": {"id": post.author.public_id, "name": post.author.display_name},
        "like_count": post.like_count,
        "comment_count": post.comment_count,
        "liked": liked,
        "mine": mine,
        "status": post.status.value,
        "hidden_reason": post.hidden_reason.value if post.hidden_reason and (mine or staff) else None,
        "report_count": post.report_count if staff else None,
        "created_at": post.created_at,
    }


def open_post(user, public_id: str) -> dict[str, Any]:
    """A post the caller may see (staff over its community see it in any state)."""
    post = db.session.scalar(sa.select(Post).where(Post.public_id == public_id))
    if post is not None and can(user, "neighbours.read", post):
        return post_views(user, [post], staff=True)[0]
    post, _place = readable_post(user, public_id)
    return post_views(user, [post])[0]


# --- feeds ---------------------------------------------------------------------------------------------------------


def feed(user, *, community_id: str | None, topic: Topic | None, sort: str, cursor: str | None, limit: int) -> dict:
    """The community's feed (posts outside groups): newest first, or hot."""
    place = access.standing(user, community_id)
    filters = [access.visible_to(place), Post.group_id.is_(None)]
    if topic is not None:
        filters.append(Post.topic == topic)
    if sort == "hot":
        return _hot_page(user, place, filters, cursor=cursor, limit=limit)
    page = keyset_page(
        db.session, sa.select(Post).where(*filters), [Post.created_at, Post.public_id], cursor=cursor, limit=limit
    )
    return {"items": post_views(user, page["items"]), "next_cursor": page["next_cursor"]}


def group_feed(user, group_public_id: str, *, cursor: str | None, limit: int) -> dict:
    """Posts of an interest group, newest first; a closed group's only for its members."""
    group = db.session.scalar(sa.select(Group).where(Group.public_id == group_public_id))
    place = access.standing_in(user, group.community_id) if group is not None else None
    if place is None:
        raise GroupNotFound()
    if group.closed and not _is_active_member(user.id, group.id):
        raise GroupMembersOnly()
    query = sa.select(Post).where(access.visible_to(place), Post.group_id == group.id)
    page = keyset_page(db.session, query, [Post.created_at, Post.public_id], cursor=cursor, limit=limit)
    return {"items": post_views(user, page["items"]), "next_cursor": page["next_cursor"]}


def _hot_score():
    """(likes + 2 × comments + 1) / (age in hours + 2)^1.5: fresh, liked and discussed posts first."""
    age_hours = sa.extract("epoch", sa.func.now() - Post.created_at) / 3600.0
    return (Post.like_count + 2 * Post.comment_count + 1) / sa.func.power(age_hours + 2, 1.5)


def _hot_page(user, place: access.Standing, filters: list, *, cursor: str | None, limit: int) -> dict:
    """A page of the hot feed. The first page ranks the posts once and stores the order as a snapshot (one
    ``INSERT … SELECT``); the cursor names the snapshot and an offset, so later pages read the frozen order while
    likes and comments keep changing. Posts hidden or deleted since are left out of later pages."""
    if cursor is None:
        ranked = (
            sa.select(Post.id, _hot_score().label("score"))
            .where(*filters, Post.created_at > sa.func.now() - HOT_WINDOW)
            .order_by(sa.desc("score"), Post.id.desc())
            .limit(HOT_MAX_POSTS)
            .subquery()
        )
        ordered = sa.select(
            sa.func.coalesce(
                sa.func.array_agg(aggregate_order_by(ranked.c.id, ranked.c.score.desc(), ranked.c.id.desc())),
                sa.literal_column("'{}'::bigint[]"),
            )
        ).scalar_subquery()
        offset = 0
        with atomic():  # the snapshot must outlive this otherwise read-only request
            snapshot_id, ids, total = db.session.execute(
                pg_insert(HotSnapshot)
                .values(
                    public_id=new_public_id(),
                    community_id=place.community_id,
                    user_id=user.id,
                    post_ids=ordered,
                    expires_at=utcnow() + HOT_SNAPSHOT_TTL,
                )
                .returning(
                    HotSnapshot.public_id, HotSnapshot.post_ids[1:limit], sa.func.cardinality(HotSnapshot.post_ids)
                )
            ).one()
    else:
        values = decode_cursor(cursor)
        if len(values) != 3 or values[0] != "hot" or not isinstance(values[2], int) or values[2] < 0:
            decode_cursor("!")  # the same validation error as any bad cursor
        snapshot_id, offset = str(values[1]), values[2]
        row = db.session.execute(
            sa.select(
                HotSnapshot.post_ids[offset + 1 : offset + limit], sa.func.cardinality(HotSnapshot.post_ids)
            ).where(
                HotSnapshot.public_id == snapshot_id,
                HotSnapshot.user_id == user.id,
                HotSnapshot.community_id == place.community_id,
                HotSnapshot.expires_at > utcnow(),
            )
        ).one_or_none()
        if row is None:
            raise HotSnapshotExpired()
        ids, total = row
    ids = list(ids or [])
    posts = {post.id: post for post in db.session.scalars(sa.select(Post).where(Post.id.in_(ids), *filters))}
    items = [posts[post_id] for post_id in ids if post_id in posts]
    more = offset + limit < (total or 0)
    next_cursor = encode_cursor(["hot", snapshot_id, offset + limit]) if more else None
    return {"items": post_views(user, items), "next_cursor": next_cursor}
