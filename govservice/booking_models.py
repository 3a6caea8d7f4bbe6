"""Window appointments (预约): slots with their booked counts, bookings, queue counters (取号) and suspensions."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id
from app.extensions import db


class Slot(db.Model):
    """A bookable time of a window on one day. Rows are made on first booking; ``booked`` is the guard.

    Capacity is taken with one statement (``INSERT … ON CONFLICT DO UPDATE SET booked = booked + 1 WHERE booked <
    capacity``), never read and then written, and the CHECK below makes overselling impossible even for a bug.
    """

    __tablename__ = "govservice_slots"
    __table_args__ = (
        sa.UniqueConstraint("window_id", "starts_at"),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
        sa.CheckConstraint("capacity >= 1", name="capacity_positive"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[intpk]
    window_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_windows.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(comment="Business day in Asia/Shanghai")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    #: The capacity when the last place was taken (the session's capacity may change later).
    capacity: Mapped[int] = mapped_column(sa.SmallInteger)
    booked: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")


class BookingStatus(enum.Enum):
    booked = "booked"
    checked_in = "checked_in"  # 已取号
    served = "served"
    no_show = "no_show"  # 爽约
    cancelled = "cancelled"


#: Statuses that hold a place and count for "one active booking per person per item per day".
ACTIVE_STATUSES = (BookingStatus.booked, BookingStatus.checked_in)


class BookingVia(enum.Enum):
    own = "self"  # the resident booked for themself
    delegate = "delegate"  # a family member with a delegation covering ``appointments``
    staff = "staff"  # 代理预约: staff for a walk-in or phone caller


class Booking(db.Model):
    """A resident's appointment at a window for one guide item."""

    __tablename__ = "govservice_bookings"
    __table_args__ = (
        sa.Index(
            "uq_govservice_bookings_one_per_item_per_day",
            "resident_id",
            "item_id",
            "day",
            unique=True,
            postgresql_where=sa.text("status IN ('booked', 'checked_in') AND per_day_rule"),
        ),
        sa.UniqueConstraint("window_id", "day", "queue_number"),
        sa.Index("ix_govservice_bookings_centre_id_day", "centre_id", "day"),
        sa.Index("ix_govservice_bookings_resident_id_created_at", "resident_id", "created_at"),
        sa.CheckConstraint("status NOT IN ('checked_in', 'served') OR queue_number IS NOT NULL", name="queued"),
        sa.CheckConstraint("status <> 'cancelled' OR cancelled_at IS NOT NULL", name="cancelled_has_time"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_centres.id", ondelete="RESTRICT"))
    window_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_windows.id", ondelete="RESTRICT"))
    slot_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_slots.id", ondelete="RESTRICT"), index=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_guide_items.id", ondelete="RESTRICT"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"))
    booked_by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("accounts_users.id", ondelete="SET NULL"), index=True
    )
    via: Mapped[BookingVia]
    #: Why staff or a delegate booked (recorded with ``acting_for``).
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    day: Mapped[date]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[BookingStatus] = mapped_column(default=BookingStatus.booked)
    #: The centre's "one per person per item per day" rule when the booking was made (the unique index reads it).
    per_day_rule: Mapped[bool] = mapped_column(default=True)
    queue_number: Mapped[int | None]
    checked_in_at: Mapped[datetime | None]
    served_at: Mapped[datetime | None]
    no_show_at: Mapped[datetime | None]
    handled_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None]
    cancelled_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    closure_id: Mapped[int | None] = mapped_column(sa.ForeignKey("govservice_closures.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class QueueCounter(db.Model):
    """The last queue number given at a window on a day; taken with one upsert, so numbers have no gaps."""

    __tablename__ = "govservice_queue_counters"
    __table_args__ = (sa.CheckConstraint("last_number >= 1", name="last_number_positive"),)

    window_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_windows.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    last_number: Mapped[int]


class Suspension(db.Model):
    """Booking at a centre suspended for a resident after repeated no-shows (爽约限制), until ``ends_on``."""

    __tablename__ = "govservice_suspensions"
    __table_args__ = (
        sa.Index("ix_govservice_suspensions_resident_id_centre_id", "resident_id", "centre_id"),
        sa.CheckConstraint("ends_on > starts_on", name="ends_after_start"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_centres.id", ondelete="RESTRICT"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"))
    starts_on: Mapped[date]
    #: First day the resident may book again.
    ends_on: Mapped[date]
    no_shows: Mapped[int] = mapped_column(sa.SmallInteger)
    lifted_at: Mapped[datetime | None]
    lifted_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    lift_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[created_at]
