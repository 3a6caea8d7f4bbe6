"""People and their ties: residents (collected once), tags, consents, household memberships and delegations."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.documents import DocumentType
from app.db import created_at, intpk, public_id
from app.extensions import db


class Gender(enum.Enum):
    male = "male"
    female = "female"


class HukouStatus(enum.Enum):
    local = "local"  # 本地户籍
    non_local = "non_local"  # 非户籍


class VerificationStatus(enum.Enum):
    unverified = "unverified"
    pending = "pending"  # submitted, waiting for staff
    verified = "verified"
    rejected = "rejected"  # staff looked and refused; the resident may correct and submit again


class Resident(db.Model):
    """A person. May exist without an account (an elder registered by staff); at most one per account.

    The document number is never stored in clear: ``document_ciphertext`` (AES-256-GCM, see ``crypto``),
    ``document_lookup`` (HMAC, unique per type, to find duplicates) and ``document_masked`` for display.
    """

    __tablename__ = "accounts_residents"
    __table_args__ = (
        sa.UniqueConstraint("document_type", "document_lookup"),
        sa.CheckConstraint(
            "(document_type IS NULL) = (document_ciphertext IS NULL)"
            " AND (document_type IS NULL) = (document_lookup IS NULL)"
            " AND (document_type IS NULL) = (document_masked IS NULL)",
            name="document_complete",
        ),
        sa.CheckConstraint("verification_status <> 'verified' OR (verified_at IS NOT NULL)", name="verified_has_time"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"), unique=True)
    real_name: Mapped[str] = mapped_column(sa.String(64))
    document_type: Mapped[DocumentType | None]
    #: ISO 3166-1 alpha-3 of the issuing country where the document needs it (passports).
    document_country: Mapped[str | None] = mapped_column(sa.String(3))
    document_ciphertext: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    document_lookup: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    document_masked: Mapped[str | None] = mapped_column(sa.String(32))
    gender: Mapped[Gender | None]
    birth_date: Mapped[date | None]
    hukou_status: Mapped[HukouStatus | None]
    verification_status: Mapped[VerificationStatus] = mapped_column(
        default=VerificationStatus.unverified, server_default=VerificationStatus.unverified.value
    )
    verification_note: Mapped[str | None] = mapped_column(sa.String(200))
    verified_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None]
    #: The community whose staff registered the resident (or that the resident chose when asking to be verified);
    #: keeps them in that community's scope without a household.
    registered_community_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True
    )
    registered_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    #: Health notes (sensitive, separately consented), encrypted like the document.
    health_notes_ciphertext: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    #: Set by account deletion (注销): personal fields are cleared, the row stays for what domains must retain.
    erased_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    def scope_community_ids(self) -> set[int]:
        """Communities whose staff may see this resident: active or pending memberships, and the registering one.

        Ended, rejected and cancelled memberships drop out, as the issue asks ("drops out of every scope").
        """
        from app.community.models import Household

        ids = set(
            db.session.scalars(
                sa.select(Household.community_id)
                .join(HouseholdMembership, HouseholdMembership.household_id == Household.id)
                .where(
                    HouseholdMembership.resident_id == self.id,
                    HouseholdMembership.status.in_([MembershipStatus.pending, MembershipStatus.active]),
                )
            )
        )
        if self.registered_community_id is not None:
            ids.add(self.registered_community_id)
        return ids

    def __repr__(self) -> str:
        return f"<Resident {self.id}>"


class Tag(db.Model):
    """A tag: built in (``code`` set, no region) or custom to a district or community (``region_id``)."""

    __tablename__ = "accounts_tags"
    __table_args__ = (sa.UniqueConstraint("region_id", "name", postgresql_nulls_not_distinct=True),)

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    #: Stable code of a built-in tag (dibao, disabled, …); custom tags have none.
    code: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(32))
    #: Sensitive tags (低保, 残疾 …) are shown to the resident's own apps only with the separate sensitive consent.
    sensitive: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class ResidentTag(db.Model):
    """A tag on a resident, set at a community or district level by staff there, with the reason."""

    __tablename__ = "accounts_resident_tags"
    __table_args__ = (sa.UniqueConstraint("resident_id", "tag_id"),)

    id: Mapped[intpk]
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"), index=True)
    tag_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_tags.id", ondelete="RESTRICT"), index=True)
    #: The community or district at whose level the tag is kept: only staff over it may remove it.
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    assigned_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[created_at]


class ConsentKind(enum.Enum):
    privacy_policy = "privacy_policy"  # 隐私政策
    sensitive_data = "sensitive_data"  # 敏感个人信息（健康、残疾、低保等）单独同意


class Consent(db.Model):
    """A consent given (and possibly withdrawn) under a policy version, by an account or for a resident in person."""

    __tablename__ = "accounts_consents"
    __table_args__ = (
        sa.CheckConstraint("user_id IS NOT NULL OR resident_id IS NOT NULL", name="has_subject"),
        sa.Index("ix_accounts_consents_resident_kind", "resident_id", "kind"),
        sa.Index("ix_accounts_consents_user_kind", "user_id", "kind"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"))
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"))
    kind: Mapped[ConsentKind]
    policy_version: Mapped[str] = mapped_column(sa.String(32))
    accepted_at: Mapped[created_at]
    withdrawn_at: Mapped[datetime | None]
    #: Staff who recorded a consent given in person (a resident without an account).
    recorded_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))


class MembershipRole(enum.Enum):
    head = "head"  # 户主
    family = "family"  # 家属
    tenant = "tenant"  # 租户


class MembershipStatus(enum.Enum):
    pending = "pending"  # asked to join; sees nothing of the household yet
    active = "active"
    rejected = "rejected"
    cancelled = "cancelled"  # withdrawn by the resident before a decision
    ended = "ended"  # moved out


class HouseholdMembership(db.Model):
    """A resident's tie to a household, from ``starts_on`` to ``ends_on``, approved by the head or staff."""

    __tablename__ = "accounts_household_memberships"
    __table_args__ = (
        # One open request or membership per resident and household; one head at a time.
        sa.Index(
            "uq_accounts_household_memberships_open",
            "household_id",
            "resident_id",
            unique=True,
            postgresql_where=sa.text("status IN ('pending', 'active')"),
        ),
        sa.Index(
            "uq_accounts_household_memberships_one_head",
            "household_id",
            unique=True,
            postgresql_where=sa.text("status = 'active' AND role = 'head'"),
        ),
        sa.CheckConstraint("ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", name="dates_ordered"),
        sa.CheckConstraint("status <> 'ended' OR ends_on IS NOT NULL", name="ended_has_date"),
        sa.CheckConstraint("status <> 'active' OR starts_on IS NOT NULL", name="active_has_start"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("community_households.id", ondelete="RESTRICT"), index=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"), index=True)
    role: Mapped[MembershipRole]
    status: Mapped[MembershipStatus] = mapped_column(default=MembershipStatus.pending)
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    requested_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    #: Who approved or rejected (the head of household or staff), and when: "verified by whom".
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(sa.String(200))
    ended_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class Relationship(enum.Enum):
    child = "child"  # 子女
    spouse = "spouse"  # 配偶
    relative = "relative"  # 亲属
    guardian = "guardian"  # 监护人
    neighbour = "neighbour"  # 邻居


#: What a delegate may do for the subject; ``activities`` covers surveys and activity sign-ups.
DELEGATION_SCOPES = ("appointments", "applications", "eldercare", "marketplace", "bills", "notices", "activities")


class DelegationStatus(enum.Enum):
    pending = "pending"
    active = "active"  # approved; lapses at expires_at without a status change
    rejected = "rejected"
    revoked = "revoked"


class Delegation(db.Model):
    """Resident ``actor`` may act for resident ``subject`` within ``scopes`` (代办 / 家属绑定)."""

    __tablename__ = "accounts_delegations"
    __table_args__ = (
        sa.Index(
            "uq_accounts_delegations_open",
            "actor_resident_id",
            "subject_resident_id",
            unique=True,
            postgresql_where=sa.text("status IN ('pending', 'active')"),
        ),
        sa.CheckConstraint("actor_resident_id <> subject_resident_id", name="not_self"),
        sa.CheckConstraint("cardinality(scopes) > 0", name="scopes_not_empty"),
        sa.CheckConstraint(
            "scopes <@ ARRAY[" + ", ".join(f"'{s}'" for s in DELEGATION_SCOPES) + "]::varchar[]",
            name="scopes_known",
        ),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    actor_resident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"), index=True
    )
    subject_resident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"), index=True
    )
    relationship: Mapped[Relationship]
    scopes: Mapped[list[str]] = mapped_column(ARRAY(sa.String(32)))
    status: Mapped[DelegationStatus] = mapped_column(default=DelegationStatus.pending)
    expires_at: Mapped[datetime | None]
    requested_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    #: "subject" (approved in the app) or "staff" (after an in-person check, noted in ``staff_note``).
    approved_via: Mapped[str | None] = mapped_column(sa.String(16))
    staff_note: Mapped[str | None] = mapped_column(sa.String(200))
    revoked_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
