"""Role assignments scoped to an entity."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk
from app.extensions import db


class RoleAssignment(db.Model):
    """``user`` holds ``role`` over ``scope_kind``/``scope_id`` (``platform`` has no id)."""

    __tablename__ = "auth_role_assignments"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "role", "scope_kind", "scope_id", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(32))
    scope_kind: Mapped[str] = mapped_column(sa.String(32))
    scope_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[created_at]
