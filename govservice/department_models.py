"""Back-office departments (办理部门) that handle online applications and complaints, and their errors."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import created_at, intpk, public_id
from app.errors import Conflict, NotFound
from app.extensions import db


class Department(db.Model):
    """A department of a street, district or community (e.g. 街道社会保障事务所), handling work routed to it.

    People of the department hold ``handler`` or ``head`` over ``("department", id)``; staff of its region (or of a
    region above it) reach it through the ``community`` scope kind, read from ``community_id``.
    """

    __tablename__ = "govservice_departments"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "code"),
        sa.UniqueConstraint("region_id", "name"),
        sa.CheckConstraint("char_length(btrim(name)) > 0", name="name_not_empty"),
        sa.CheckConstraint("code ~ '^[A-Za-z0-9_-]{1,32}$'", name="code_format"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    #: The district, street or community node of the community tree the department belongs to.
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    code: Mapped[str] = mapped_column(sa.String(32), comment="部门编码, unique within the region")
    phone: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    #: An inactive department takes no new work (routing and dispatch refuse it); what it holds stays.
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]

    region = relationship("Region", viewonly=True)

    @property
    def community_id(self) -> int:
        """The region, as the ``community`` scope kind reads it (staff of the region or above manage it)."""
        return self.region_id

    @property
    def department_id(self) -> int:
        """The department itself, as the ``department`` scope kind reads it."""
        return self.id


class DepartmentNotFound(NotFound):
    code, message = "department_not_found", "部门不存在"


class DepartmentCodeTaken(Conflict):
    code, message = "department_code_taken", "该辖区已有同编码或同名的部门"


class DepartmentInUse(Conflict):
    code, message = "department_in_use", "部门仍有办件或工单，不能删除，可改为停用"


class DepartmentInactive(Conflict):
    code, message = "department_inactive", "部门已停用"
