"""Eldercare tables: elders, eligibility rules, providers and offers, care orders and the subsidy ledger."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.resident_models import HukouStatus
from app.db import created_at, intpk, money_fen, public_id, updated_at
from app.extensions import db


class CareLevel(enum.Enum):
    independent = "independent"  # 自理
    partly_dependent = "partly_dependent"  # 半失能
    dependent = "dependent"  # 失能


class Elder(db.Model):
    """The eldercare record of a resident: care level assessed by staff and emergency contacts.

    Health notes stay on the resident (encrypted, behind the sensitive-data consent); living alone is the 独居 tag.
    """

    __tablename__ = "eldercare_elders"

    id: Mapped[intpk]
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"), unique=True)
    care_level: Mapped[CareLevel | None]
    assessed_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    assessed_at: Mapped[datetime | None]
    #: [{"name", "phone", "relation"}], at most five.
    emergency_contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class EligibilityRule(db.Model):
    """A subsidy rule: who it covers (district, minimum age, hukou, tag), the copay and the monthly quota.

    Rules are tried by ``priority`` (lowest first, then id); the first that matches applies and is snapshotted on the
    order. No match: full price.
    """

    __tablename__ = "eldercare_eligibility_rules"
    __table_args__ = (
        sa.CheckConstraint("copay_bps BETWEEN 0 AND 10000", name="copay_bps_range"),
        sa.CheckConstraint("monthly_quota_fen >= 0", name="quota_not_negative"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_ordered"),
        sa.CheckConstraint("min_age IS NULL OR min_age BETWEEN 0 AND 150", name="min_age_range"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    name: Mapped[str] = mapped_column(sa.String(64))
    district_id: Mapped[int | None] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    min_age: Mapped[int | None]
    hukou: Mapped[HukouStatus | None]
    #: A resident tag code (``dibao``, ``tekun``, ``low_income`` …).
    tag_code: Mapped[str | None] = mapped_column(sa.String(32))
    copay_bps: Mapped[int] = mapped_column(comment="Copay rate in basis points (1000 = 10 %)")
    monthly_quota_fen: Mapped[money_fen]
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    priority: Mapped[int] = mapped_column(default=100)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class CareCategory(enum.Enum):
    meal = "meal"  # 助餐
    bath = "bath"  # 助浴
    medical = "medical"  # 助医
    cleaning = "cleaning"  # 助洁
    errands = "errands"  # 跑腿
    companionship = "companionship"  # 陪伴


CATEGORY_LABELS = {
    CareCategory.meal: "助餐",
    CareCategory.bath: "助浴",
    CareCategory.medical: "助医",
    CareCategory.cleaning: "助洁",
    CareCategory.errands: "跑腿",
    CareCategory.companionship: "陪伴",
}


class ProviderStatus(enum.Enum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    suspended = "suspended"


#: Roles held over the ``provider`` scope kind.
PROVIDER_ROLES = ("provider_admin", "caregiver")


class Provider(db.Model):
    """A care organisation; community staff approve it and name the payee its copays go to."""

    __tablename__ = "eldercare_providers"
    __table_args__ = (
        sa.CheckConstraint("status <> 'approved' OR payee_id IS NOT NULL", name="approved_has_payee"),
        sa.CheckConstraint("cancellation_fee_fen >= 0", name="fee_not_negative"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    name: Mapped[str] = mapped_column(sa.String(64))
    licence_no: Mapped[str] = mapped_column(sa.String(32))
    contact_phone: Mapped[str] = mapped_column(sa.String(20))
    payee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments_payees.id", ondelete="RESTRICT"), index=True)
    status: Mapped[ProviderStatus] = mapped_column(default=ProviderStatus.pending)
    status_note: Mapped[str | None] = mapped_column(sa.String(200))
    applicant_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"), index=True)
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    #: Kept from the copay when the family cancels after the free cut-off (an offer may set its own).
    cancellation_fee_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    created_at: Mapped[created_at]

    @property
    def provider_id(self) -> int:
        """The ``provider`` scope kind reads ``provider_id`` from every entity it may contain, the provider included."""
        return self.id

    def scope_community_ids(self) -> set[int]:
        return set(
            db.session.scalars(
                sa.select(ProviderCommunity.community_id).where(ProviderCommunity.provider_id == self.id)
            )
        )


class ProviderCommunity(db.Model):
    """A community a provider serves (its staff decide on the provider)."""

    __tablename__ = "eldercare_provider_communities"

    provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey("eldercare_providers.id", ondelete="CASCADE"), primary_key=True
    )
    community_id: Mapped[int] = mapped_column(
        sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class CareItem(db.Model):
    """A catalogue item (送餐上门, 助浴一次, 陪同就医 …) in one of the six categories."""

    __tablename__ = "eldercare_items"

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    category: Mapped[CareCategory]
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[created_at]


class CareOffer(db.Model):
    """A provider's offer of an item: price, duration and the communities it is offered in."""

    __tablename__ = "eldercare_offers"
    __table_args__ = (
        sa.CheckConstraint("price_fen > 0", name="price_positive"),
        sa.CheckConstraint("duration_minutes > 0", name="duration_positive"),
        sa.CheckConstraint("cancellation_fee_fen IS NULL OR cancellation_fee_fen >= 0", name="fee_not_negative"),
        sa.UniqueConstraint("provider_id", "item_id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_providers.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_items.id", ondelete="RESTRICT"), index=True)
    price_fen: Mapped[money_fen]
    duration_minutes: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    #: This offer's late-cancellation fee in fen; None: the provider's.
    cancellation_fee_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class CareOfferCommunity(db.Model):
    """A community an offer is available in."""

    __tablename__ = "eldercare_offer_communities"

    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_offers.id", ondelete="CASCADE"), primary_key=True)
    community_id: Mapped[int] = mapped_column(
        sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class CareOrderStatus(enum.Enum):
    pending_payment = "pending_payment"  # 待付自付部分
    submitted = "submitted"  # 待服务机构接单
    accepted = "accepted"  # 已接单
    declined = "declined"  # 服务机构拒单
    cancelled = "cancelled"  # 老人或家属取消，或服务机构取消（cancelled_by）
    expired = "expired"  # 自付部分超时未付，补贴额度已退回
    in_service = "in_service"  # 护理员已签到，服务中
    serviced = "serviced"  # 护理员已签退，待老人或家属确认
    delivered = "delivered"  # 已确认完成（或超时自动确认），补贴转为申领
    no_show = "no_show"  # 护理员未上门，补贴额度已退回


class CancelledBy(enum.Enum):
    family = "family"  # the elder or a family member (a fee after the free cut-off)
    provider = "provider"  # the provider, with a reason (always free for the family)


class PlacedVia(enum.Enum):
    self = "self"  # the elder
    delegate = "delegate"  # a family member holding an eldercare delegation
    staff = "staff"  # staff, by phone (with a reason)


class CareOrder(db.Model):
    """An order of care for an elder. Price, subsidy and copay are computed on the server; the rule is snapshotted."""

    __tablename__ = "eldercare_orders"
    __table_args__ = (
        sa.CheckConstraint("price_fen > 0", name="price_positive"),
        sa.CheckConstraint("subsidy_fen >= 0 AND copay_fen >= 0", name="amounts_not_negative"),
        sa.CheckConstraint("subsidy_fen + copay_fen = price_fen", name="amounts_add_up"),
        sa.CheckConstraint("refunded_fen >= 0 AND refunded_fen <= copay_fen", name="refunded_within_copay"),
        sa.CheckConstraint("placed_via <> 'staff' OR staff_reason IS NOT NULL", name="staff_has_reason"),
        sa.CheckConstraint("cancellation_fee_fen BETWEEN 0 AND copay_fen", name="fee_within_copay"),
        sa.Index("ix_eldercare_orders_provider_status", "provider_id", "status", "id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"), index=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_providers.id", ondelete="RESTRICT"))
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_offers.id", ondelete="RESTRICT"), index=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True)
    category: Mapped[CareCategory]
    item_name: Mapped[str] = mapped_column(sa.String(64))
    scheduled_at: Mapped[datetime]
    duration_minutes: Mapped[int]
    notes: Mapped[str | None] = mapped_column(sa.String(200))
    placed_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"), index=True)
    placed_via: Mapped[PlacedVia]
    staff_reason: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[CareOrderStatus]
    price_fen: Mapped[money_fen]
    subsidy_fen: Mapped[money_fen]
    copay_fen: Mapped[money_fen]
    #: The subsidy month (first day, Asia/Shanghai) whose quota the hold draws on.
    subsidy_month: Mapped[date]
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eldercare_eligibility_rules.id", ondelete="SET NULL"))
    #: The rule as it was when the order was placed (None: not eligible, full price).
    rule_snapshot: Mapped[dict[str, Any] | None]
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    #: An order waiting for its copay gives its subsidy hold back at this time if still unpaid.
    expires_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    payment_public_id: Mapped[str | None] = mapped_column(sa.String(24))
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    status_note: Mapped[str | None] = mapped_column(sa.String(200))
    cancelled_by: Mapped[CancelledBy | None]
    #: Kept by the provider out of the paid copay on a late family cancellation (never subsidised).
    cancellation_fee_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class SubsidyQuota(db.Model):
    """One elder's subsidy quota for one month, set by the rule of the month's first hold.

    ``held_fen`` and ``claimed_fen`` change only under the row's lock, and the CHECK keeps their sum within the quota
    whatever the code does.
    """

    __tablename__ = "eldercare_subsidy_quotas"
    __table_args__ = (
        sa.CheckConstraint("held_fen >= 0 AND claimed_fen >= 0", name="not_negative"),
        sa.CheckConstraint("held_fen + claimed_fen <= quota_fen", name="within_quota"),
    )

    resident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"), primary_key=True
    )
    month: Mapped[date] = mapped_column(primary_key=True)
    quota_fen: Mapped[money_fen]
    held_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    claimed_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eldercare_eligibility_rules.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class LedgerKind(enum.Enum):
    hold = "hold"  # at confirmation
    claim = "claim"  # when the visit is delivered
    release = "release"  # cancellation, provider decline, no-show


class SubsidyLedgerEntry(db.Model):
    """One movement of an elder's monthly subsidy; the idempotency key makes each movement happen once."""

    __tablename__ = "eldercare_subsidy_ledger"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.Index("ix_eldercare_subsidy_ledger_resident_month", "resident_id", "month"),
    )

    id: Mapped[intpk]
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"))
    month: Mapped[date]
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eldercare_orders.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[LedgerKind]
    amount_fen: Mapped[money_fen]
    idempotency_key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    created_at: Mapped[created_at]
