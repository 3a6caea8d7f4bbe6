"""Online applications (办件): the application and its state machine, materials, department tasks, the history of
every transition, ratings (好差评), and the per-item routing configuration. Errors of the domain are here too."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id, updated_at
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db


class ApplicationStatus(enum.Enum):
    pending_review = "pending_review"  # 待预审: submitted online, staff check it first
    returned = "returned"  # 预审退回 (reason): closed; the resident may apply again
    awaiting_acceptance = "awaiting_acceptance"  # 待受理: passed 预审, waiting for formal acceptance
    rejected = "rejected"  # 不予受理 (reason): closed
    accepted = "accepted"  # 受理: the promised-days clock runs from the next day
    correction = "correction"  # 待补正: materials asked for; the clock pauses
    processing = "processing"  # 部门办理: with the departments the item routes to
    special = "special"  # 特别程序 (听证、检验、专家评审 …): the clock pauses
    completed = "completed"  # 办结 (approved or denied, with the result)
    withdrawn = "withdrawn"  # 撤回 by the resident while 待预审


STATUS_LABELS = {
    ApplicationStatus.pending_review: "待预审",
    ApplicationStatus.returned: "预审退回",
    ApplicationStatus.awaiting_acceptance: "待受理",
    ApplicationStatus.rejected: "不予受理",
    ApplicationStatus.accepted: "已受理",
    ApplicationStatus.correction: "待补正",
    ApplicationStatus.processing: "部门办理",
    ApplicationStatus.special: "特别程序",
    ApplicationStatus.completed: "办结",
    ApplicationStatus.withdrawn: "已撤回",
}
#: States whose deadline clock runs (accepted and not paused, not finished).
RUNNING = (ApplicationStatus.accepted, ApplicationStatus.processing)
PAUSED = (ApplicationStatus.correction, ApplicationStatus.special)
#: Accepted and not finished: the clock applies (running or paused).
IN_PROGRESS = (*RUNNING, *PAUSED)
CLOSED = (
    ApplicationStatus.returned,
    ApplicationStatus.rejected,
    ApplicationStatus.completed,
    ApplicationStatus.withdrawn,
)


class Outcome(enum.Enum):
    approved = "approved"  # 准予 / 通过
    denied = "denied"  # 不予批准


class Via(enum.Enum):
    own = "own"  # the resident themself
    delegate = "delegate"  # a family member with an ``applications`` delegation


class RoutingMode(enum.Enum):
    parallel = "parallel"  # every department at once; 办结 when all approve, the first denial denies
    serial = "serial"  # one department after another, in order; a denial stops the chain


class TaskStatus(enum.Enum):
    waiting = "waiting"  # serial routing: an earlier department has not decided yet
    active = "active"  # the department is working on it
    approved = "approved"
    denied = "denied"
    cancelled = "cancelled"  # not needed any more: another department denied


class MaterialSource(enum.Enum):
    upload = "upload"  # a private file uploaded for this application
    profile = "profile"  # supplied by the resident's profile (e.g. 身份证 held once)
    reused = "reused"  # the file of an earlier accepted submission, referenced, not uploaded again


class ItemRouting(db.Model):
    """How an item's accepted applications go to departments: the mode, and the departments in order."""

    __tablename__ = "govservice_item_routings"

    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("govservice_guide_items.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[RoutingMode] = mapped_column(default=RoutingMode.parallel)
    updated_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    updated_at: Mapped[updated_at]


class ItemRoutingDepartment(db.Model):
    """One department of an item's routing, at its position (serial routing follows the positions)."""

    __tablename__ = "govservice_item_routing_departments"
    __table_args__ = (sa.UniqueConstraint("item_id", "department_id"),)

    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("govservice_item_routings.item_id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    department_id: Mapped[int] = mapped_column(
        sa.ForeignKey("govservice_departments.id", ondelete="RESTRICT"), index=True
    )


class Application(db.Model):
    """A resident's online application (办件) for a published, online-able guide item.

    The deadline (承诺期限) counts ``promised_days`` working days from the day after ``accepted_on`` and ends at the
    close of ``due_on`` (Asia/Shanghai). While 待补正 or 特别程序 the clock stops: ``paused_since`` holds the day it
    stopped, and on resuming the working days in ``(paused_since, resume day]`` are added to ``paused_workdays``
    and ``due_on`` moves by as many working days. ``due_on`` is NULL while paused.
    """

    __tablename__ = "govservice_applications"
    __table_args__ = (
        sa.CheckConstraint("promised_days BETWEEN 0 AND 365", name="promised_days_range"),
        sa.CheckConstraint("paused_workdays >= 0", name="paused_workdays_not_negative"),
        sa.CheckConstraint(
            "(status IN ('accepted', 'correction', 'processing', 'special', 'completed')) = (accepted_on IS NOT NULL)",
            name="accepted_has_day",
        ),
        sa.CheckConstraint("(status IN ('correction', 'special')) = (paused_since IS NOT NULL)", name="paused_has_day"),
        sa.CheckConstraint(
            "(status = 'completed') = (outcome IS NOT NULL AND completed_at IS NOT NULL)", name="completed_has_outcome"
        ),
        sa.CheckConstraint(
            "(status IN ('returned', 'rejected', 'completed', 'withdrawn')) = (ended_at IS NOT NULL)",
            name="closed_has_time",
        ),
        sa.Index("ix_govservice_applications_centre_id_status", "centre_id", "status"),
        sa.Index("ix_govservice_applications_centre_id_submitted_at", "centre_id", "submitted_at"),
        sa.Index("ix_govservice_applications_resident_id_submitted_at", "resident_id", "submitted_at"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_centres.id", ondelete="RESTRICT"))
    #: The centre's region, copied so scope checks need no join (staff of the region or above see it).
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_guide_items.id", ondelete="RESTRICT"), index=True)
    #: The published guide version the resident applied under (its materials and promised days).
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_guide_versions.id", ondelete="RESTRICT"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"))
    submitted_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    via: Mapped[Via] = mapped_column(default=Via.own)
    status: Mapped[ApplicationStatus] = mapped_column(default=ApplicationStatus.pending_review)
    #: The form as submitted: fields prefilled from the profile, as the resident confirmed or changed them.
    form: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    promised_days: Mapped[int] = mapped_column(sa.SmallInteger, comment="承诺期限 (working days), from the version")
    routing_mode: Mapped[RoutingMode | None]
    #: The reason given with the latest transition (退回、不予受理、补正、特别程序 …).
    reason: Mapped[str | None] = mapped_column(sa.Text)
    #: Materials asked for in the open (or last) 补正: ``[{"code": …, "name": …}]``.
    correction_materials: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=sa.text("'[]'::jsonb")
    )
    #: The state to return to when a 特别程序 ends (accepted or processing).
    resume_status: Mapped[str | None] = mapped_column(sa.String(32))
    outcome: Mapped[Outcome | None]
    result: Mapped[str | None] = mapped_column(sa.Text, comment="办理结果, shown to the resident")
    submitted_at: Mapped[created_at]
    accepted_at: Mapped[datetime | None]
    accepted_on: Mapped[date | None] = mapped_column(comment="受理日 (Asia/Shanghai)")
    due_on: Mapped[date | None] = mapped_column(comment="Last working day of the promised term; NULL while paused")
    paused_since: Mapped[date | None]
    paused_workdays: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    completed_at: Mapped[datetime | None]
    #: Working days used, pauses excluded, fixed at 办结.
    elapsed_workdays: Mapped[int | None] = mapped_column(sa.SmallInteger)
    on_time: Mapped[bool | None]
    ended_at: Mapped[datetime | None] = mapped_column(comment="When it closed (退回、不予受理、办结、撤回)")
    updated_at: Mapped[updated_at]

    @property
    def community_id(self) -> int:
        """The centre's region, as the ``community`` scope kind reads it."""
        return self.region_id

    def scope_department_ids(self) -> set[int]:
        """Departments the application was routed to, as the ``department`` scope kind reads it (one query)."""
        cached = self.__dict__.get("_department_ids")
        if cached is None:
            cached = set(
                db.session.scalars(
                    sa.select(ApplicationTask.department_id).where(ApplicationTask.application_id == self.id)
                )
            )
            self.__dict__["_department_ids"] = cached
        return cached


class ApplicationTask(db.Model):
    """An application's work at one department (部门办理); in serial routing only one is active at a time."""

    __tablename__ = "govservice_application_tasks"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "department_id"),
        sa.UniqueConstraint("application_id", "position"),
        sa.CheckConstraint("(status IN ('approved', 'denied')) = (decided_at IS NOT NULL)", name="decided_has_time"),
        sa.Index("ix_govservice_application_tasks_department_id_status", "department_id", "status"),
    )

    id: Mapped[intpk]
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_applications.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_departments.id", ondelete="RESTRICT"))
    #: The department's region, copied so staff of that region (or above) reach the task by the ``community`` kind.
    region_id: Mapped[int] = mapped_column(sa.BigInteger)
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    status: Mapped[TaskStatus] = mapped_column(default=TaskStatus.waiting)
    result: Mapped[str | None] = mapped_column(sa.Text)
    activated_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))

    @property
    def community_id(self) -> int:
        return self.region_id


class ApplicationMaterial(db.Model):
    """A material of an application: a private upload, a fact of the profile, or a reference to the file of an
    earlier accepted submission (``reused_from_id`` names the row that first took the upload, which owns the file)."""

    __tablename__ = "govservice_application_materials"
    __table_args__ = (
        sa.CheckConstraint(
            "(source = 'upload' AND file_id IS NOT NULL AND reused_from_id IS NULL AND profile_fact IS NULL)"
            " OR (source = 'reused' AND file_id IS NOT NULL AND reused_from_id IS NOT NULL AND profile_fact IS NULL)"
            " OR (source = 'profile' AND file_id IS NULL AND reused_from_id IS NULL AND profile_fact IS NOT NULL)",
            name="source_matches_columns",
        ),
        sa.CheckConstraint("round >= 0", name="round_not_negative"),
        sa.Index("ix_govservice_application_materials_application_id", "application_id"),
        sa.Index("ix_govservice_application_materials_reused_from_id", "reused_from_id"),
    )

    id: Mapped[intpk]
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_applications.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(32), comment="The guide material's code")
    name: Mapped[str] = mapped_column(sa.String(100))
    source: Mapped[MaterialSource]
    file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("core_files.id", ondelete="RESTRICT"))
    reused_from_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("govservice_application_materials.id", ondelete="RESTRICT")
    )
    profile_fact: Mapped[str | None] = mapped_column(sa.String(32))
    #: 0: the submission; n: the n-th 补正.
    round: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    created_at: Mapped[created_at]


class ApplicationEvent(db.Model):
    """One transition of an application: who, when, why, from which state to which."""

    __tablename__ = "govservice_application_events"
    __table_args__ = (sa.Index("ix_govservice_application_events_application_id_id", "application_id", "id"),)

    id: Mapped[intpk]
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("govservice_applications.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(sa.String(32))
    from_status: Mapped[str | None] = mapped_column(sa.String(32))
    to_status: Mapped[str] = mapped_column(sa.String(32))
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("govservice_departments.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    at: Mapped[created_at]


class ApplicationRating(db.Model):
    """The resident's rating (好差评) of a finished application: 1 (非常不满意) to 5 (非常满意), once."""

    __tablename__ = "govservice_application_ratings"
    __table_args__ = (sa.CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("govservice_applications.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    rated_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


# --- errors ---------------------------------------------------------------------------------------------------------


class ApplicationNotFound(NotFound):
    code, message = "application_not_found", "办件不存在"


class NotOnline(Conflict):
    code, message = "not_online", "该事项不能网上办理"


class InvalidTransition(Conflict):
    code, message = "invalid_transition", "办件当前状态不允许此操作"


class MaterialsMissing(ValidationFailed):
    code, message = "materials_missing", "缺少必需的申请材料"


class MaterialUnknown(ValidationFailed):
    code, message = "material_unknown", "该事项没有这项申请材料"


class MaterialFilePublic(ValidationFailed):
    code, message = "material_file_public", "申请材料须以私有文件上传"


class NotRoutable(Conflict):
    code, message = "routing_not_configured", "该事项尚未配置办理部门"


class RoutingConfigured(Conflict):
    code, message = "routing_configured", "该事项已配置办理部门，须由部门办理办结"


class TaskNotActive(Conflict):
    code, message = "task_not_active", "该部门当前没有待办理的环节"


class AlreadyRated(Conflict):
    code, message = "already_rated", "该办件已评价"


class NotRateable(Conflict):
    code, message = "not_rateable", "办结后才能评价"
