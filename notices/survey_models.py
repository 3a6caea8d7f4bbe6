"""Survey tables: questionnaires, who took part, and the answers (kept apart from who in anonymous surveys).

Anonymous surveys keep **who** (``notices_survey_participants``) and **what** (``notices_survey_ballots``) with
nothing to join them back by:

- no shared key: a ballot of an anonymous survey carries no resident, no user and no participant id;
- no order: both tables' keys are random UUIDs (no serial), and each anonymous answer rewrites the survey's ballots
  in random order in the same statement, so neither the physical row order nor the writing transaction
  (``xmin``) tells the newest ballot from the others (see ``notices.surveys._store_anonymous``);
- no time: ballots carry no timestamp at all, participants only the business date they answered on.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id
from app.extensions import db

RANDOM_UUID = sa.text("gen_random_uuid()")


class SurveyStatus(enum.Enum):
    draft = "draft"
    scheduled = "scheduled"  # published, waiting for opens_at to announce it (an outbox row due then)
    published = "published"  # announced; answers are taken between opens_at and closes_at
    withdrawn = "withdrawn"


class QuestionKind(enum.Enum):
    single = "single"  # one option
    multiple = "multiple"  # any number of options
    rating = "rating"  # 1–5
    text = "text"  # a short text


class Survey(db.Model):
    """A questionnaire posted at a community, street or district to an audience inside it (as for notices)."""

    __tablename__ = "notices_surveys"
    __table_args__ = (
        sa.Index("ix_notices_surveys_region_feed", "region_id", "created_at", "public_id"),
        sa.CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        sa.CheckConstraint("status NOT IN ('scheduled', 'published') OR published_at IS NOT NULL", name="published"),
        sa.CheckConstraint("status <> 'withdrawn' OR withdrawn_at IS NOT NULL", name="withdrawn_has_time"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: Who answered and what they answered are kept apart and cannot be joined back (see the module docstring).
    anonymous: Mapped[bool] = mapped_column(default=False)
    status: Mapped[SurveyStatus] = mapped_column(default=SurveyStatus.draft)
    #: The audience expression, as for notices (``notices.audience``).
    audience: Mapped[dict[str, Any]]
    #: ``[{"id": "q1", "kind": "single", "title": …, "required": true, "options": [...]}, …]``
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    #: Residents in the audience when it was announced (the response rate's denominator).
    audience_count: Mapped[int | None]
    delivery_id: Mapped[str | None] = mapped_column(sa.String(24))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class SurveyParticipant(db.Model):
    """A resident took part in a survey (once: the unique constraint); for anonymous surveys, nothing of what."""

    __tablename__ = "notices_survey_participants"
    __table_args__ = (sa.UniqueConstraint("survey_id", "resident_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=RANDOM_UUID)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("notices_surveys.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"), index=True)
    #: The account that answered: the resident's own, or a delegate's (scope ``activities``).
    answered_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    #: The business date (Asia/Shanghai) only: no finer time to line up with anything.
    answered_on: Mapped[date]


class SurveyBallot(db.Model):
    """One set of answers. ``resident_id`` is set only in surveys that are not anonymous; anonymous ballots carry
    nothing but the survey and the answers."""

    __tablename__ = "notices_survey_ballots"
    __table_args__ = (sa.UniqueConstraint("survey_id", "resident_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=RANDOM_UUID)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("notices_surveys.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="SET NULL"))
    #: ``{question id: option index | [option indexes] | rating | text}``
    answers: Mapped[dict[str, Any]]
