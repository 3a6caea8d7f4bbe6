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
    "out_for_delivery": "配送中",
    "delivered": "已送达",
    "uncollected": "超时未取，商户将取回",
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


# --- smart lockers ---------------------------------------------------------------------------------------------------

PICKUP_CODE_EVENT = "marketplace.pickup_code"
LOCKER_REMINDER_EVENT = "marketplace.locker_reminder"
LOCKER_ALERT_EVENT = "marketplace.locker_alert"
LOCKER_VENDOR_EVENT = "marketplace.locker_vendor"

push.register_event(
    PICKUP_CODE_EVENT,
    "取件通知",
    channels=("inbox", "sms"),
    scope="marketplace",
    title="{vendor}：请凭取件码 {code} 到{locker}取件",
    body="您在{vendor}的订单已存入{locker}{cells}号格，取件码 {code}，请于{deadline}前取件。"
    "取件码可转给家人或邻居代取。",
    sms="您在{vendor}的订单已存入{locker}{cells}号格，取件码{code}，请于{deadline}前取件。",
    urgent=True,
)
push.register_event(
    LOCKER_REMINDER_EVENT,
    "取件提醒",
    channels=("inbox", "sms"),
    scope="marketplace",
    title="取件提醒：{locker}{cells}号格",
    body="您在{vendor}的订单仍在{locker}{cells}号格，请于{deadline}前取件，超时将由商户取回。",
    sms="您在{vendor}的订单仍在{locker}{cells}号格，请于{deadline}前取件，超时将由商户取回。",
)
push.register_event(
    LOCKER_ALERT_EVENT,
    "智能柜异常",
    channels=("inbox",),
    scope="marketplace",
    title="智能柜异常：{locker}",
    body="{locker}{cells}号格{reason}，您在{vendor}的订单可能受影响，请联系商户。",
)
push.register_event(
    LOCKER_VENDOR_EVENT,
    "智能柜待处理",
    channels=("inbox",),
    scope="marketplace",
    title="{locker}：{subject}",
    body="{detail}",
)


def vendor_staff_residents(vendor_id: int, roles=("owner", "clerk", "courier")):
    """A SELECT of the resident ids of the vendor's staff holding one of ``roles`` (those with a resident profile)."""
    return (
        sa.select(Resident.id)
        .join(RoleAssignment, RoleAssignment.user_id == Resident.user_id)
        .where(
            RoleAssignment.scope_kind == "vendor",
            RoleAssignment.scope_id == vendor_id,
            RoleAssignment.role.in_(roles),
        )
    )


def notify_pickup_code(order, data: dict, *, key: str) -> None:
    """Send the resident (and their ``marketplace`` delegates) the pickup code of an order just deposited."""
    push.send(PICKUP_CODE_EVENT, [order.resident_id], data, source=("market_order", order.public_id), key=key)


def notify_locker_reminder(order, data: dict, *, key: str) -> None:
    push.send(LOCKER_REMINDER_EVENT, [order.resident_id], data, source=("market_order", order.public_id), key=key)


def notify_locker_alert(order, data: dict, *, key: str) -> None:
    """Tell the resident that the cell holding their order was taken out of service."""
    push.send(LOCKER_ALERT_EVENT, [order.resident_id], data, source=("market_order", order.public_id), key=key)


def notify_locker_vendor(vendor_id: int, order_public_id: str, data: dict, *, key: str) -> None:
    """Tell the vendor's staff about one of its orders in a locker (retrieval needed, cell out of service)."""
    push.send(
        LOCKER_VENDOR_EVENT,
        vendor_staff_residents(vendor_id),
        data,
        source=("market_order", order_public_id),
        key=key,
    )
