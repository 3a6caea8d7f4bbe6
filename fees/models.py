"""Fee tables: fee items, meter readings, billing runs, bills and their adjustments, fee orders, receipts, reminders."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, money_fen, public_id
from app.extensions import db


class FeeKind(enum.Enum):
    property = "property"  # 物业费
    parking = "parking"  # 停车费
    garbage = "garbage"  # 垃圾处理费
    water = "water"  # 水费
    electricity = "electricity"  # 电费
    gas = "gas"  # 燃气费
    heating = "heating"  # 取暖费
    elevator = "elevator"  # 电梯费
    other = "other"  # 其他


FEE_KIND_LABELS = {
    FeeKind.property: "物业费",
    FeeKind.parking: "停车费",
    FeeKind.garbage: "垃圾处理费",
    FeeKind.water: "水费",
    FeeKind.electricity: "电费",
    FeeKind.gas: "燃气费",
    FeeKind.heating: "取暖费",
    FeeKind.elevator: "电梯费",
    FeeKind.other: "其他",
}


class Formula(enum.Enum):
    per_area = "per_area"  # rate per m² of the household's floor area, per month
    fixed = "fixed"  # rate per household, per month
    metered = "metered"  # rate per unit of a meter reading (kWh, m³)


class Cycle(enum.Enum):
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"
    one_off = "one_off"  # never generated; staff issue one-off bills against it


#: Months a bill of each cycle covers (per-area and fixed rates are per month).
CYCLE_MONTHS = {Cycle.monthly: 1, Cycle.quarterly: 3, Cycle.yearly: 12, Cycle.one_off: 1}


class FeeItem(db.Model):
    """A fee an estate charges (收费项目): how it is computed, how often, who receives it, how late it gets dear."""

    __tablename__ = "fees_items"
    __table_args__ = (
        sa.UniqueConstraint("estate_id", "name"),
        sa.CheckConstraint("rate_centifen >= 0", name="rate_not_negative"),
        sa.CheckConstraint("due_days BETWEEN 0 AND 366", name="due_days_range"),
        sa.CheckConstraint("late_fee_bps_per_day BETWEEN 0 AND 10000", name="late_fee_bps_range"),
        sa.CheckConstraint("late_fee_cap_bps BETWEEN 0 AND 100000", name="late_fee_cap_range"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("community_estates.id", ondelete="RESTRICT"), index=True)
    #: Copied from the estate for scope checks (``authorize`` reads ``community_id``).
    community_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[FeeKind]
    formula: Mapped[Formula]
    rate_centifen: Mapped[int] = mapped_column(
        sa.BigInteger, comment="Rate in 0.01 fen: per m² per month, per household per month, or per meter unit"
    )
    #: The meter's unit for metered items (kWh, m³), shown on bills.
    unit_label: Mapped[str | None] = mapped_column(sa.String(16))
    cycle: Mapped[Cycle]
    payee_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payees.id", ondelete="RESTRICT"), index=True)
    #: The due date is the period's first day plus this many days.
    due_days: Mapped[int] = mapped_column(sa.SmallInteger, default=15, server_default="15")
    #: 滞纳金: basis points of the unpaid principal per day after the due date (5 = 万分之五 a day) …
    late_fee_bps_per_day: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    #: … never more than this many basis points of the principal in all (10000 = the principal itself).
    late_fee_cap_bps: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class MeterReading(db.Model):
    """A household's meter reading for a metered fee item and a billing period (抄表)."""

    __tablename__ = "fees_meter_readings"
    __table_args__ = (
        sa.UniqueConstraint("household_id", "item_id", "period"),
        sa.CheckConstraint("previous_reading >= 0 AND current_reading >= 0", name="readings_not_negative"),
        sa.CheckConstraint("usage >= 0", name="usage_not_negative"),
        # A meter that runs backwards is a typo, unless the meter was changed (and that is written down).
        sa.CheckConstraint(
            "current_reading >= previous_reading OR meter_change_note IS NOT NULL", name="no_decrease_without_note"
        ),
        sa.CheckConstraint("extract(day from period) = 1", name="period_first_day"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("fees_items.id", ondelete="RESTRICT"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("community_households.id", ondelete="RESTRICT"))
    period: Mapped[date]
    previous_reading: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    current_reading: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    #: Units used: current − previous, or across a meter change (old meter's end − previous) + (current − new start).
    usage: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    read_on: Mapped[date]
    meter_change_note: Mapped[str | None] = mapped_column(sa.String(200))
    old_meter_end: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    new_meter_start: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    entered_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class BillingRun(db.Model):
    """A request to bill an estate for a period (出账); one job does it, set-based, and may run twice."""

    __tablename__ = "fees_billing_runs"

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("community_estates.id", ondelete="RESTRICT"), index=True)
    community_id: Mapped[int] = mapped_column(sa.BigInteger)
    period: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(16), default="queued", server_default="queued")
    #: Per item: bills created by this run, and households left out for lack of a floor area or a reading.
    stats: Mapped[dict[str, Any] | None]
    requested_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    finished_at: Mapped[datetime | None]


class BillStatus(enum.Enum):
    unpaid = "unpaid"
    paid = "paid"
    waived = "waived"  # discounted to nothing
    cancelled = "cancelled"  # issued by mistake; kept, so the period is not billed again


class Bill(db.Model):
    """What one household owes for one fee item and period (or a one-off charge), with its rules snapshotted."""

    __tablename__ = "fees_bills"
    __table_args__ = (
        # The idempotency of generation: one bill per household, item and period, whoever runs it how often.
        sa.Index(
            "uq_fees_bills_household_item_period",
            "household_id",
            "item_id",
            "period",
            unique=True,
            postgresql_where=sa.text("NOT one_off"),
        ),
        sa.Index("ix_fees_bills_estate_period", "estate_id", "period"),
        sa.Index("ix_fees_bills_household_status", "household_id", "status"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("discount_fen >= 0 AND discount_fen <= amount_fen", name="discount_within_amount"),
        sa.CheckConstraint("extract(day from period) = 1", name="period_first_day"),
        sa.CheckConstraint(
            "(status = 'paid') = (paid_at IS NOT NULL)"
            " AND (paid_at IS NULL) = (paid_principal_fen IS NULL)"
            " AND (paid_at IS NULL) = (paid_late_fee_fen IS NULL)",
            name="paid_complete",
        ),
        sa.CheckConstraint("status <> 'waived' OR discount_fen = amount_fen", name="waived_means_nothing_due"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("community_households.id", ondelete="RESTRICT"))
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("fees_items.id", ondelete="RESTRICT"), index=True)
    estate_id: Mapped[int] = mapped_column(sa.BigInteger)
    community_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    payee_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payees.id", ondelete="RESTRICT"))
    #: First day of the billed period (a quarter's first month for quarterly items); for one-offs, their month.
    period: Mapped[date]
    one_off: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    title: Mapped[str] = mapped_column(sa.String(100))
    #: m² for per-area items, units used for metered ones, 1 for fixed ones (None for one-offs).
    quantity: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    months: Mapped[int] = mapped_column(sa.SmallInteger, default=1, server_default="1")
    rate_centifen: Mapped[int | None] = mapped_column(sa.BigInteger)
    meter_reading_id: Mapped[int | None] = mapped_column(sa.ForeignKey("fees_meter_readings.id", ondelete="RESTRICT"))
    #: The charge, rounded half-up to the fen once per bill line.
    amount_fen: Mapped[money_fen]
    #: Discounts and waivers by staff (减免), each with a reason in ``fees_bill_adjustments``.
    discount_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    due_on: Mapped[date]
    late_fee_bps_per_day: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    late_fee_cap_bps: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    late_fee_waived: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    status: Mapped[BillStatus] = mapped_column(default=BillStatus.unpaid)
    paid_at: Mapped[datetime | None]
    paid_principal_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    paid_late_fee_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    fee_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("fees_orders.id", ondelete="RESTRICT"))
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("fees_billing_runs.id", ondelete="SET NULL"))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]

    @property
    def principal_fen(self) -> int:
        """What is owed before late fees: the charge less discounts."""
        return self.amount_fen - self.discount_fen


class AdjustmentKind(enum.Enum):
    discount = "discount"  # 减免/打折: lowers the principal by an amount
    waive_late_fee = "waive_late_fee"  # 免收滞纳金
    cancel = "cancel"  # 作废: the bill was issued by mistake


class BillAdjustment(db.Model):
    """A change staff made to a bill, with its reason (also in the audit log)."""

    __tablename__ = "fees_bill_adjustments"
    __table_args__ = (sa.CheckConstraint("amount_fen >= 0", name="amount_not_negative"),)

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    bill_id: Mapped[int] = mapped_column(sa.ForeignKey("fees_bills.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AdjustmentKind]
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    reason: Mapped[str] = mapped_column(sa.String(200))
    by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class OrderStatus(enum.Enum):
    open = "open"  # holds its bills; a payment may be opened for it
    paid = "paid"
    expired = "expired"  # not paid in time; its bills are free again
    cancelled = "cancelled"  # given up by its creator (or replaced by their next order)
    refunded = "refunded"  # paid, then refunded in full; its bills are owed again


class LineState(enum.Enum):
    open = "open"
    paid = "paid"
    released = "released"


class FeeOrder(db.Model):
    """Bills of one household and one payee paid together (payable kind ``fees.fee_order``), amounts fixed when made."""

    __tablename__ = "fees_orders"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("amount_fen = principal_fen + late_fee_fen", name="amount_adds_up"),
        sa.CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_amount"),
        sa.CheckConstraint("(status = 'paid' OR status = 'refunded') = (paid_at IS NOT NULL)", name="paid_has_time"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("community_households.id", ondelete="RESTRICT"))
    estate_id: Mapped[int] = mapped_column(sa.BigInteger)
    community_id: Mapped[int] = mapped_column(sa.BigInteger)
    payee_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payees.id", ondelete="RESTRICT"))
    created_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"), index=True)
    #: The household member who owes it: the creator, or the member a delegate pays for.
    for_resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"))
    status: Mapped[OrderStatus] = mapped_column(default=OrderStatus.open)
    principal_fen: Mapped[money_fen]
    late_fee_fen: Mapped[money_fen]
    amount_fen: Mapped[money_fen]
    #: Late fees are computed as of this Shanghai date (the day the order was made).
    priced_on: Mapped[date]
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    payment_public_id: Mapped[str | None] = mapped_column(sa.String(24))
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    created_at: Mapped[created_at]


class FeeOrderLine(db.Model):
    """A bill in a fee order with what it costs in that order; the partial unique index locks a bill to one order."""

    __tablename__ = "fees_order_lines"
    __table_args__ = (
        # The lock: a bill is in at most one open (or paid) order. Two orders racing for one bill cannot both
        # insert here; replaced by "SELECT open lines, then INSERT", both would pass the SELECT.
        sa.Index(
            "uq_fees_order_lines_live_bill",
            "bill_id",
            unique=True,
            postgresql_where=sa.text("state IN ('open', 'paid')"),
        ),
        sa.UniqueConstraint("order_id", "bill_id"),
        sa.CheckConstraint("principal_fen >= 0 AND late_fee_fen >= 0", name="amounts_not_negative"),
    )

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("fees_orders.id", ondelete="CASCADE"), index=True)
    bill_id: Mapped[int] = mapped_column(sa.ForeignKey("fees_bills.id", ondelete="RESTRICT"))
    principal_fen: Mapped[money_fen]
    late_fee_fen: Mapped[money_fen]
    #: The bill's discount and waiver when the order was made: a change since then refuses the payment.
    discount_fen: Mapped[money_fen]
    late_fee_waived: Mapped[bool]
    state: Mapped[LineState] = mapped_column(default=LineState.open)


class ReceiptCounter(db.Model):
    """The last receipt number of an estate in a year; its row is locked by the payment that takes a number."""

    __tablename__ = "fees_receipt_counters"

    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("community_estates.id", ondelete="RESTRICT"), primary_key=True)
    year: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    last_seq: Mapped[int] = mapped_column(sa.Integer)


class Receipt(db.Model):
    """A receipt (收据) for a paid fee order, numbered without gaps per estate and year; a snapshot, never edited
    except to record refunds."""

    __tablename__ = "fees_receipts"
    __table_args__ = (
        sa.UniqueConstraint("estate_id", "year", "seq"),
        sa.CheckConstraint("seq > 0", name="seq_positive"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    number: Mapped[str] = mapped_column(sa.String(32))
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("community_estates.id", ondelete="RESTRICT"))
    year: Mapped[int] = mapped_column(sa.SmallInteger)
    seq: Mapped[int] = mapped_column(sa.Integer)
    fee_order_id: Mapped[int] = mapped_column(sa.ForeignKey("fees_orders.id", ondelete="RESTRICT"), unique=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("community_households.id", ondelete="RESTRICT"), index=True)
    community_id: Mapped[int] = mapped_column(sa.BigInteger)
    payee_id: Mapped[int] = mapped_column(sa.ForeignKey("payments_payees.id", ondelete="RESTRICT"))
    payer_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"), index=True)
    #: What is printed: payee name, address, the lines (title, period, principal, late fee, amount).
    document: Mapped[dict[str, Any]]
    principal_fen: Mapped[money_fen]
    late_fee_fen: Mapped[money_fen]
    total_fen: Mapped[money_fen]
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    payment_public_id: Mapped[str] = mapped_column(sa.String(24))
    out_trade_no: Mapped[str] = mapped_column(sa.String(32))
    channel: Mapped[str] = mapped_column(sa.String(16))
    paid_at: Mapped[datetime]
    issued_at: Mapped[created_at]


class ReminderMark(db.Model):
    """When a household was last reminded of arrears: the guard for "at most once every N days"."""

    __tablename__ = "fees_reminder_marks"

    household_id: Mapped[int] = mapped_column(
        sa.ForeignKey("community_households.id", ondelete="CASCADE"), primary_key=True
    )
    last_sent_on: Mapped[date]


class ArrearsReminder(db.Model):
    """One arrears reminder (催缴) sent to a household: what it said and the push delivery that carried it."""

    __tablename__ = "fees_arrears_reminders"

    id: Mapped[intpk]
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("community_households.id", ondelete="CASCADE"), index=True)
    estate_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    sent_on: Mapped[date]
    bills_count: Mapped[int]
    principal_fen: Mapped[money_fen]
    late_fee_fen: Mapped[money_fen]
    #: The push delivery's public id.
    delivery_id: Mapped[str | None] = mapped_column(sa.String(24))
    by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
