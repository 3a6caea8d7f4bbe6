"""Marketplace tables: vendors and the communities they serve, products, orders with their lines and steps."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import created_at, intpk, money_fen, public_id, updated_at
from app.extensions import db


class VendorKind(enum.Enum):
    grocery = "grocery"  # 生鲜
    repair = "repair"  # 维修
    household = "household"  # 家政
    recycling = "recycling"  # 回收


class VendorStatus(enum.Enum):
    pending = "pending"  # 待审核
    approved = "approved"  # 已通过
    rejected = "rejected"  # 已驳回
    suspended = "suspended"  # 已暂停


#: Roles a vendor's staff hold over the ``vendor`` scope kind.
VENDOR_ROLES = ("owner", "clerk", "courier")


class Vendor(db.Model):
    """A local business selling to the communities it serves; community staff approve, suspend and reinstate it."""

    __tablename__ = "marketplace_vendors"
    __table_args__ = (
        sa.CheckConstraint("kind <> 'grocery' OR food_licence_no IS NOT NULL", name="grocery_has_food_licence"),
        sa.CheckConstraint("status <> 'approved' OR payee_id IS NOT NULL", name="approved_has_payee"),
        sa.CheckConstraint("uncollected_refund_bps BETWEEN 0 AND 10000", name="uncollected_refund_bps_range"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    name: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[VendorKind]
    #: 统一社会信用代码 / 营业执照号.
    licence_no: Mapped[str] = mapped_column(sa.String(32))
    #: 食品经营许可证号, required for groceries.
    food_licence_no: Mapped[str | None] = mapped_column(sa.String(32))
    contact_name: Mapped[str] = mapped_column(sa.String(32))
    contact_phone: Mapped[str] = mapped_column(sa.String(20))
    opening_hours: Mapped[str] = mapped_column(sa.String(64))
    #: What the applicant states about where money goes (e.g. a WeChat Pay sub-merchant id); an admin makes the Payee.
    payee_identity: Mapped[str | None] = mapped_column(sa.String(64))
    payee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments_payees.id", ondelete="RESTRICT"), index=True)
    status: Mapped[VendorStatus] = mapped_column(default=VendorStatus.pending)
    status_note: Mapped[str | None] = mapped_column(sa.String(200))
    applicant_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"), index=True)
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    #: The vendor's stated policy for locker orders never collected: the share of the order refunded, in basis
    #: points (10000 = full refund, 0 = none).
    uncollected_refund_bps: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[created_at]

    @property
    def vendor_id(self) -> int:
        """The ``vendor`` scope kind reads ``vendor_id`` from every entity it may contain, the vendor included."""
        return self.id

    def scope_community_ids(self) -> set[int]:
        """Communities served: their staff decide on the vendor (the ``community`` scope kind reads this)."""
        return set(
            db.session.scalars(sa.select(VendorCommunity.community_id).where(VendorCommunity.vendor_id == self.id))
        )


class VendorCommunity(db.Model):
    """A community a vendor serves."""

    __tablename__ = "marketplace_vendor_communities"

    vendor_id: Mapped[int] = mapped_column(
        sa.ForeignKey("marketplace_vendors.id", ondelete="CASCADE"), primary_key=True
    )
    community_id: Mapped[int] = mapped_column(
        sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class ProductUnit(enum.Enum):
    jin = "斤"
    kilogram = "公斤"
    portion = "份"
    piece = "个"
    box = "盒"
    bag = "袋"
    bunch = "把"


#: Grams in one unit of weight: weighed goods are priced per 斤 or 公斤.
GRAMS_PER_UNIT = {ProductUnit.jin: 500, ProductUnit.kilogram: 1000}


class StorageZone(enum.Enum):
    ambient = "ambient"  # 常温
    chilled = "chilled"  # 冷藏
    frozen = "frozen"  # 冷冻


class Product(db.Model):
    """Something a vendor sells, with its stock. ``stock`` only changes through conditional UPDATEs."""

    __tablename__ = "marketplace_products"
    __table_args__ = (
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price_fen > 0", name="price_positive"),
        sa.CheckConstraint("original_price_fen IS NULL OR original_price_fen >= price_fen", name="original_not_lower"),
        sa.CheckConstraint("low_stock_threshold >= 0", name="low_stock_threshold_not_negative"),
        sa.CheckConstraint("shelf_life_days IS NULL OR shelf_life_days > 0", name="shelf_life_positive"),
        sa.CheckConstraint(
            "(weighed AND estimated_weight_g > 0 AND unit IN ('斤', '公斤'))"
            " OR (NOT weighed AND estimated_weight_g IS NULL)",
            name="weighed_fields",
        ),
        sa.CheckConstraint("cardinality(image_ids) <= 9", name="at_most_nine_images"),
        sa.Index("ix_marketplace_products_browse", "vendor_id", "on_shelf", "category"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_vendors.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    category: Mapped[str] = mapped_column(sa.String(32))
    description: Mapped[str | None] = mapped_column(sa.String(500))
    unit: Mapped[ProductUnit]
    #: Per ``unit``; for weighed goods per 斤 or 公斤.
    price_fen: Mapped[money_fen]
    original_price_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    stock: Mapped[int] = mapped_column(default=0)
    low_stock_threshold: Mapped[int] = mapped_column(default=5, server_default="5")
    on_shelf: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    storage_zone: Mapped[StorageZone] = mapped_column(default=StorageZone.ambient)
    shelf_life_days: Mapped[int | None]
    #: 称重: the resident pays for ``estimated_weight_g`` per item; the vendor weighs while preparing.
    weighed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    estimated_weight_g: Mapped[int | None]
    #: Public ids of the product's images (public files attached to it), in display order: a page of products
    #: builds every image URL from this column, without a query per product.
    image_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.String(24)), default=list, server_default="{}")
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    vendor: Mapped[Vendor] = relationship(lazy="raise")


class Fulfilment(enum.Enum):
    locker = "locker"  # 智能柜自提 (default, in the resident's own courtyard)
    delivery = "delivery"  # 送货上门
    shop = "shop"  # 到店自提


class OrderStatus(enum.Enum):
    pending_payment = "pending_payment"  # 待付款 (stock reserved)
    paid = "paid"  # 已付款，待商户接单
    accepted = "accepted"  # 已接单
    preparing = "preparing"  # 备货中
    ready = "ready"  # 待取货 / 已送达
    completed = "completed"  # 已完成
    cancelled = "cancelled"  # 已取消
    expired = "expired"  # 超时未付款
    rejected = "rejected"  # 商户拒单 (refunded)
    out_for_delivery = "out_for_delivery"  # 配送中 (dispatched; locker cells reserved for it)
    delivered = "delivered"  # 已送达 (home delivery)
    uncollected = "uncollected"  # 超时未取 (locker deadline passed; the vendor retrieves, refund per its policy)


#: States whose stock is still held by the order; leaving one for cancelled/expired/rejected gives it back.
HOLDING = (OrderStatus.pending_payment, OrderStatus.paid, OrderStatus.accepted)


class Order(db.Model):
    """A resident's grocery order from one vendor. Totals are computed on the server; stock is reserved at placement."""

    __tablename__ = "marketplace_orders"
    __table_args__ = (
        sa.CheckConstraint("total_fen > 0", name="total_positive"),
        sa.CheckConstraint("refunded_fen >= 0 AND refunded_fen <= total_fen", name="refunded_within_total"),
        sa.CheckConstraint(
            "window_start IS NULL OR window_end IS NULL OR window_end > window_start", name="window_ordered"
        ),
        sa.Index("ix_marketplace_orders_vendor_status", "vendor_id", "status", "id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_vendors.id", ondelete="RESTRICT"))
    #: The resident the order is for (an elder, when a delegate placed it).
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"), index=True)
    placed_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"), index=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community_regions.id", ondelete="RESTRICT"), index=True)
    fulfilment: Mapped[Fulfilment] = mapped_column(default=Fulfilment.locker)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[OrderStatus] = mapped_column(default=OrderStatus.pending_payment)
    total_fen: Mapped[money_fen]
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    payment_public_id: Mapped[str | None] = mapped_column(sa.String(24))
    #: Set once, by the one statement that gives the reserved stock back (see ``orders.release_stock``).
    stock_released_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    lines: Mapped[list[OrderLine]] = relationship(lazy="raise", order_by="OrderLine.id")
    vendor: Mapped[Vendor] = relationship(lazy="raise")


class OrderLine(db.Model):
    """A product in an order, with the price and name at placement."""

    __tablename__ = "marketplace_order_lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.UniqueConstraint("order_id", "product_id"),
    )

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_orders.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_products.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    unit: Mapped[ProductUnit]
    storage_zone: Mapped[StorageZone]
    price_fen: Mapped[money_fen]
    quantity: Mapped[int]
    weighed: Mapped[bool] = mapped_column(default=False)
    estimated_weight_g: Mapped[int | None]
    #: What the resident pays for the line (for weighed goods, for the estimated weight).
    amount_fen: Mapped[money_fen]


class OrderEvent(db.Model):
    """One step of an order: who moved it from which status to which, when, and why."""

    __tablename__ = "marketplace_order_events"

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(32))
    to_status: Mapped[str] = mapped_column(sa.String(32))
    #: None for the system (expiry, payment callbacks).
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    at: Mapped[created_at]
