"""The audit log: who did what to which record, with masked before/after values."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk
from app.extensions import db

#: Keys whose values are personal data; they are stored masked, never in clear.
SENSITIVE_KEYS = {"phone", "mobile", "id_number", "document_number", "real_name", "name", "address", "email"}


class AuditEntry(db.Model):
    __tablename__ = "core_audit_log"

    id: Mapped[intpk]
    at: Mapped[created_at]
    actor_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    #: When acting for someone else (delegation, staff for a walk-in), the person acted for.
    subject_kind: Mapped[str | None] = mapped_column(sa.String(32))
    subject_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    target_kind: Mapped[str | None] = mapped_column(sa.String(32))
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    ip: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_core_audit_log_target", "target_kind", "target_id"),)


def mask_value(key: str, value: Any) -> Any:
    """Mask a personal value for storage in logs: keep just enough to recognise it."""
    if value is None or key not in SENSITIVE_KEYS:
        return value
    text = str(value)
    if key in {"phone", "mobile"} and re.fullmatch(r"\+?\d{7,15}", text):
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if key in {"id_number", "document_number"} and len(text) > 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if key in {"real_name", "name"}:
        return text[:1] + "*" * max(len(text) - 1, 1)
    return "***"


def mask(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    masked: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            masked[key] = mask(value)
        elif isinstance(value, datetime):
            masked[key] = value.isoformat()
        else:
            masked[key] = mask_value(key, value)
    return masked


def record(
    action: str,
    *,
    actor=None,
    target: tuple[str, Any] | None = None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str | None = None,
    subject: tuple[str, int] | None = None,
) -> AuditEntry:
    """Add an audit entry in the caller's transaction (it commits or rolls back with the change it describes)."""
    entry = AuditEntry(
        actor_user_id=getattr(actor, "id", None),
        subject_kind=subject[0] if subject else None,
        subject_id=subject[1] if subject else None,
        action=action,
        target_kind=target[0] if target else None,
        target_id=str(target[1]) if target else None,
        before=mask(before),
        after=mask(after),
        reason=reason,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(entry)
    return entry
