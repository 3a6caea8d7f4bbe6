"""The vendor's dashboard: orders by state, sales by day, top products, refunds, after-sales and ratings, in a
fixed number of aggregate queries whatever the vendor's volume."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.api import SHANGHAI
from app.auth.scopes import register_action
from app.db import utcnow
from app.extensions import db
from marketplace.aftersales_models import Aftersale, MarketRefund, Review
from marketplace.locker_models import Locker, LockerCode, LockerCodeKind
from marketplace.models import Order, OrderLine, OrderStatus, Product
from marketplace.vendors import vendor_for

register_action("marketplace.vendor.dashboard", ("owner", "clerk"))

TOP_PRODUCTS = 5
#: Orders that did not sell (their money went back in full, or never came).
NOT_SOLD = (OrderStatus.pending_payment, OrderStatus.cancelled, OrderStatus.expired, OrderStatus.rejected)


def dashboard(user, vendor_public_id: str, *, days: int = 30) -> dict[str, Any]:
    """The vendor's figures over the last ``days`` days (Asia/Shanghai), for its owner and clerks."""
    vendor = vendor_for(user, vendor_public_id, "marketplace.vendor.dashboard")
    now = utcnow()
    since = (now.astimezone(SHANGHAI) - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    by_state = dict(
        db.session.execute(
            sa.select(Order.status, sa.func.count()).where(Order.vendor_id == vendor.id).group_by(Order.status)
        ).all()
    )
    day = sa.cast(sa.func.timezone("Asia/Shanghai", Order.paid_at), sa.Date).label("day")
    sales = db.session.execute(
        sa.select(day, sa.func.count(), sa.func.sum(Order.total_fen))
        .where(Order.vendor_id == vendor.id, Order.paid_at >= since, Order.status.not_in(NOT_SOLD))
        .group_by(day)
        .order_by(day)
    ).all()
    amount = sa.func.sum(OrderLine.amount_fen)
    top = db.session.execute(
        sa.select(Product.public_id, Product.name, sa.func.sum(OrderLine.quantity), amount)
        .join(OrderLine, OrderLine.product_id == Product.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.vendor_id == vendor.id, Order.paid_at >= since, Order.status.not_in(NOT_SOLD))
        .group_by(Product.id)
        .order_by(amount.desc(), Product.id)
        .limit(TOP_PRODUCTS)
    ).all()
    refunds = db.session.execute(
        sa.select(MarketRefund.cause, sa.func.count(), sa.func.sum(MarketRefund.amount_fen))
        .where(MarketRefund.vendor_id == vendor.id, MarketRefund.created_at >= since)
        .group_by(MarketRefund.cause)
    ).all()
    aftersales = dict(
        db.session.execute(
            sa.select(Aftersale.status, sa.func.count())
            .where(Aftersale.vendor_id == vendor.id)
            .group_by(Aftersale.status)
        ).all()
    )
    ratings = dict(
        db.session.execute(
            sa.select(Review.rating, sa.func.count()).where(Review.vendor_id == vendor.id).group_by(Review.rating)
        ).all()
    )
    rated = sum(ratings.values())
    return {
        "lockers_today": _lockers_today(vendor.id, now),
        "vendor_id": vendor.public_id,
        "since": since,
        "days": days,
        "orders_by_status": {status.value: by_state.get(status, 0) for status in OrderStatus},
        "sales_by_day": [{"date": d.isoformat(), "orders": n, "gross_fen": int(total)} for d, n, total in sales],
        "top_products": [
            {"product_id": pid, "name": name, "quantity": int(quantity), "amount_fen": int(total)}
            for pid, name, quantity, total in top
        ],
        "refunds": {
            "count": sum(n for _cause, n, _total in refunds),
            "amount_fen": sum(int(total) for _cause, _n, total in refunds),
            "by_cause": {cause.value: int(total) for cause, _n, total in refunds},
        },
        "aftersales_by_status": {status.value: n for status, n in aftersales.items()},
        "ratings": {
            "average": round(sum(r * n for r, n in ratings.items()) / rated, 2) if rated else None,
            "count": rated,
            "distribution": {str(r): ratings.get(r, 0) for r in range(1, 6)},
        },
    }


def _lockers_today(vendor_id: int, now) -> list[dict[str, Any]]:
    """Today's deliveries (Asia/Shanghai) per cabinet: a pickup code is made at each deposit, so deposits are
    counted from the codes, collected ones from those used, one query."""
    midnight = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = db.session.execute(
        sa.select(
            Locker.public_id,
            Locker.name,
            sa.func.count(sa.distinct(LockerCode.order_id)),
            sa.func.count(sa.distinct(LockerCode.order_id)).filter(LockerCode.used_at.is_not(None)),
        )
        .join(LockerCode, LockerCode.locker_id == Locker.id)
        .join(Order, Order.id == LockerCode.order_id)
        .where(
            Order.vendor_id == vendor_id,
            LockerCode.kind == LockerCodeKind.pickup,
            LockerCode.created_at >= midnight,
        )
        .group_by(Locker.id)
        .order_by(Locker.name, Locker.id)
    ).all()
    return [
        {"locker_id": pid, "name": name, "deposited": deposited, "collected": collected}
        for pid, name, deposited, collected in rows
    ]
