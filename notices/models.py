"""The notice table: one row per notice, its audience kept as data (resolved to SQL when it is published)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id
from app.extensions import db
from notices.errors import NoticeNotEditable, NoticeNotWithdrawable


class NoticeChannel(enum.Enum):
    """Where a notice is filed for residents (stable English codes, Chinese names in ``CHANNEL_NAMES``)."""

    announcement = "announcement"  # 社区公告
    organization = "organization"  # 社区组织
    information = "information"  # 社区信息
    activity = "activity"  # 社区活动


CHANNEL_NAMES = {
    NoticeChannel.announcement: "社区公告",
    NoticeChannel.organization: "社区组织",
    NoticeChannel.information: "社区信息",
    NoticeChannel.activity: "社区活动",
}


class NoticeStatus(enum.Enum):
    draft = "draft"
    scheduled = "scheduled"  # waiting for publish_at (an outbox row due then)
    published = "published"
    withdrawn = "withdrawn"


class Notice(db.Model):
    """A staff notice posted at a community, street or district (``region_id``), to an audience inside it."""

    __tablename__ = "notices_notices"
    __table_args__ = (
        sa.Index("ix_notices_notices_region_feed", "region_id", "created_at", "public_id"),
        sa.CheckConstraint("status <> 'scheduled' OR publish_at IS NOT NULL", name="scheduled_has_time"),
        sa.CheckConstraint("status <> 'published' OR published_at IS NOT NULL", name="published_has_time"),
        sa.CheckConstraint("status <> 'withdrawn' OR withdrawn_at IS NOT NULL", name="withdrawn_has_time"),
        sa.CheckConstraint("expires_at IS NULL OR publish_at IS NULL OR expires_at > publish_at", name="expires_later"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    #: The community, street or district the notice is posted at (its staff manage it).
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    channel: Mapped[NoticeChannel] = mapped_column(default=NoticeChannel.announcement)
    title: Mapped[str] = mapped_column(sa.String(100))
    #: Markdown source; rendered and sanitised when shown (``notices.markdown``).
    body: Mapped[str] = mapped_column(sa.Text)
    urgent: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: Pinned notices head the residents' feed.
    pinned: Mapped[bool] = mapped_column(default=False)
    status: Mapped[NoticeStatus] = mapped_column(default=NoticeStatus.draft)
    #: ``{"expression": {...}}``: an and/or/not tree over places, tags and age (public ids and tag codes; see
    #: ``notices.audience``). Rows drafted before expressions hold the places-and-tags form, read the same way.
    audience: Mapped[dict[str, Any]]
    publish_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    #: After this the notice leaves the residents' feed (it can still be opened from the inbox).
    expires_at: Mapped[datetime | None]
    #: When staff sent the one reminder to the unread (set by a conditional UPDATE: a second one is refused).
    reminded_at: Mapped[datetime | None]
    #: The push delivery's public id once published.
    delivery_id: Mapped[str | None] = mapped_column(sa.String(24))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now(), onupdate=sa.func.now())

    def ensure_draft(self) -> None:
        if self.status is not NoticeStatus.draft:
            raise NoticeNotEditable(details={"status": self.status.value})

    def withdraw(self, at: datetime) -> None:
        if self.status not in (NoticeStatus.scheduled, NoticeStatus.published):
            raise NoticeNotWithdrawable(details={"status": self.status.value})
        self.status, self.withdrawn_at = NoticeStatus.withdrawn, at
