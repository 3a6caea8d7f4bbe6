"""Service centres, their windows and opening sessions, closures, and the service guides (办事指南) they publish."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import created_at, intpk, public_id, updated_at
from app.extensions import db


class Centre(db.Model):
    """A service centre (党群服务中心 / 便民服务中心) of a community or a street, with its booking rules.

    Staff of the centre's region (or of a region above it) manage it: ``community_id`` names the region for the
    ``community`` scope kind, which covers a region's subtree.
    """

    __tablename__ = "govservice_centres"
    __table_args__ = (
        sa.CheckConstraint("earliest_days >= 0 AND earliest_days <= latest_days AND latest_days <= 90", name="window"),
        sa.CheckConstraint("cancel_cutoff_minutes BETWEEN 0 AND 10080", name="cancel_cutoff_range"),
        sa.CheckConstraint("checkin_open_minutes BETWEEN 0 AND 720", name="checkin_open_range"),
        sa.CheckConstraint(
            "noshow_limit BETWEEN 0 AND 20 AND noshow_window_days BETWEEN 1 AND 365"
            " AND suspension_days BETWEEN 1 AND 365",
            name="noshow_rule_range",
        ),
        sa.CheckConstraint("makeup_weekday BETWEEN 0 AND 4", name="makeup_weekday_range"),
        sa.CheckConstraint("reminder_before_minutes BETWEEN 0 AND 1440", name="reminder_before_range"),
        sa.CheckConstraint("char_length(btrim(name)) > 0", name="name_not_empty"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    phone: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    supervision_phone: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    hours: Mapped[str] = mapped_column(sa.String(200), default="", server_default="", comment="办公时间, for display")
    #: Booking window: from ``earliest_days`` after today to ``latest_days`` after today (0 = today).
    earliest_days: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    latest_days: Mapped[int] = mapped_column(sa.SmallInteger, default=7, server_default="7")
    #: A resident may cancel or reschedule until this many minutes before the start.
    cancel_cutoff_minutes: Mapped[int] = mapped_column(sa.Integer, default=60, server_default="60")
    #: A resident may check in (取号) from this many minutes before the start until the slot ends.
    checkin_open_minutes: Mapped[int] = mapped_column(sa.SmallInteger, default=60, server_default="60")
    #: One active booking per person per item per day.
    one_per_item_per_day: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    #: ``noshow_limit`` no-shows within ``noshow_window_days`` suspend booking here for ``suspension_days``
    #: (0 turns the sanction off).
    noshow_limit: Mapped[int] = mapped_column(sa.SmallInteger, default=3, server_default="3")
    noshow_window_days: Mapped[int] = mapped_column(sa.SmallInteger, default=90, server_default="90")
    suspension_days: Mapped[int] = mapped_column(sa.SmallInteger, default=30, server_default="30")
    #: On a 调休 make-up working day (a Saturday or Sunday the calendar makes a working day), working-day sessions
    #: of this weekday are held (0 = Monday).
    makeup_weekday: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    #: Reminders: at this local time on the day before, and this many minutes before the start.
    reminder_eve_at: Mapped[time] = mapped_column(default=time(18, 0), server_default="18:00")
    reminder_before_minutes: Mapped[int] = mapped_column(sa.SmallInteger, default=60, server_default="60")
    created_at: Mapped[created_at]

    region = relationship("Region", viewonly=True)

    @property
    def community_id(self) -> int:
        """The region the centre belongs to, as the ``community`` scope kind reads it (a street works too)."""
        return self.region_id


class Window(db.Model):
    """A service window (窗口) of a centre; it serves a set of guide items and has weekly sessions."""

    __tablename__ = "govservice_windows"
    __table_args__ = (
        sa.UniqueConstraint("centre_id", "number"),
        sa.UniqueConstraint("id", "centre_id", name="uq_govservice_windows_id_centre_id"),
        sa.CheckConstraint("number BETWEEN 1 AND 999", name="number_range"),
        sa.CheckConstraint("queue_prefix ~ '^[A-Z]{1,2}$'", name="queue_prefix_letters"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_centres.id", ondelete="RESTRICT"), index=True)
    number: Mapped[int] = mapped_column(sa.SmallInteger)
    name: Mapped[str] = mapped_column(sa.String(64))
    #: Queue numbers (取号) read ``<prefix><3 digits>``, e.g. A007.
    queue_prefix: Mapped[str] = mapped_column(sa.String(2), default="A", server_default="A")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]


class WindowItem(db.Model):
    """A guide item served at a window; both belong to the same centre (composite foreign keys)."""

    __tablename__ = "govservice_window_items"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["window_id", "centre_id"],
            ["govservice_windows.id", "govservice_windows.centre_id"],
            name="fk_govservice_window_items_window_id_govservice_windows",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id", "centre_id"],
            ["govservice_guide_items.id", "govservice_guide_items.centre_id"],
            name="fk_govservice_window_items_item_id_govservice_guide_items",
            ondelete="CASCADE",
        ),
    )

    window_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, index=True)
    centre_id: Mapped[int] = mapped_column(sa.BigInteger)


class Session(db.Model):
    """A weekly opening session of a window: weekday, hours, slot length and capacity per slot.

    When it is held (see ``govservice.schedule``):

    - ``workday_only``: on working days only. It is held on its weekday when the calendar makes that day a working
      day, and on a 调休 make-up working Saturday or Sunday when its weekday is the centre's ``makeup_weekday``.
    - otherwise (a weekend or evening session): on its weekday unless the day is a holiday (a statutory holiday or a
      day the calendar closes); ``holiday_service`` keeps it open on holidays too.
    """

    __tablename__ = "govservice_sessions"
    __table_args__ = (
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes_range"),
        sa.CheckConstraint("capacity BETWEEN 1 AND 500", name="capacity_range"),
        sa.CheckConstraint("NOT (workday_only AND holiday_service)", name="workday_only_not_holiday_service"),
        sa.CheckConstraint("NOT workday_only OR weekday < 5", name="workday_only_on_weekdays"),
    )

    id: Mapped[intpk]
    window_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_windows.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger, comment="0 = Monday … 6 = Sunday")
    starts_at: Mapped[time]
    ends_at: Mapped[time]
    slot_minutes: Mapped[int] = mapped_column(sa.SmallInteger)
    capacity: Mapped[int] = mapped_column(sa.SmallInteger, comment="Bookings per slot")
    workday_only: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    holiday_service: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    label: Mapped[str] = mapped_column(sa.String(32), default="", server_default="", comment="e.g. 延时服务")


class Closure(db.Model):
    """A day (or part of one) when a window, or the whole centre, does not serve; bookings in it are cancelled."""

    __tablename__ = "govservice_closures"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["window_id", "centre_id"],
            ["govservice_windows.id", "govservice_windows.centre_id"],
            name="fk_govservice_closures_window_id_govservice_windows",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "(starts_at IS NULL AND ends_at IS NULL) OR (starts_at IS NOT NULL AND ends_at > starts_at)",
            name="hours_complete",
        ),
        sa.CheckConstraint("char_length(btrim(reason)) > 0", name="reason_not_empty"),
        sa.Index("ix_govservice_closures_centre_id_day", "centre_id", "day"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_centres.id", ondelete="RESTRICT"))
    #: None: every window of the centre.
    window_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    day: Mapped[date]
    #: Local hours closed; both None: the whole day.
    starts_at: Mapped[time | None]
    ends_at: Mapped[time | None]
    reason: Mapped[str] = mapped_column(sa.String(200))
    cancelled_bookings: Mapped[int] = mapped_column(default=0, server_default="0")
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]

    window = relationship(
        "Window", primaryjoin="Window.id == Closure.window_id", foreign_keys="Closure.window_id", viewonly=True
    )


# --- service guides (办事指南) --------------------------------------------------------------------------------------


class Category(db.Model):
    """A guide category of a centre (社会保障, 社保卡 …)."""

    __tablename__ = "govservice_categories"
    __table_args__ = (
        sa.UniqueConstraint("centre_id", "name"),
        sa.UniqueConstraint("id", "centre_id", name="uq_govservice_categories_id_centre_id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_centres.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(32))
    position: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    #: Normalised name, full pinyin and initials (see ``govservice.search``).
    search: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[created_at]


class GuideItem(db.Model):
    """A service item (事项) of a centre: a stable identity whose content lives in versions."""

    __tablename__ = "govservice_guide_items"
    __table_args__ = (
        sa.UniqueConstraint("centre_id", "code"),
        sa.UniqueConstraint("id", "centre_id", name="uq_govservice_guide_items_id_centre_id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_centres.id", ondelete="RESTRICT"), index=True)
    #: 事项编码.
    code: Mapped[str] = mapped_column(sa.String(40))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class VersionStatus(enum.Enum):
    draft = "draft"  # staff edit it; residents never see it
    published = "published"  # what residents read (at most one per item)
    retired = "retired"  # replaced by a newer publication, or withdrawn


class ItemKind(enum.Enum):
    immediate = "immediate"  # 即办件: done on the spot
    promised = "promised"  # 承诺件: done within the promised working days


class GuideVersion(db.Model):
    """One version of a guide with the national guide elements. An item has at most one draft and one published
    version; publishing a draft retires the previous publication, so residents read the old text while staff edit."""

    __tablename__ = "govservice_guide_versions"
    __table_args__ = (
        sa.UniqueConstraint("item_id", "number"),
        sa.Index(
            "uq_govservice_guide_versions_one_draft",
            "item_id",
            unique=True,
            postgresql_where=sa.text("status = 'draft'"),
        ),
        sa.Index(
            "uq_govservice_guide_versions_one_published",
            "item_id",
            unique=True,
            postgresql_where=sa.text("status = 'published'"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id", "centre_id"],
            ["govservice_guide_items.id", "govservice_guide_items.centre_id"],
            name="fk_govservice_guide_versions_item_id_govservice_guide_items",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["category_id", "centre_id"],
            ["govservice_categories.id", "govservice_categories.centre_id"],
            name="fk_govservice_guide_versions_category_id_govservice_categories",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("promised_days BETWEEN 0 AND 365", name="promised_days_range"),
        sa.CheckConstraint(
            "statutory_days IS NULL OR statutory_days BETWEEN promised_days AND 365", name="statutory_covers_promised"
        ),
        sa.CheckConstraint(
            "(kind = 'immediate' AND promised_days = 0) OR (kind = 'promised' AND promised_days >= 1)",
            name="kind_matches_days",
        ),
        sa.CheckConstraint("visits BETWEEN 0 AND 10", name="visits_range"),
        sa.CheckConstraint("visits > 0 OR online", name="no_visit_means_online"),
        sa.CheckConstraint("fee_fen >= 0", name="fee_not_negative"),
        sa.CheckConstraint("char_length(btrim(name)) > 0", name="name_not_empty"),
        sa.CheckConstraint("status <> 'published' OR published_at IS NOT NULL", name="published_has_time"),
    )

    id: Mapped[intpk]
    item_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    centre_id: Mapped[int] = mapped_column(sa.BigInteger)
    number: Mapped[int] = mapped_column(comment="1, 2, … per item")
    status: Mapped[VersionStatus] = mapped_column(default=VersionStatus.draft)
    category_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    name: Mapped[str] = mapped_column(sa.String(100), comment="事项名称")
    department: Mapped[str] = mapped_column(sa.String(100), default="", server_default="", comment="办理部门")
    legal_basis: Mapped[str] = mapped_column(sa.Text, default="", server_default="", comment="设定依据")
    conditions: Mapped[str] = mapped_column(sa.Text, default="", server_default="", comment="受理条件")
    process: Mapped[str] = mapped_column(sa.Text, default="", server_default="", comment="办理流程")
    fee_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0", comment="收费 (0 = 不收费)")
    fee_standard: Mapped[str] = mapped_column(sa.Text, default="", server_default="", comment="收费标准")
    fee_basis: Mapped[str] = mapped_column(sa.Text, default="", server_default="", comment="收费依据")
    statutory_days: Mapped[int | None] = mapped_column(sa.SmallInteger, comment="法定期限 (working days)")
    promised_days: Mapped[int] = mapped_column(
        sa.SmallInteger, default=0, server_default="0", comment="承诺期限 (working days)"
    )
    kind: Mapped[ItemKind] = mapped_column(default=ItemKind.immediate)
    place: Mapped[str] = mapped_column(sa.String(200), default="", server_default="", comment="办理地点")
    hours: Mapped[str] = mapped_column(sa.String(200), default="", server_default="", comment="办理时间")
    phone: Mapped[str] = mapped_column(sa.String(32), default="", server_default="", comment="咨询电话")
    supervision_phone: Mapped[str] = mapped_column(sa.String(32), default="", server_default="", comment="监督电话")
    visits: Mapped[int] = mapped_column(sa.SmallInteger, default=1, server_default="1", comment="到现场次数")
    online: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), comment="可网上办理")
    bookable: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), comment="可预约")
    #: ``[{"question": …, "answer": …}]`` (常见问题).
    faq: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    keywords: Mapped[str] = mapped_column(sa.String(200), default="", server_default="", comment="别名, e.g. 医保")
    #: Normalised name, code and keywords with full pinyin and initials (see ``govservice.search``).
    search: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    edited_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    published_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class MaterialForm(enum.Enum):
    original = "original"  # 原件
    copy = "copy"  # 复印件
    original_and_copy = "original_and_copy"  # 原件及复印件
    electronic = "electronic"  # 电子材料


class GuideMaterial(db.Model):
    """A required material (申请材料) of a guide version.

    ``profile_fact`` names a fact of the resident's profile that supplies it (e.g. ``document``: 身份证 is held
    once); ``reusable`` says an earlier accepted submission of the same material ``code`` may be reused.
    """

    __tablename__ = "govservice_guide_materials"
    __table_args__ = (
        sa.UniqueConstraint("version_id", "code"),
        sa.UniqueConstraint("version_id", "position"),
        sa.CheckConstraint("copies BETWEEN 1 AND 20", name="copies_range"),
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,31}$'", name="code_format"),
    )

    id: Mapped[intpk]
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_guide_versions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    code: Mapped[str] = mapped_column(sa.String(32), comment="Stable material code, e.g. id_card, hukou_book")
    name: Mapped[str] = mapped_column(sa.String(100))
    form: Mapped[MaterialForm] = mapped_column(default=MaterialForm.original)
    copies: Mapped[int] = mapped_column(sa.SmallInteger, default=1, server_default="1", comment="份数")
    required: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    profile_fact: Mapped[str | None] = mapped_column(sa.String(32))
    reusable: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    note: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
