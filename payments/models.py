"""Payment tables: payees, payments and their items, captures (money that arrived) and refunds."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.api import SHANGHAI
from app.db import created_at, intpk, money_fen, public_id, updated_at, utcnow
from app.extensions import db

#: Gateways accept ``out_trade_no`` / ``out_refund_no`` of at most 32 characters from this alphabet.
TRADE_NO_PATTERN = "^[A-Za-z0-9_-]{1,32}$"


def new_trade_no(prefix: str) -> str:
    """``LP20261123093015a1b2c3d4e5f6``: a prefix, the Shanghai time to the second, 48 random bits (28 chars)."""
    return f"{prefix}{utcnow().astimezone(SHANGHAI):%Y%m%d%H%M%S}{secrets.token_hex(6)}"


class PayeeKind(enum.Enum):
    property_company = "property_company"  # 物业公司
    vendor = "vendor"  # 商户
    care_provider = "care_provider"  # 养老服务机构
    community = "community"  # 社区
    other = "other"


class Payee(db.Model):
    """Who receives the money, with its own merchant identities: the platform never holds money for others (二清)."""

    __tablename__ = "payments_payees"
    __table_args__ = (
        sa.CheckConstraint("commission_bps >= 0 AND commission_bps <= 10000", name="commission_bps_range"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[PayeeKind]
    #: WeChat Pay sub-merchant id (特约商户号) under the platform's service-provider account (partner mode).
    wechat_sub_mchid: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    #: Alipay app_auth_token (第三方应用授权), encrypted like personal data: it lets us act on the merchant's account.
    alipay_app_auth_token_ciphertext: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    #: The platform's commission in basis points, settled by the channel's profit sharing (分账); 0 = none.
    commission_bps: Mapped[int] = mapped_column(default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class PaymentChannel(enum.Enum):
    sandbox = "sandbox"
    #: WeChat Pay JSAPI in the mini-program (``wechat_jsapi`` is the same channel under the issue's name).
    wechatpay = "wechatpay"
    wechat_jsapi = "wechat_jsapi"
    #: WeChat Pay APP in the phone app: the open-platform app id, whose openids differ from the mini-program's.
    wechat_app = "wechat_app"
    #: Alipay APP (``alipay_app`` is the same channel under the issue's name).
    alipay = "alipay"
    alipay_app = "alipay_app"


class PaymentStatus(enum.Enum):
    created = "created"  # open: waiting for the money
    closed = "closed"  # closed without money (expired, replaced by a new payment); money arriving later is refunded
    paid = "paid"  # money received and settled: applied to the payables, or (``late_reason``) being refunded
    paid_unapplied = "paid_unapplied"  # money received, a domain handler failed; a retry job applies or refunds it


class LateReason(enum.Enum):
    payment_closed = "payment_closed"  # the money came for a payment we had closed
    payable_unavailable = "payable_unavailable"  # the payable was cancelled, expired or paid by another payment
    amount_mismatch = "amount_mismatch"  # the channel reported another amount than we asked for


class ItemState(enum.Enum):
    open = "open"  # in an open payment: no other payment may be opened for this payable
    closed = "closed"
    pending = "pending"  # money received, not applied yet (payment ``paid_unapplied``)
    applied = "applied"  # the domain's ``on_paid`` ran
    rejected = "rejected"  # money received but refused (late money), refunded
    refunded = "refunded"  # was applied, then refunded in full

    @classmethod
    def live(cls) -> tuple[ItemState, ...]:
        """States that hold a payable: at most one item per payable may be in one of them."""
        return (cls.open, cls.pending, cls.applied)


class Payment(db.Model):
    """One payment to one payee for one or more payables of one kind, with the amount snapshotted at creation."""

    __tablename__ = "payments_payments"
    __table_args__ = (
        sa.CheckConstraint(f"out_trade_no ~ '{TRADE_NO_PATTERN}'", name="out_trade_no_format"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("refunded_fen >= 0 AND refunded_fen <= coalesce(paid_fen, 0)", name="refund_within_paid"),
        sa.CheckConstraint(
            "(status IN ('paid', 'paid_unapplied')) = (paid_at IS NOT NULL)"
            " AND (paid_at IS NULL) = (paid_fen IS NULL)"
            " AND (paid_at IS NULL) = (channel_txn_id IS NULL)",
            name="paid_complete",
        ),
        sa.CheckConstraint("late_reason IS NULL OR status = 'paid'", name="late_only_when_paid"),
        sa.UniqueConstraint("channel", "channel_txn_id"),
        sa.Index("ix_payments_payments_payer_created", "payer_user_id", "created_at", "id"),
        sa.Index("ix_payments_payments_unapplied", "paid_at", postgresql_where=sa.text("status = 'paid_unapplied'")),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    out_trade_no: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_trade_no("LP"))
    kind: Mapped[str] = mapped_column(sa.String(64))
    payer_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"))
    payee_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payees.id", ondelete="RESTRICT"), index=True)
    channel: Mapped[PaymentChannel]
    amount_fen: Mapped[money_fen]
    status: Mapped[PaymentStatus] = mapped_column(default=PaymentStatus.created)
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    #: What the channel said arrived (may differ from ``amount_fen``: then ``late_reason = amount_mismatch``).
    paid_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    paid_at: Mapped[datetime | None]
    channel_txn_id: Mapped[str | None] = mapped_column(sa.String(64))
    applied_at: Mapped[datetime | None]
    late_reason: Mapped[LateReason | None]
    #: Refunds requested and not given up (pending, failed awaiting retry, succeeded); guarded by a CHECK.
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    apply_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    apply_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[created_at]

    payee: Mapped[Payee] = relationship(lazy="joined", innerjoin=True)
    items: Mapped[list[PaymentItem]] = relationship(
        back_populates="payment", order_by="PaymentItem.id", lazy="selectin"
    )


class PaymentItem(db.Model):
    """A payable in a payment, with its amount at the time; the partial unique index locks it to one live payment."""

    __tablename__ = "payments_items"
    __table_args__ = (
        sa.Index(
            "uq_payments_items_live_payable",
            "kind",
            "payable_id",
            unique=True,
            postgresql_where=sa.text("state IN ('open', 'pending', 'applied')"),
        ),
        sa.UniqueConstraint("payment_id", "payable_id"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[intpk]
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(64))
    payable_id: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(200))
    amount_fen: Mapped[money_fen]
    #: The resident who owes the payable (None for payables owed by an account without a resident).
    subject_resident_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[ItemState] = mapped_column(default=ItemState.open)

    payment: Mapped[Payment] = relationship(back_populates="items")


class Capture(db.Model):
    """A success notification from a channel, once per channel transaction id: the idempotency of the paid path."""

    __tablename__ = "payments_captures"
    __table_args__ = (sa.UniqueConstraint("channel", "channel_txn_id"),)

    id: Mapped[intpk]
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payments.id", ondelete="RESTRICT"), index=True)
    channel: Mapped[PaymentChannel]
    channel_txn_id: Mapped[str] = mapped_column(sa.String(64))
    amount_fen: Mapped[money_fen]
    paid_at: Mapped[datetime]
    #: The channel's message as received (after signature checks), kept as evidence for reconciliation.
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: False when the payment already held another capture (a channel paying one order twice): admins reconcile.
    counted: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]


class RefundStatus(enum.Enum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class Refund(db.Model):
    """Money going back, idempotent by (payment, key); the channel call runs in a job and is retried."""

    __tablename__ = "payments_refunds"
    __table_args__ = (
        sa.UniqueConstraint("payment_id", "key"),
        sa.CheckConstraint(f"out_refund_no ~ '{TRADE_NO_PATTERN}'", name="out_refund_no_format"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.Index("ix_payments_refunds_failed", "failed_at", postgresql_where=sa.text("status = 'failed'")),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payments.id", ondelete="RESTRICT"), index=True)
    key: Mapped[str] = mapped_column(sa.String(128))
    out_refund_no: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_trade_no("LR"))
    amount_fen: Mapped[money_fen]
    reason: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[RefundStatus] = mapped_column(default=RefundStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    channel_refund_id: Mapped[str | None] = mapped_column(sa.String(64))
    requested_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"))
    created_at: Mapped[created_at]
    succeeded_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]

    payment: Mapped[Payment] = relationship(lazy="joined", innerjoin=True)
