"""Account models."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id
from app.extensions import db


class User(db.Model):
    """An account that can sign in (a resident, staff member, vendor or caregiver)."""

    __tablename__ = "accounts_users"

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    display_name: Mapped[str] = mapped_column(sa.String(64), default="")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]

    def __repr__(self) -> str:
        return f"<User {self.id}>"
