"""Tables for meals (dishes, daily menus, meal settings), recurring orders (series, pauses, occurrences) and the
prepaid care balance (助餐卡: balances, top-ups and their ledger).

Columns that belong to a care order but only matter for meals or series live here, keyed by the order's id
(``eldercare_meal_orders``, ``eldercare_series_occurrences``), so ``eldercare_orders`` stays as it is.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, money_fen, public_id, updated_at
from app.extensions import db
from eldercare.models import PlacedVia

#: What a dish is suitable for (shown on the menu).
DIET_TAGS = ("low_salt", "diabetic_friendly", "soft_food")
#: Diet needs read from an elder's health notes; a dish lists the needs it conflicts with.
DIET_NEEDS = ("low_salt", "diabetic", "soft_food", "seafood_allergy", "peanut_allergy", "egg_allergy", "milk_allergy")


def _within(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} <@ ARRAY[{listed}]::varchar[]"


# --- meals ---------------------------------------------------------------------------------------------------------


class MealSettings(db.Model):
    """A provider's daily ordering cut-off and the time lunch is served (defaults: ``ELDERCARE_MEAL_CUTOFF``, 11:30)."""

    __tablename__ = "eldercare_meal_settings"

    provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey("eldercare_providers.id", ondelete="CASCADE"), primary_key=True
    )
    cutoff: Mapped[time] = mapped_column(comment="Orders for a day's lunch close at this time that day (Shanghai)")
    serve_at: Mapped[time] = mapped_column(comment="When lunch is served or delivered (Shanghai)")
    updated_at: Mapped[updated_at]


class Dish(db.Model):
    """A dish a provider cooks: what diets it suits and which diet needs it conflicts with."""

    __tablename__ = "eldercare_dishes"
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "name"),
        sa.CheckConstraint(_within("diet_tags", DIET_TAGS), name="diet_tags_known"),
        sa.CheckConstraint(_within("conflicts_with", DIET_NEEDS), name="conflicts_known"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_providers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str | None] = mapped_column(sa.String(200))
    diet_tags: Mapped[list[str]] = mapped_column(ARRAY(sa.String(20)), default=list, server_default="{}")
    conflicts_with: Mapped[list[str]] = mapped_column(ARRAY(sa.String(20)), default=list, server_default="{}")
    created_at: Mapped[created_at]


class MenuEntry(db.Model):
    """A dish on a provider's menu for one day, ordered through one of its meal offers (the offer sets the price)."""

    __tablename__ = "eldercare_menu_entries"
    __table_args__ = (
        sa.UniqueConstraint("offer_id", "day", "dish_id"),
        sa.Index("ix_eldercare_menu_entries_provider_day", "provider_id", "day"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_providers.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_offers.id", ondelete="CASCADE"))
    day: Mapped[date]
    dish_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_dishes.id", ondelete="RESTRICT"), index=True)
    #: Taken off the day's menu (kept, since orders may name it).
    withdrawn_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class MealOrder(db.Model):
    """The meal side of a care order: the day, the dish (None for a recurring day's set meal), and the diet
    conflicts the orderer confirmed."""

    __tablename__ = "eldercare_meal_orders"

    order_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_orders.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date]
    menu_entry_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("eldercare_menu_entries.id", ondelete="RESTRICT"), index=True
    )
    diet_conflicts: Mapped[list[str]] = mapped_column(ARRAY(sa.String(20)), default=list, server_default="{}")
    conflict_confirmed_by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("accounts_users.id", ondelete="SET NULL")
    )


# --- recurring orders ----------------------------------------------------------------------------------------------


class SeriesPattern(enum.Enum):
    workdays = "workdays"  # every working day of the core calendar (调休 Saturdays in, holidays out)
    weekly = "weekly"  # the given ISO weekdays (1 Monday … 7 Sunday)


class SeriesStatus(enum.Enum):
    active = "active"
    ended = "ended"


class Series(db.Model):
    """A recurring care order: each day the pattern names (and no pause covers) becomes a normal care order."""

    __tablename__ = "eldercare_series"
    __table_args__ = (
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates_ordered"),
        sa.CheckConstraint("pattern <> 'weekly' OR cardinality(weekdays) > 0", name="weekly_has_days"),
        sa.CheckConstraint("weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]", name="weekdays_known"),
        sa.CheckConstraint("placed_via <> 'staff' OR staff_reason IS NOT NULL", name="staff_has_reason"),
        sa.Index("ix_eldercare_series_status", "status", "id"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"), index=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_providers.id", ondelete="RESTRICT"), index=True)
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_offers.id", ondelete="RESTRICT"))
    pattern: Mapped[SeriesPattern]
    weekdays: Mapped[list[int]] = mapped_column(ARRAY(sa.SmallInteger), default=list, server_default="{}")
    time_of_day: Mapped[time] = mapped_column(comment="Scheduled start on each day (Shanghai)")
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    status: Mapped[SeriesStatus] = mapped_column(default=SeriesStatus.active)
    pay_from_balance: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    notes: Mapped[str | None] = mapped_column(sa.String(200))
    placed_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"), index=True)
    placed_via: Mapped[PlacedVia]
    staff_reason: Mapped[str | None] = mapped_column(sa.String(200))
    ended_at: Mapped[datetime | None]
    ended_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    end_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class SeriesPause(db.Model):
    """Days a series skips (a hospital stay): ``[from_day, to_day]``, open-ended until resumed when ``to_day`` is
    None."""

    __tablename__ = "eldercare_series_pauses"
    __table_args__ = (sa.CheckConstraint("to_day IS NULL OR to_day >= from_day", name="days_ordered"),)

    id: Mapped[intpk]
    series_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_series.id", ondelete="CASCADE"), index=True)
    from_day: Mapped[date]
    to_day: Mapped[date | None]
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class SeriesOccurrence(db.Model):
    """One day of a series that became a care order; the unique (series, day) makes creating it happen once."""

    __tablename__ = "eldercare_series_occurrences"
    __table_args__ = (sa.UniqueConstraint("series_id", "day"),)

    id: Mapped[intpk]
    series_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_series.id", ondelete="CASCADE"))
    day: Mapped[date]
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eldercare_orders.id", ondelete="SET NULL"), unique=True)
    created_at: Mapped[created_at]


# --- the care balance (助餐卡) ---------------------------------------------------------------------------------------


class CareBalance(db.Model):
    """An elder's prepaid balance with one provider, issued by the provider and topped up by the family.

    ``balance_fen`` changes only under the row's lock, and the CHECK keeps it from going negative whatever the code
    does.
    """

    __tablename__ = "eldercare_care_balances"
    __table_args__ = (
        sa.UniqueConstraint("resident_id", "provider_id"),
        sa.CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="RESTRICT"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_providers.id", ondelete="RESTRICT"), index=True)
    balance_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    issued_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class TopupStatus(enum.Enum):
    pending = "pending"  # waiting for its payment
    paid = "paid"  # credited to the balance


class BalanceTopup(db.Model):
    """A top-up the family asked for; paid through payments (kind ``eldercare.balance_topup``)."""

    __tablename__ = "eldercare_balance_topups"
    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    balance_id: Mapped[int] = mapped_column(
        sa.ForeignKey("eldercare_care_balances.id", ondelete="RESTRICT"), index=True
    )
    amount_fen: Mapped[money_fen]
    status: Mapped[TopupStatus] = mapped_column(default=TopupStatus.pending)
    requested_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="RESTRICT"))
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    payment_public_id: Mapped[str | None] = mapped_column(sa.String(24))
    created_at: Mapped[created_at]


class BalanceEntryKind(enum.Enum):
    topup = "topup"  # money in, from a paid top-up
    draw = "draw"  # a copay paid from the balance
    refund = "refund"  # a drawn copay given back to the balance (cancelled or declined order)


class BalanceEntry(db.Model):
    """One movement of a care balance; the idempotency key makes each movement happen once."""

    __tablename__ = "eldercare_balance_ledger"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.Index("ix_eldercare_balance_ledger_balance", "balance_id", "id"),
    )

    id: Mapped[intpk]
    balance_id: Mapped[int] = mapped_column(sa.ForeignKey("eldercare_care_balances.id", ondelete="RESTRICT"))
    kind: Mapped[BalanceEntryKind]
    amount_fen: Mapped[money_fen]
    #: The balance after this movement.
    balance_after_fen: Mapped[money_fen]
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eldercare_orders.id", ondelete="RESTRICT"), index=True)
    topup_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eldercare_balance_topups.id", ondelete="RESTRICT"))
    idempotency_key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    created_at: Mapped[created_at]
