"""Settlement and after-sales tables: per-line money accounts, the ledger of refunds the marketplace asked for,
after-sales requests and reviews. Keyed by order and line ids, so ``models.py`` needs no column of ours."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import created_at, intpk, money_fen, public_id, updated_at
from app.extensions import db
from marketplace.models import Order, OrderLine


class LineAccount(db.Model):
    """What the resident paid for one order line and how much of it went back; the database refuses to refund
    more than was paid (``refunded_fen <= paid_fen``), and every refund reserves here by one conditional UPDATE.

    Also carries the vendor's adjustments made while preparing: the actual weight of a weighed line and the
    quantity found missing.
    """

    __tablename__ = "marketplace_line_accounts"
    __table_args__ = (
        sa.CheckConstraint("paid_fen >= 0", name="paid_not_negative"),
        sa.CheckConstraint("refunded_fen >= 0 AND refunded_fen <= paid_fen", name="refunded_within_paid"),
        sa.CheckConstraint("missing_quantity >= 0 AND missing_quantity <= quantity", name="missing_within_quantity"),
        sa.CheckConstraint("actual_weight_g IS NULL OR actual_weight_g > 0", name="actual_weight_positive"),
    )

    line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("marketplace_order_lines.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_orders.id", ondelete="CASCADE"), index=True)
    paid_fen: Mapped[money_fen]
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    quantity: Mapped[int]
    #: Weighed lines: the grams the vendor weighed for the items delivered (None: not weighed yet).
    actual_weight_g: Mapped[int | None]
    missing_quantity: Mapped[int] = mapped_column(default=0, server_default="0")
    adjusted_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    adjusted_at: Mapped[datetime | None]
    #: When the adjustments were refunded (the order left ``preparing``): set once, so they are refunded once.
    settled_at: Mapped[datetime | None]


class RefundCause(enum.Enum):
    cancel = "cancel"  # 用户取消
    reject = "reject"  # 商户拒单
    adjustment = "adjustment"  # 称重差价、缺货
    aftersales = "aftersales"  # 售后（商户同意）
    arbitration = "arbitration"  # 售后（社区仲裁）
    other = "other"  # 其他（如取货超时按商户规则退款）


class MarketRefund(db.Model):
    """One refund the marketplace asked payments for, with its cause (statements and dashboards read this)."""

    __tablename__ = "marketplace_refunds"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.Index("ix_marketplace_refunds_vendor_created", "vendor_id", "created_at"),
    )

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_orders.id", ondelete="CASCADE"), index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_vendors.id", ondelete="RESTRICT"))
    cause: Mapped[RefundCause]
    amount_fen: Mapped[money_fen]
    #: The idempotency key given to payments (unique: the same refund is never recorded twice).
    key: Mapped[str] = mapped_column(sa.String(128), unique=True)
    refund_public_id: Mapped[str] = mapped_column(sa.String(24))
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class AftersaleStatus(enum.Enum):
    requested = "requested"  # 待商户处理
    approved = "approved"  # 商户同意，已退款
    refused = "refused"  # 商户拒绝
    escalated = "escalated"  # 已申请社区仲裁
    arbitrated_refund = "arbitrated_refund"  # 仲裁：退款
    arbitrated_upheld = "arbitrated_upheld"  # 仲裁：维持商户决定


#: A line has at most one request in these states at a time (a partial unique index).
OPEN_AFTERSALE = ("requested", "escalated")


class Aftersale(db.Model):
    """A resident's refund request for one line of a completed order, the vendor's decision and, on escalation, the
    community staff's arbitration. ``vendor_id`` and ``community_id`` put it in the vendor's and the community's
    scopes."""

    __tablename__ = "marketplace_aftersales"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("refunded_fen IS NULL OR refunded_fen > 0", name="refunded_positive"),
        sa.CheckConstraint("cardinality(photo_ids) <= 9", name="at_most_nine_photos"),
        sa.Index(
            "uq_marketplace_aftersales_open_line",
            "line_id",
            unique=True,
            postgresql_where=sa.text("status IN ('requested', 'escalated')"),
        ),
        sa.Index("ix_marketplace_aftersales_vendor_status", "vendor_id", "status", "id"),
        sa.Index("ix_marketplace_aftersales_community_status", "community_id", "status", "id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_orders.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_order_lines.id", ondelete="CASCADE"))
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_vendors.id", ondelete="RESTRICT"))
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"))
    requested_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"))
    status: Mapped[AftersaleStatus] = mapped_column(default=AftersaleStatus.requested)
    reason: Mapped[str] = mapped_column(sa.String(500))
    #: Private files (the resident's uploads) attached to the request, in the order given.
    photo_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.String(24)), default=list, server_default="{}")
    amount_fen: Mapped[money_fen]
    refunded_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    vendor_note: Mapped[str | None] = mapped_column(sa.String(200))
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    escalation_reason: Mapped[str | None] = mapped_column(sa.String(500))
    escalated_at: Mapped[datetime | None]
    arbitration_note: Mapped[str | None] = mapped_column(sa.String(200))
    arbiter_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    arbitrated_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    order: Mapped[Order] = relationship(lazy="raise")
    line: Mapped[OrderLine] = relationship(lazy="raise")


class Review(db.Model):
    """A resident's rating of a completed order (one per order), with at most one reply from the vendor."""

    __tablename__ = "marketplace_reviews"
    __table_args__ = (
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        sa.CheckConstraint("cardinality(photo_ids) <= 9", name="at_most_nine_photos"),
        sa.Index("ix_marketplace_reviews_vendor", "vendor_id", "id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_orders.id", ondelete="CASCADE"), unique=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_vendors.id", ondelete="RESTRICT"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"))
    author_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"))
    rating: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str | None] = mapped_column(sa.String(500))
    #: Public images (shown to every resident browsing the vendor), in display order.
    photo_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.String(24)), default=list, server_default="{}")
    reply: Mapped[str | None] = mapped_column(sa.String(500))
    replied_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    replied_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    order: Mapped[Order] = relationship(lazy="raise")
