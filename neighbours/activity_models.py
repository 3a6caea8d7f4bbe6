"""Activities and volunteering (社区活动、志愿服务): an activity of one community with time, place, capacity and a
sign-up deadline; sign-ups (confirmed up to capacity, then a waitlist in order), check-in, and for volunteer
activities the minutes served recorded at check-out.

``Activity.confirmed_count`` moves only in statements run while the activity row is locked ``FOR UPDATE``, and the
database checks it never passes ``capacity``; ``Activity.queue_seq`` numbers sign-ups in the order they took the
lock, which is the waitlist's order.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id
from app.extensions import db


class ActivityStatus(enum.Enum):
    draft = "draft"  # staff are still writing it; residents do not see it
    published = "published"
    cancelled = "cancelled"  # called off by staff; its sign-ups are told


class SignupStatus(enum.Enum):
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    cancelled = "cancelled"


class Activity(db.Model):
    __tablename__ = "neighbours_activities"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("signup_deadline <= starts_at", name="deadline_before_start"),
        sa.CheckConstraint("capacity BETWEEN 1 AND 10000", name="capacity_range"),
        sa.CheckConstraint("confirmed_count BETWEEN 0 AND capacity", name="confirmed_within_capacity"),
        sa.CheckConstraint("waitlist_count >= 0 AND queue_seq >= 0", name="counts_not_negative"),
        sa.CheckConstraint("(status = 'published') = (published_at IS NOT NULL)", name="published_has_time"),
        sa.CheckConstraint("status <> 'cancelled' OR cancelled_at IS NOT NULL", name="cancelled_has_time"),
        sa.Index("ix_neighbours_activities_upcoming", "community_id", "status", "starts_at", "public_id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(sa.String(60))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    place: Mapped[str] = mapped_column(sa.String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    signup_deadline: Mapped[datetime]
    capacity: Mapped[int]
    #: A volunteer activity (志愿服务): check-out records the minutes each volunteer served.
    volunteer: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    status: Mapped[ActivityStatus] = mapped_column(default=ActivityStatus.draft)
    confirmed_count: Mapped[int] = mapped_column(default=0, server_default="0")
    waitlist_count: Mapped[int] = mapped_column(default=0, server_default="0")
    #: The last queue number handed to a sign-up (taken under the activity's row lock).
    queue_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class ActivitySignup(db.Model):
    """One person's place in an activity (one row per person and activity; a cancelled one may sign up again and
    takes a new queue number)."""

    __tablename__ = "neighbours_activity_signups"
    __table_args__ = (
        sa.UniqueConstraint("activity_id", "resident_id"),
        sa.Index("ix_neighbours_activity_signups_queue", "activity_id", "status", "queue_no"),
        sa.Index("ix_neighbours_activity_signups_resident", "resident_id", "checked_out_at"),
        sa.CheckConstraint("checked_out_at IS NULL OR checked_in_at IS NOT NULL", name="checkout_after_checkin"),
        sa.CheckConstraint(
            "(volunteer_minutes IS NULL) = (checked_out_at IS NULL)"
            " AND coalesce(volunteer_minutes, 0) BETWEEN 0 AND 1440",
            name="minutes_at_checkout",
        ),
        sa.CheckConstraint("status <> 'cancelled' OR cancelled_at IS NOT NULL", name="cancelled_has_time"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("neighbours_activities.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"))
    #: Who signed up: the resident's own account, or a delegate's (scope ``activities``).
    signed_up_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    status: Mapped[SignupStatus]
    queue_no: Mapped[int] = mapped_column(sa.BigInteger)
    promoted_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    #: Minutes served (volunteer activities), from check-in to check-out or as staff entered them.
    volunteer_minutes: Mapped[int | None]
    created_at: Mapped[created_at]
