"""Complaints and suggestions (诉求, like a 12345 line): categories with time limits, complaints, their history,
and the API clients of the Open311 adapter."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id
from app.extensions import db


class ComplaintCategory(db.Model):
    """What a complaint is about (an Open311 *service*), defined by a region for every community beneath it.

    ``time_limit_days`` is the legal or promised time limit in working days from acceptance; past it an unresolved
    complaint is escalated to the street.
    """

    __tablename__ = "govservice_complaint_categories"
    __table_args__ = (
        sa.CheckConstraint("time_limit_days BETWEEN 1 AND 60", name="time_limit_range"),
        sa.CheckConstraint("code ~ '^[a-z0-9_-]{2,32}$'", name="code_format"),
        sa.CheckConstraint("char_length(btrim(name)) > 0", name="name_not_empty"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True)
    #: Stable code, the Open311 ``service_code``.
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    #: Grouping shown to residents and to Open311 clients (``group``), e.g. 市容环境.
    group: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    keywords: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    time_limit_days: Mapped[int] = mapped_column(sa.SmallInteger, default=5, server_default="5")
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]

    @property
    def community_id(self) -> int:
        """The scope check reads the defining region (a street's category is managed by the street's staff)."""
        return self.region_id


class ComplaintKind(enum.Enum):
    complaint = "complaint"  # 投诉
    suggestion = "suggestion"  # 建议
    request = "request"  # 求助 / 咨询


class ComplaintStatus(enum.Enum):
    submitted = "submitted"  # 待受理
    rejected = "rejected"  # 不予受理 (closed, with a reason)
    accepted = "accepted"  # 已受理, not yet dispatched
    dispatched = "dispatched"  # 已转办 to a department or a grid worker (again after a reopen)
    replied = "replied"  # 已答复, waiting for the resident to confirm
    resolved = "resolved"  # 已办结 (confirmed by the resident, or closed after the confirmation period)


#: Statuses in which the time limit runs (the handling side owes an answer).
RUNNING = (ComplaintStatus.accepted, ComplaintStatus.dispatched)
#: Statuses Open311 calls ``closed``.
CLOSED = (ComplaintStatus.rejected, ComplaintStatus.resolved)


class ComplaintSource(enum.Enum):
    app = "app"  # the resident's app or mini-program
    open311 = "open311"  # an Open311 client (a 12345 hotline system, a civic app)


class Complaint(db.Model):
    """A resident's complaint or suggestion in one community, dispatched to whoever must answer it."""

    __tablename__ = "govservice_complaints"
    __table_args__ = (
        sa.Index("ix_govservice_complaints_community_id_status", "community_id", "status"),
        sa.Index("ix_govservice_complaints_resident_id_id", "resident_id", "id"),
        sa.Index(
            "ix_govservice_complaints_due_on_running",
            "due_on",
            postgresql_where=sa.text("status IN ('accepted', 'dispatched')"),
        ),
        sa.CheckConstraint("resident_id IS NOT NULL OR source = 'open311'", name="has_author"),
        sa.CheckConstraint("status <> 'rejected' OR reject_reason IS NOT NULL", name="rejected_has_reason"),
        sa.CheckConstraint(
            "status <> 'dispatched' OR department_id IS NOT NULL OR grid_worker_user_id IS NOT NULL",
            name="dispatched_has_handler",
        ),
        sa.CheckConstraint("status NOT IN ('accepted', 'dispatched') OR due_on IS NOT NULL", name="running_has_due"),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        sa.CheckConstraint("reopen_count >= 0", name="reopen_count_positive"),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL) AND (latitude IS NULL OR"
            " (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180))",
            name="coordinates",
        ),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    category_id: Mapped[int] = mapped_column(
        sa.ForeignKey("govservice_complaint_categories.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[ComplaintKind] = mapped_column(default=ComplaintKind.complaint)
    source: Mapped[ComplaintSource] = mapped_column(default=ComplaintSource.app)
    #: The resident it is from (None for an Open311 request from someone without an account here).
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"))
    submitted_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    client_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("govservice_open311_clients.id", ondelete="RESTRICT"), index=True
    )
    #: An Open311 caller's contact (name, phone, e-mail), encrypted; never shown by the public reads.
    contact_ciphertext: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    description: Mapped[str] = mapped_column(sa.String(2000))
    #: Where, in words (may name a room: never published).
    location: Mapped[str | None] = mapped_column(sa.String(200))
    latitude: Mapped[float | None] = mapped_column(sa.Numeric(9, 6, asdecimal=False))
    longitude: Mapped[float | None] = mapped_column(sa.Numeric(9, 6, asdecimal=False))
    status: Mapped[ComplaintStatus] = mapped_column(default=ComplaintStatus.submitted)
    reject_reason: Mapped[str | None] = mapped_column(sa.String(200))
    department_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("govservice_departments.id", ondelete="RESTRICT"), index=True
    )
    grid_worker_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"), index=True
    )
    reply: Mapped[str | None] = mapped_column(sa.String(2000))
    replied_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    #: Last working day to answer by (Asia/Shanghai), set at acceptance and again at each reopen.
    due_on: Mapped[date | None]
    escalated_at: Mapped[datetime | None]
    escalated_region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    reopen_count: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(sa.String(500))
    accepted_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now(), onupdate=sa.func.now())


class ComplaintEvent(db.Model):
    """One step of a complaint: who moved it from what to what, when and why (the resident sees these)."""

    __tablename__ = "govservice_complaint_events"
    __table_args__ = (sa.Index("ix_govservice_complaint_events_complaint_id_id", "complaint_id", "id"),)

    id: Mapped[intpk]
    complaint_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_complaints.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(sa.String(24))
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str] = mapped_column(sa.String(16))
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(sa.String(2000))
    created_at: Mapped[created_at]


class Open311Client(db.Model):
    """A system allowed to post requests through Open311 (``api_key``) into the communities of one region."""

    __tablename__ = "govservice_open311_clients"

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    #: SHA-256 of the key; the key itself is shown once, when the client is created.
    key_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    revoked_at: Mapped[datetime | None]

    @property
    def community_id(self) -> int:
        return self.region_id
