"""Service tables: what repair, household-service and recycling vendors offer, and residents' bookings of it with
their quote lines and steps."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import created_at, intpk, money_fen, public_id, updated_at
from app.extensions import db
from marketplace.models import Vendor, VendorKind

#: Vendor kinds that offer services (a grocer lists products, not services).
SERVICE_VENDOR_KINDS = (VendorKind.repair, VendorKind.household, VendorKind.recycling)


class ServiceKind(enum.Enum):
    plumbing = "plumbing"  # 水电（水路）
    electrical = "electrical"  # 电路
    appliances = "appliances"  # 家电维修
    locks = "locks"  # 开锁换锁
    cleaning = "cleaning"  # 保洁
    recycling = "recycling"  # 上门回收
    other = "other"  # 其他


class ServiceListing(db.Model):
    """A service a vendor offers: a call-out fee charged in any case, price notes for the work, a typical duration."""

    __tablename__ = "marketplace_services"
    __table_args__ = (
        sa.CheckConstraint("callout_fee_fen >= 0", name="callout_fee_not_negative"),
        sa.CheckConstraint("duration_minutes > 0", name="duration_positive"),
        sa.CheckConstraint("rating_sum BETWEEN rating_count AND 5 * rating_count", name="rating_totals"),
        sa.Index("ix_marketplace_services_browse", "vendor_id", "on_shelf", "kind"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_vendors.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[ServiceKind]
    description: Mapped[str | None] = mapped_column(sa.String(500))
    #: 上门费: what a resident pays when they decline the quote.
    callout_fee_fen: Mapped[money_fen]
    #: 收费说明 (e.g. "换水龙头 80 元起，材料另计").
    price_notes: Mapped[str | None] = mapped_column(sa.String(500))
    #: Typical time on site.
    duration_minutes: Mapped[int]
    on_shelf: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: Ratings of its bookings, kept in step with each rating (the listing's average needs no extra query).
    rating_count: Mapped[int] = mapped_column(default=0, server_default="0")
    rating_sum: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    vendor: Mapped[Vendor] = relationship(lazy="raise")

    @property
    def rating_summary(self) -> dict:
        average = round(self.rating_sum / self.rating_count, 2) if self.rating_count else None
        return {"average": average, "count": self.rating_count}


class ServiceOrderStatus(enum.Enum):
    pending = "pending"  # 待接单
    accepted = "accepted"  # 已接单（已派师傅）
    on_the_way = "on_the_way"  # 上门中
    arrived = "arrived"  # 已到达
    quoted = "quoted"  # 已报价，待确认
    in_progress = "in_progress"  # 已确认报价，施工中
    awaiting_payment = "awaiting_payment"  # 待支付（完工，或拒绝报价后付上门费）
    paid = "paid"  # 已支付
    rated = "rated"  # 已评价
    rework = "rework"  # 保修期内返修，待上门
    declined = "declined"  # 商户拒单
    cancelled = "cancelled"  # 用户取消
    closed = "closed"  # 拒绝报价且无上门费，已关闭


class ServiceOrder(db.Model):
    """A resident's booking of a service: who, where, when, what is wrong; then the vendor's technician, the quote,
    the work and the payment. ``status`` only moves through conditional UPDATEs or under a row lock."""

    __tablename__ = "marketplace_service_orders"
    __table_args__ = (
        sa.CheckConstraint("window_end > window_start", name="window_ordered"),
        sa.CheckConstraint("callout_fee_fen >= 0", name="callout_fee_not_negative"),
        sa.CheckConstraint("quote_fen IS NULL OR quote_fen > 0", name="quote_positive"),
        sa.CheckConstraint("amount_fen IS NULL OR amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        sa.CheckConstraint(
            "status IN ('pending', 'declined', 'cancelled') OR technician_user_id IS NOT NULL",
            name="accepted_has_technician",
        ),
        sa.CheckConstraint("cardinality(photo_ids) <= 9", name="at_most_nine_photos"),
        sa.CheckConstraint("cardinality(completion_photo_ids) <= 9", name="at_most_nine_completion_photos"),
        sa.CheckConstraint("cardinality(rating_photo_ids) <= 9", name="at_most_nine_rating_photos"),
        sa.Index("ix_marketplace_service_orders_vendor_status", "vendor_id", "status", "id"),
        sa.Index("ix_marketplace_service_orders_technician", "technician_user_id", "id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_vendors.id", ondelete="RESTRICT"))
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_services.id", ondelete="RESTRICT"), index=True)
    #: The resident the booking is for (an elder, when a delegate booked it).
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"), index=True)
    placed_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"), index=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("community_households.id", ondelete="RESTRICT"), index=True)
    #: The household's address when booked (社区 · 小区 · 楼 · 单元 · 房号), for the technician.
    address: Mapped[str] = mapped_column(sa.String(200))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(20))
    description: Mapped[str] = mapped_column(sa.String(1000))
    #: Public ids of the resident's photos (private files attached to the booking), in display order.
    photo_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.String(24)), default=list, server_default="{}")
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    status: Mapped[ServiceOrderStatus] = mapped_column(default=ServiceOrderStatus.pending)
    technician_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"))
    #: The listing's call-out fee when booked (a later price change does not touch open bookings).
    callout_fee_fen: Mapped[money_fen]
    #: Sum of the quote lines.
    quote_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: What the resident pays: the quote once accepted, or the call-out fee when they declined it.
    amount_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    quote_accepted: Mapped[bool | None]
    decline_reason: Mapped[str | None] = mapped_column(sa.String(200))
    completion_photo_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.String(24)), default=list, server_default="{}")
    #: When the paid work was finished: the warranty runs from here (a rework does not restart it).
    completed_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    payment_public_id: Mapped[str | None] = mapped_column(sa.String(24))
    #: Set once, by the statement that claims the request to share the platform's commission of the payment.
    profit_sharing_requested_at: Mapped[datetime | None]
    rework_count: Mapped[int] = mapped_column(default=0, server_default="0")
    #: True while a free rework round runs (no quote, no payment; completing it returns to paid or rated).
    reworking: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(sa.String(500))
    rating_photo_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.String(24)), default=list, server_default="{}")
    rated_at: Mapped[datetime | None]
    #: The vendor's one public reply to the rating.
    vendor_reply: Mapped[str | None] = mapped_column(sa.String(500))
    vendor_replied_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    vendor: Mapped[Vendor] = relationship(lazy="raise")
    service: Mapped[ServiceListing] = relationship(lazy="raise")
    technician: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[technician_user_id])
    quote_lines: Mapped[list[ServiceQuoteLine]] = relationship(lazy="raise", order_by="ServiceQuoteLine.id")


class ServiceQuoteLine(db.Model):
    """One line of the technician's itemised quote (labour, a part), in fen."""

    __tablename__ = "marketplace_service_quote_lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price_fen > 0", name="unit_price_positive"),
        sa.CheckConstraint("amount_fen = unit_price_fen * quantity", name="amount_is_price_times_quantity"),
    )

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("marketplace_service_orders.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(64))
    quantity: Mapped[int]
    unit_price_fen: Mapped[money_fen]
    amount_fen: Mapped[money_fen]


class ServiceOrderEvent(db.Model):
    """One step of a booking: who moved it from which status to which, when, and why."""

    __tablename__ = "marketplace_service_order_events"

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("marketplace_service_orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(sa.String(32))
    to_status: Mapped[str] = mapped_column(sa.String(32))
    #: None for the system (payment callbacks).
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    at: Mapped[created_at]
