"""The one way the marketplace tells people something: ``app.push``, with the marketplace's events registered here.

Order steps go to the resident the order is for (and, through push, to family members holding a ``marketplace``
delegation); low-stock alerts go to the vendor's staff who have a resident profile. ``notify_*`` join the caller's
unit of work, so a rolled-back step tells nobody.
"""

from __future__ import annotations

import sqlalchemy as sa

from app import push
from app.accounts.resident_models import Resident
from app.auth.models import RoleAssignment
from app.extensions import db

ORDER_EVENT = "marketplace.order_status"
LOW_STOCK_EVENT = "marketplace.low_stock"

STATUS_LABELS = {
    "pending_payment": "待付款",
    "paid": "已付款，等待商户接单",
    "accepted": "商户已接单",
    "preparing": "商户备货中",
    "ready": "可取货",
    "completed": "已完成",
    "cancelled": "已取消",
    "expired": "超时未付款，已关闭",
    "rejected": "商户已拒单，款项原路退回",
}

push.register_event(
    ORDER_EVENT,
    "订单状态更新",
    channels=("inbox",),
    scope="marketplace",
    title="{vendor}：{status}",
    body="您在{vendor}的订单（{total}）{status}。{note}",
)
push.register_event(
    LOW_STOCK_EVENT,
    "库存预警",
    channels=("inbox",),
    scope="marketplace",
    title="库存预警：{product}",
    body="{vendor}的商品“{product}”库存仅剩 {stock}，请及时补货。",
)


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def notify_order_step(order, vendor_name: str, event_id: int, note: str | None = None) -> None:
    """Tell the resident an order moved (one message per recorded step; a repeated step sends nothing new)."""
    push.send(
        ORDER_EVENT,
        [order.resident_id],
        {
            "vendor": vendor_name,
            "status": STATUS_LABELS[order.status.value],
            "total": _yuan(order.total_fen),
            "note": note or "",
        },
        source=("market_order", order.public_id),
        key=f"marketplace.order_event:{event_id}",
    )


def notify_low_stock(vendor, product, stock: int) -> None:
    """Tell the vendor's owner and clerks that a product fell to its low-stock threshold."""
    staff = (
        sa.select(Resident.id)
        .join(RoleAssignment, RoleAssignment.user_id == Resident.user_id)
        .where(
            RoleAssignment.scope_kind == "vendor",
            RoleAssignment.scope_id == vendor.id,
            RoleAssignment.role.in_(("owner", "clerk")),
        )
    )
    resident_ids = list(db.session.scalars(staff))
    if resident_ids:
        push.send(
            LOW_STOCK_EVENT,
            resident_ids,
            {"vendor": vendor.name, "product": product["name"], "stock": stock},
            source=("market_product", product["public_id"]),
        )
