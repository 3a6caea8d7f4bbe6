"""Account models."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id
from app.extensions import db


class User(db.Model):
    """An account that can sign in (a resident, staff member, vendor or caregiver).

    Login identifiers live here (WeChat openid/unionid, verified phone, username and password); the person
    behind the account (real name, documents) is a ``Resident`` that points at the account from its own table.
    Every identifier is unique, and NULL when the account does not use that way of signing in.
    """

    __tablename__ = "accounts_users"
    __table_args__ = (
        sa.CheckConstraint("username = lower(username)", name="username_lowercase"),
        sa.CheckConstraint("merged_into_id IS NULL OR NOT is_active", name="merged_account_inactive"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    display_name: Mapped[str] = mapped_column(sa.String(64), default="")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]
    #: Verified mobile number in E.164 (+8613800138000); verified by SMS or by WeChat's phone number API.
    phone: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    phone_verified_at: Mapped[datetime | None]
    #: The mini-program's openid (per app) and the open platform's unionid (per WeChat user, when bound).
    wechat_openid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    wechat_unionid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    #: Staff, vendor and provider accounts sign in with a username (stored lower-case) and a password.
    username: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    #: werkzeug's ``scrypt:n:r:p$salt$hash``; never returned by any endpoint.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    last_login_at: Mapped[datetime | None]
    #: Set when this account was linked into another one (same verified phone); the account is then inactive.
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<User {self.id}>"
