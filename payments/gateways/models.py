"""Tables of the gateway channels: notifications received, Alipay sellers, profit sharing, reconciliation reports."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, money_fen, updated_at
from app.extensions import db
from payments.models import TRADE_NO_PATTERN, new_trade_no


class Verdict(enum.Enum):
    accepted = "accepted"  # verified, matched our record, acted upon
    rejected = "rejected"  # forged, tampered, stale, for someone else or not matching: nothing changed


class GatewayNotification(db.Model):
    """Every notification a gateway (or someone posing as one) sent us.

    Accepted ones hold the verified (decrypted) payload and are unique per (gateway, notify id): a notification
    delivered again, even twenty times at once, is acted upon once. Rejected ones keep what was sent (cut short)
    and why, for admins; their ids prove nothing, so they are not unique.
    """

    __tablename__ = "payments_gateway_notifications"
    __table_args__ = (
        sa.Index(
            "uq_payments_gateway_notifications_accepted",
            "gateway",
            "notify_id",
            unique=True,
            postgresql_where=sa.text("verdict = 'accepted'"),
        ),
        sa.Index(
            "ix_payments_gateway_notifications_rejected",
            "received_at",
            postgresql_where=sa.text("verdict = 'rejected'"),
        ),
        sa.CheckConstraint("verdict = 'rejected' OR notify_id IS NOT NULL", name="accepted_has_id"),
    )

    id: Mapped[intpk]
    gateway: Mapped[str] = mapped_column(sa.String(16))
    notify_id: Mapped[str | None] = mapped_column(sa.String(128))
    event_type: Mapped[str | None] = mapped_column(sa.String(64))
    out_trade_no: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    out_refund_no: Mapped[str | None] = mapped_column(sa.String(64))
    verdict: Mapped[Verdict]
    reason: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[str | None] = mapped_column(sa.Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[created_at]


class AlipaySeller(db.Model):
    """Whom a payee's app_auth_token acts for (Alipay's answer to alipay.open.auth.token.app.query), so that a
    notification's ``seller_id`` can be checked. Refreshed when the token changes (its SHA-256 differs)."""

    __tablename__ = "payments_gateway_alipay_sellers"

    payee_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payees.id", ondelete="CASCADE"), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64))
    seller_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    auth_app_id: Mapped[str | None] = mapped_column(sa.String(32))
    checked_at: Mapped[updated_at]
    #: The platform's Alipay account bound as this seller's royalty receiver (alipay.trade.royalty.relation.bind),
    #: once per seller; cleared when the token starts acting for another seller.
    royalty_account: Mapped[str | None] = mapped_column(sa.String(32))
    royalty_bound_at: Mapped[datetime | None]


class ShareStatus(enum.Enum):
    pending = "pending"  # to send (or send again after an error)
    processing = "processing"  # the gateway accepted it and finishes later
    finished = "finished"  # commission shared (or, for 0 fen, the money unfrozen for the payee)
    skipped = "skipped"  # nothing to share: fully refunded
    failed = "failed"  # attempts spent; admins look


class ProfitShare(db.Model):
    """The platform's commission taken from one payment by profit sharing (分账), at most once per payment."""

    __tablename__ = "payments_gateway_profit_shares"
    __table_args__ = (
        sa.CheckConstraint(f"out_order_no ~ '{TRADE_NO_PATTERN}'", name="out_order_no_format"),
        sa.CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[intpk]
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payments.id", ondelete="RESTRICT"), unique=True)
    out_order_no: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_trade_no("PS"))
    amount_fen: Mapped[money_fen] = mapped_column(default=0)
    status: Mapped[ShareStatus] = mapped_column(default=ShareStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    channel_order_id: Mapped[str | None] = mapped_column(sa.String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"))
    created_at: Mapped[created_at]
    finished_at: Mapped[datetime | None]


class ReportStatus(enum.Enum):
    matched = "matched"
    mismatched = "mismatched"
    failed = "failed"  # the statement could not be fetched or parsed


class ReconciliationReport(db.Model):
    """One statement (a gateway, a day, a merchant) matched against our records; run again, it is replaced."""

    __tablename__ = "payments_gateway_reconciliations"
    __table_args__ = (sa.UniqueConstraint("gateway", "bill_date", "merchant"),)

    id: Mapped[intpk]
    gateway: Mapped[str] = mapped_column(sa.String(16))
    bill_date: Mapped[date]
    #: "" for the service provider's WeChat statement (every sub-merchant), the seller id for an Alipay payee.
    merchant: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    status: Mapped[ReportStatus]
    lines: Mapped[int] = mapped_column(default=0, server_default="0")
    matched: Mapped[int] = mapped_column(default=0, server_default="0")
    mismatches: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class ReturnStatus(enum.Enum):
    pending = "pending"  # to send (or ask about, when an earlier answer was lost)
    processing = "processing"  # WeChat Pay accepted it and finishes later
    finished = "finished"  # the commission part is back with the payee (or nothing had to go back: 0 fen)


class ShareReturn(db.Model):
    """Commission given back before a refund of a payment whose commission was shared (分账回退), one per refund.

    The platform keeps the commission on what stays paid, rounded down: a refund returns
    ``share - returned so far - commission_fen(paid, refunded)``, so the returns add up to the whole share once
    everything is refunded. WeChat Pay gets its own return order; Alipay takes it in the refund itself
    (``refund_royalty_parameters``).
    """

    __tablename__ = "payments_gateway_share_returns"
    __table_args__ = (
        sa.CheckConstraint(f"out_return_no ~ '{TRADE_NO_PATTERN}'", name="out_return_no_format"),
        sa.CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[intpk]
    share_id: Mapped[int] = mapped_column(
        sa.ForeignKey("payments_gateway_profit_shares.id", ondelete="RESTRICT"), index=True
    )
    #: One return per refund: the guard that makes a refund take commission back once.
    refund_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_refunds.id", ondelete="RESTRICT"), unique=True)
    out_return_no: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_trade_no("RT"))
    amount_fen: Mapped[money_fen]
    status: Mapped[ReturnStatus] = mapped_column(default=ReturnStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    channel_return_id: Mapped[str | None] = mapped_column(sa.String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[created_at]
    finished_at: Mapped[datetime | None]
