"""邻里圈 tables: posts with images, comments (one level of replies), likes, reports, interest groups, sensitive
words, mutes and frozen hot-feed snapshots. Everything belongs to one community (``community_id``)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import created_at, intpk, public_id
from app.extensions import db


class Topic(enum.Enum):
    """Post topics: stable English codes, Chinese labels in ``TOPIC_LABELS``."""

    pets = "pets"
    sports = "sports"
    parenting = "parenting"
    rants = "rants"
    secondhand = "secondhand"
    rental = "rental"
    help = "help"
    carpool = "carpool"
    other = "other"


TOPIC_LABELS = {
    Topic.pets: "宠物",
    Topic.sports: "运动",
    Topic.parenting: "宝妈/亲子",
    Topic.rants: "吐槽",
    Topic.secondhand: "二手闲置",
    Topic.rental: "租房",
    Topic.help: "求助",
    Topic.carpool: "拼车",
    Topic.other: "其他",
}


class ContentStatus(enum.Enum):
    published = "published"
    hidden = "hidden"  # by reports (pending review) or by staff; staff may restore it
    deleted = "deleted"  # by its author


class HideReason(enum.Enum):
    reports = "reports"  # NEIGHBOURS_REPORT_THRESHOLD reports: hidden pending staff review
    staff = "staff"


class Group(db.Model):
    """An interest group (兴趣小组) inside one community. Closed groups show their posts to members only and take
    new members on the owner's approval."""

    __tablename__ = "neighbours_groups"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "name"),
        sa.UniqueConstraint("id", "community_id", name="uq_neighbours_groups_id_community_id"),
        sa.CheckConstraint("member_count >= 0", name="member_count_not_negative"),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 30", name="name_length"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(30))
    description: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    closed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    owner_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), index=True)
    #: Active members, kept by the same statements that add and remove them.
    member_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[created_at]


class GroupMemberStatus(enum.Enum):
    pending = "pending"  # asked to join a closed group
    active = "active"


class GroupMember(db.Model):
    __tablename__ = "neighbours_group_members"
    __table_args__ = (sa.UniqueConstraint("group_id", "user_id"),)

    id: Mapped[intpk]
    group_id: Mapped[int] = mapped_column(sa.ForeignKey("neighbours_groups.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), index=True)
    status: Mapped[GroupMemberStatus]
    created_at: Mapped[created_at]


class Post(db.Model):
    """A post (动态) by a verified resident, seen by the residents of its community (or of one building)."""

    __tablename__ = "neighbours_posts"
    __table_args__ = (
        # The building and the group must be of the post's own community (MATCH SIMPLE: NULL skips the check).
        sa.ForeignKeyConstraint(
            ["building_id", "community_id"],
            ["community_buildings.id", "community_buildings.community_id"],
            name="fk_neighbours_posts_building_id_community_buildings",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["group_id", "community_id"],
            ["neighbours_groups.id", "neighbours_groups.community_id"],
            name="fk_neighbours_posts_group_id_neighbours_groups",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("char_length(text) BETWEEN 1 AND 2000", name="text_length"),
        sa.CheckConstraint("like_count >= 0 AND comment_count >= 0 AND report_count >= 0", name="counts_not_negative"),
        sa.CheckConstraint("(status = 'hidden') = (hidden_reason IS NOT NULL)", name="hidden_has_reason"),
        sa.Index("ix_neighbours_posts_feed", "community_id", "created_at", "public_id"),
        sa.Index("ix_neighbours_posts_topic_feed", "community_id", "topic", "created_at", "public_id"),
        sa.Index("ix_neighbours_posts_group_feed", "group_id", "created_at", "public_id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    author_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), index=True)
    #: The author's resident record (push reaches residents); kept when the account is deleted and anonymised.
    author_resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="SET NULL"))
    #: Set for posts in an interest group (shown in the group's feed, not the community's).
    group_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Set for building-only posts: only residents with an active membership in this building see them.
    building_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    topic: Mapped[Topic]
    text: Mapped[str] = mapped_column(sa.Text, comment="After the sensitive-word filter (masked words as *)")
    status: Mapped[ContentStatus] = mapped_column(default=ContentStatus.published)
    hidden_reason: Mapped[HideReason | None]
    hidden_at: Mapped[datetime | None]
    like_count: Mapped[int] = mapped_column(default=0, server_default="0")
    comment_count: Mapped[int] = mapped_column(default=0, server_default="0")
    report_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[created_at]

    author: Mapped[User] = relationship(foreign_keys=[author_user_id], viewonly=True, lazy="joined")


class ImageReview(enum.Enum):
    wechat = "wechat"  # WeChat's asynchronous media check (the author signed in through the mini-program)
    staff = "staff"  # staff look at it (phone-app authors, WeChat unavailable, or WeChat said "review")


class ImageStatus(enum.Enum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class PostImage(db.Model):
    """One image of a post (up to 9). Hidden from everyone but its author until its check approves it."""

    __tablename__ = "neighbours_post_images"
    __table_args__ = (
        sa.UniqueConstraint("post_id", "position"),
        sa.CheckConstraint("position BETWEEN 0 AND 8", name="position_range"),
        sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_has_time"),
        sa.Index("ix_neighbours_post_images_worklist", "community_id", "status", "created_at", "file_public_id"),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("neighbours_posts.id", ondelete="CASCADE"))
    #: Copied from the post for the staff worklist.
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    file_id: Mapped[int] = mapped_column(sa.ForeignKey("core_files.id", ondelete="RESTRICT"), unique=True)
    #: The file's public id (URLs are built from it without loading the file row).
    file_public_id: Mapped[str] = mapped_column(sa.String(24))
    review: Mapped[ImageReview]
    status: Mapped[ImageStatus] = mapped_column(default=ImageStatus.pending)
    #: WeChat's task id for the asynchronous check; its callback names it.
    trace_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    #: WeChat's suggestion or the staff note.
    decision_note: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[created_at]


class Comment(db.Model):
    """A comment on a post, or a reply to one (one level: a reply's parent is always a top-level comment, which the
    database checks through the composite foreign key on ``(parent_id, post_id, parent_depth)``)."""

    __tablename__ = "neighbours_comments"
    __table_args__ = (
        sa.UniqueConstraint("id", "post_id", "depth", name="uq_neighbours_comments_id_post_id_depth"),
        sa.ForeignKeyConstraint(
            ["parent_id", "post_id", "parent_depth"],
            ["neighbours_comments.id", "neighbours_comments.post_id", "neighbours_comments.depth"],
            name="fk_neighbours_comments_parent_id_neighbours_comments",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "(parent_id IS NULL AND depth = 0 AND parent_depth IS NULL)"
            " OR (parent_id IS NOT NULL AND depth = 1 AND parent_depth = 0)",
            name="one_level_of_replies",
        ),
        sa.CheckConstraint("char_length(text) BETWEEN 1 AND 500", name="text_length"),
        sa.CheckConstraint("reply_count >= 0 AND report_count >= 0", name="counts_not_negative"),
        sa.CheckConstraint("(status = 'hidden') = (hidden_reason IS NOT NULL)", name="hidden_has_reason"),
        sa.Index("ix_neighbours_comments_thread", "post_id", "parent_id", "created_at", "public_id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("neighbours_posts.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    depth: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    parent_depth: Mapped[int | None] = mapped_column(sa.SmallInteger)
    author_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), index=True)
    author_resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="SET NULL"))
    #: The person a reply answers (the top-level comment's author, or the author of the reply answered).
    reply_to_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[ContentStatus] = mapped_column(default=ContentStatus.published)
    hidden_reason: Mapped[HideReason | None]
    hidden_at: Mapped[datetime | None]
    reply_count: Mapped[int] = mapped_column(default=0, server_default="0")
    report_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[created_at]

    author: Mapped[User] = relationship(foreign_keys=[author_user_id], viewonly=True, lazy="joined")


class Like(db.Model):
    """One like per user and post; ``Post.like_count`` moves with the insert or delete that changed a row."""

    __tablename__ = "neighbours_likes"

    post_id: Mapped[int] = mapped_column(sa.ForeignKey("neighbours_posts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[created_at]


class ReportReason(enum.Enum):
    spam = "spam"  # 垃圾广告
    abuse = "abuse"  # 辱骂攻击
    fraud = "fraud"  # 诈骗
    illegal = "illegal"  # 违法违规
    privacy = "privacy"  # 泄露隐私
    other = "other"


class Report(db.Model):
    """A resident's report of a post or of a comment (``comment_id`` set); one per reporter and target."""

    __tablename__ = "neighbours_reports"
    __table_args__ = (
        sa.UniqueConstraint("reporter_user_id", "post_id", "comment_id", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("neighbours_posts.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("neighbours_comments.id", ondelete="CASCADE"), index=True
    )
    reporter_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"))
    reason: Mapped[ReportReason]
    note: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[created_at]


class WordAction(enum.Enum):
    mask = "mask"  # replaced by * of the same length
    reject = "reject"  # the post or comment is refused


class SensitiveWord(db.Model):
    """A word the filter acts on: everywhere (``region_id`` NULL, platform admins) or inside a district, street or
    community (its staff). Seeded with a few words by the migration."""

    __tablename__ = "neighbours_sensitive_words"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "word", postgresql_nulls_not_distinct=True),
        sa.CheckConstraint("char_length(word) BETWEEN 1 AND 32 AND word = lower(word)", name="word_form"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="CASCADE"))
    word: Mapped[str] = mapped_column(sa.String(32))
    action: Mapped[WordAction]
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class Mute(db.Model):
    """Staff silenced a user in a community until ``until`` (or until lifted): no posts or comments there."""

    __tablename__ = "neighbours_mutes"
    __table_args__ = (
        sa.Index("ix_neighbours_mutes_user_community", "user_id", "community_id", "until"),
        sa.CheckConstraint("until > created_at", name="until_after_start"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"))
    until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    lifted_at: Mapped[datetime | None]
    lifted_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))


class HotSnapshot(db.Model):
    """The hot ranking of one community as one reader saw it when they opened the feed: post ids in rank order,
    frozen so later pages neither skip nor repeat while likes change. Expires after an hour; a periodic task
    deletes expired snapshots."""

    __tablename__ = "neighbours_hot_snapshots"

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"))
    post_ids: Mapped[list[int]] = mapped_column(ARRAY(sa.BigInteger))
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime] = mapped_column(index=True)
