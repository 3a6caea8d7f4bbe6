"""Eldercare visit tables: caregivers' skills, and the visit of each accepted care order (assignment, check-in,
check-out with the service record, confirmation and rating, alerts)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, updated_at
from app.extensions import db


class Caregiver(db.Model):
    """A provider's caregiver (an account holding the ``caregiver`` role on the provider) and the categories they
    may be assigned to (``meal``, ``bath`` …, the values of ``CareCategory``)."""

    __tablename__ = "eldercare_caregivers"

    provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey("eldercare_providers.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    skills: Mapped[list[str]] = mapped_column(ARRAY(sa.String(32)), default=list, server_default="{}")
    updated_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class Visit(db.Model):
    """The visit of one accepted care order. Created when the provider accepts; the caregiver is assigned (and may be
    reassigned) until check-in. ``provider_id`` puts it inside the provider's scope."""

    __tablename__ = "eldercare_visits"
    __table_args__ = (
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        sa.CheckConstraint("checked_in_at IS NULL OR caregiver_user_id IS NOT NULL", name="check_in_has_caregiver"),
        sa.CheckConstraint("checked_out_at IS NULL OR checked_in_at IS NOT NULL", name="check_out_after_check_in"),
        sa.CheckConstraint("check_in_lat IS NULL OR check_in_lat BETWEEN -90 AND 90", name="lat_range"),
        sa.CheckConstraint("check_in_lng IS NULL OR check_in_lng BETWEEN -180 AND 180", name="lng_range"),
        sa.Index("ix_eldercare_visits_caregiver", "caregiver_user_id", "id"),
    )

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_orders.id", ondelete="CASCADE"), unique=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_providers.id", ondelete="RESTRICT"), index=True)
    caregiver_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"))
    assigned_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    check_in_lat: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    check_in_lng: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    #: Public id of the private check-in photo (an ``app.files`` upload attached to this visit).
    check_in_photo_id: Mapped[str | None] = mapped_column(sa.String(24))
    checked_out_at: Mapped[datetime | None]
    service_record: Mapped[str | None] = mapped_column(sa.String(1000))
    service_notes: Mapped[str | None] = mapped_column(sa.String(500))
    confirmed_at: Mapped[datetime | None]
    confirmed_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    auto_confirmed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(sa.String(500))
    #: Set once by the late-check-in job when it alerted (no check-in N minutes after the start).
    late_alert_at: Mapped[datetime | None]
    #: The caregiver found nobody answering the door; the emergency contacts and the provider were alerted.
    no_answer_at: Mapped[datetime | None]
    no_answer_note: Mapped[str | None] = mapped_column(sa.String(200))
    no_show_at: Mapped[datetime | None]
    no_show_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
