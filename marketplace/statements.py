"""Monthly statements per vendor: gross, refunds, the platform's commission and net, with a CSV export.

A month's statement covers the orders **completed** in that month (Asia/Shanghai): completion is when the vendor
has earned the money and when the platform's commission is shared (``orders.record_step``). For each order:

- gross: what the resident paid (``total_fen``);
- refunds: everything the marketplace refunded on it (cancellations, weights and missing items, after-sales and
  arbitration), including after-sales refunds approved after the month ended — the statement is computed when asked,
  so it shows them once they happen;
- commission: the payee's ``commission_bps`` of (gross − refunds made before completion: cancellation, rejection,
  weights and missing items), rounded down per order, as profit sharing takes it; after-sales refunds come later,
  out of the vendor's share;
- net = gross − refunds − commission.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from app.api import SHANGHAI
from app.auth.scopes import register_action
from app.extensions import db
from marketplace.aftersales_models import MarketRefund, RefundCause
from marketplace.models import Order, OrderEvent, OrderStatus
from marketplace.vendors import vendor_for

register_action("marketplace.vendor.statement", ("owner",))

#: Refunds that only happen after completion (so after the commission was shared): they come out of the vendor's share.
AFTER_COMPLETION = (RefundCause.aftersales, RefundCause.arbitration)


def _commission_bps(payee_id: int | None) -> int:
    from payments.payees import commission_bps_of

    return commission_bps_of(payee_id)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``"2026-12"`` → its first instant and the next month's, in Asia/Shanghai."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=SHANGHAI)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def _rows(vendor_id: int, month: str) -> list[Any]:
    start, end = month_bounds(month)
    completed = (
        sa.select(OrderEvent.order_id, sa.func.min(OrderEvent.at).label("completed_at"))
        .where(OrderEvent.to_status == OrderStatus.completed.value)
        .group_by(OrderEvent.order_id)
        .subquery()
    )
    refunded = (
        sa.select(sa.func.coalesce(sa.func.sum(MarketRefund.amount_fen), 0))
        .where(MarketRefund.order_id == Order.id)
        .scalar_subquery()
    )
    refunded_before = (
        sa.select(sa.func.coalesce(sa.func.sum(MarketRefund.amount_fen), 0))
        .where(MarketRefund.order_id == Order.id, MarketRefund.cause.not_in(AFTER_COMPLETION))
        .scalar_subquery()
    )
    return db.session.execute(
        sa.select(
            Order.public_id,
            completed.c.completed_at,
            Order.total_fen,
            refunded.label("refunds_fen"),
            refunded_before.label("refunded_before_fen"),
        )
        .join(completed, completed.c.order_id == Order.id)
        .where(Order.vendor_id == vendor_id, completed.c.completed_at >= start, completed.c.completed_at < end)
        .order_by(completed.c.completed_at, Order.id)
    ).all()


def _lines(vendor, month: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    bps = _commission_bps(vendor.payee_id)
    lines = []
    for row in _rows(vendor.id, month):
        refunds = min(int(row.refunds_fen), row.total_fen)
        commission = max(row.total_fen - int(row.refunded_before_fen), 0) * bps // 10000
        lines.append(
            {
                "order_id": row.public_id,
                "completed_at": row.completed_at,
                "gross_fen": row.total_fen,
                "refunds_fen": refunds,
                "commission_fen": commission,
                "net_fen": row.total_fen - refunds - commission,
            }
        )
    totals = {
        "vendor_id": vendor.public_id,
        "vendor_name": vendor.name,
        "month": month,
        "orders": len(lines),
        "commission_bps": bps,
        **{key: sum(line[key] for line in lines) for key in ("gross_fen", "refunds_fen", "commission_fen", "net_fen")},
    }
    return totals, lines


def statement(user, vendor_public_id: str, month: str) -> dict[str, Any]:
    """The month's totals for the vendor's owner."""
    vendor = vendor_for(user, vendor_public_id, "marketplace.vendor.statement")
    return _lines(vendor, month)[0]


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def statement_csv(user, vendor_public_id: str, month: str) -> str:
    """The month's statement as CSV: one line per order (amounts in yuan), then the totals."""
    vendor = vendor_for(user, vendor_public_id, "marketplace.vendor.statement")
    totals, lines = _lines(vendor, month)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["订单号", "完成时间", "订单金额", "退款", "平台佣金", "结算金额"])
    for line in lines:
        writer.writerow(
            [
                line["order_id"],
                line["completed_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
                *(_yuan(line[key]) for key in ("gross_fen", "refunds_fen", "commission_fen", "net_fen")),
            ]
        )
    writer.writerow(
        [
            f"合计（{totals['orders']} 单）",
            month,
            *(_yuan(totals[key]) for key in ("gross_fen", "refunds_fen", "commission_fen", "net_fen")),
        ]
    )
    return out.getvalue()


def current_month() -> str:
    today: date = datetime.now(SHANGHAI).date()
    return f"{today.year:04d}-{today.month:02d}"
