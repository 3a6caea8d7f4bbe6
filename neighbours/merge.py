"""A staff account merge moves 邻里圈 rows from the folded account to the one kept (``register_merge_step``).

Posts, comments, owned groups, mutes and hot snapshots move as they are. Likes, group memberships and reports are
one per account: where both accounts hold one for the same post or group, the folded account's row is dropped and
the counter it fed goes down by one, so every count still equals its rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.auth.merge import register_merge_step
from app.extensions import db
from neighbours.models import (
    Comment,
    Group,
    GroupMember,
    GroupMemberStatus,
    HotSnapshot,
    Like,
    Mute,
    Post,
    Report,
)


def _drop_duplicates(model, key_column, user_column, absorbed: int, survivor: int, *extra_returning):
    """Delete the folded account's rows that the kept account also holds; return what they were keyed by."""
    kept = aliased(model)
    same_key = sa.select(getattr(kept, key_column.key)).where(getattr(kept, user_column.key) == survivor)
    return db.session.execute(
        sa.delete(model)
        .where(user_column == absorbed, key_column.in_(same_key))
        .returning(key_column, *extra_returning)
    ).all()


def merge_accounts(absorbed: int, survivor: int) -> None:
    for column in (Post.author_user_id, Comment.author_user_id, Group.owner_user_id, Mute.user_id, HotSnapshot.user_id):
        db.session.execute(sa.update(column.class_).where(column == absorbed).values({column.key: survivor}))
    db.session.execute(sa.update(Comment).where(Comment.reply_to_user_id == absorbed).values(reply_to_user_id=survivor))

    for (post_id,) in _drop_duplicates(Like, Like.post_id, Like.user_id, absorbed, survivor):
        db.session.execute(sa.update(Post).where(Post.id == post_id).values(like_count=Post.like_count - 1))
    db.session.execute(sa.update(Like).where(Like.user_id == absorbed).values(user_id=survivor))

    for group_id, status in _drop_duplicates(
        GroupMember, GroupMember.group_id, GroupMember.user_id, absorbed, survivor, GroupMember.status
    ):
        if status is GroupMemberStatus.active:
            db.session.execute(sa.update(Group).where(Group.id == group_id).values(member_count=Group.member_count - 1))
    db.session.execute(sa.update(GroupMember).where(GroupMember.user_id == absorbed).values(user_id=survivor))

    kept = aliased(Report)
    duplicates = db.session.execute(
        sa.delete(Report)
        .where(
            Report.reporter_user_id == absorbed,
            sa.exists().where(
                kept.reporter_user_id == survivor,
                kept.post_id == Report.post_id,
                kept.comment_id.is_not_distinct_from(Report.comment_id),
            ),
        )
        .returning(Report.post_id, Report.comment_id)
    ).all()
    for post_id, comment_id in duplicates:
        model, target = (Comment, comment_id) if comment_id is not None else (Post, post_id)
        db.session.execute(
            sa.update(model)
            .where(model.id == target, model.report_count > 0)
            .values(report_count=model.report_count - 1)
        )
    db.session.execute(sa.update(Report).where(Report.reporter_user_id == absorbed).values(reporter_user_id=survivor))


register_merge_step("neighbours", merge_accounts)
