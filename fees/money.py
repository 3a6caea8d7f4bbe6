"""Money rules in one place: rounding half-up to the fen, bill amounts, late fees, periods and their titles.

Rates are integers of 0.01 fen (``rate_centifen``): 0.4883 元/kWh is 4883, 1.50 元/m²·月 is 15000. A bill line is
``quantity × rate × months`` in 0.01 fen, rounded half-up to the fen once (never per unit, never per month). The
SQL used by generation and the arrears list computes exactly the same (``round()`` on ``numeric`` rounds half away
from zero, which for these non-negative amounts is half-up); tests hold the two together.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from app.api import SHANGHAI
from app.db import utcnow
from fees.models import CYCLE_MONTHS, Cycle

CENTIFEN_PER_FEN = 100
BPS = 10_000


def shanghai_today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def round_half_up(value: Decimal) -> int:
    """Round a non-negative amount to a whole number, halves up (0.5 → 1)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_amount_fen(quantity: Decimal, rate_centifen: int, months: int = 1) -> int:
    """A bill line in fen: ``quantity × rate × months`` (0.01 fen), rounded half-up once."""
    return round_half_up(Decimal(quantity) * rate_centifen * months / CENTIFEN_PER_FEN)


def area_m2(floor_area_dm2: int) -> Decimal:
    return (Decimal(floor_area_dm2) / 100).quantize(Decimal("0.01"))


def yuan(fen: int | None) -> str | None:
    """``12345`` → ``"123.45"`` (for display and CSV; the API's amounts are integer fen)."""
    if fen is None:
        return None
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def rate_yuan(rate_centifen: int) -> str:
    """``4883`` → ``"0.4883"``: a rate in 元 with the four decimals it is stored with."""
    return f"{Decimal(rate_centifen) / 10_000:.4f}"


def days_late(due_on: date, on: date) -> int:
    """Days after the due date (the due date itself is on time)."""
    return max(0, (on - due_on).days)


def late_fee_fen(principal_fen: int, due_on: date, on: date, bps_per_day: int, cap_bps: int) -> int:
    """滞纳金 as of ``on``: ``bps_per_day`` of the unpaid principal per day after ``due_on``, rounded half-up, never
    more than ``cap_bps`` of the principal (itself rounded half-up)."""
    days = days_late(due_on, on)
    if principal_fen <= 0 or days == 0 or bps_per_day == 0:
        return 0
    accrued = round_half_up(Decimal(principal_fen) * bps_per_day * days / BPS)
    cap = round_half_up(Decimal(principal_fen) * cap_bps / BPS)
    return min(accrued, cap)


def late_fee_sql(principal, due_on, on: date, bps_per_day, cap_bps, waived):
    """The same rule as ``late_fee_fen`` as a SQL expression over columns (for lists and dashboards)."""
    days = sa.func.greatest(sa.literal(on, sa.Date) - due_on, 0)
    principal_n = sa.cast(principal, sa.Numeric)
    accrued = sa.func.round(principal_n * bps_per_day * days / BPS)
    cap = sa.func.round(principal_n * cap_bps / BPS)
    return sa.cast(sa.case((waived, 0), else_=sa.func.least(accrued, cap)), sa.BigInteger)


# --- periods ---------------------------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def cycle_start(cycle: Cycle, period: date) -> date:
    """The first day of the ``cycle`` period that contains the month ``period``."""
    if cycle is Cycle.quarterly:
        return date(period.year, (period.month - 1) // 3 * 3 + 1, 1)
    if cycle is Cycle.yearly:
        return date(period.year, 1, 1)
    return month_start(period)


def period_title(cycle: Cycle, start: date, name: str) -> str:
    """``2026年11月物业费``, ``2026年第4季度物业费``, ``2026年度物业费``."""
    if cycle is Cycle.quarterly:
        return f"{start.year}年第{(start.month - 1) // 3 + 1}季度{name}"
    if cycle is Cycle.yearly:
        return f"{start.year}年度{name}"
    return f"{start.year}年{start.month}月{name}"


def due_date(start: date, due_days: int) -> date:
    return start + timedelta(days=due_days)


def months_of(cycle: Cycle) -> int:
    return CYCLE_MONTHS[cycle]
