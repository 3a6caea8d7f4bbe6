"""How a booking's steps reach the resident: one push event, sent in the step's unit of work (and, through push,
to family members holding a ``marketplace`` delegation)."""

from __future__ import annotations

from app import push

SERVICE_ORDER_EVENT = "marketplace.service_order_status"

STATUS_LABELS = {
    "pending": "已提交，等待商户接单",
    "accepted": "商户已接单并派出师傅",
    "on_the_way": "师傅正在上门",
    "arrived": "师傅已到达",
    "quoted": "师傅已报价，请确认",
    "in_progress": "已确认报价，师傅施工中",
    "awaiting_payment": "待支付",
    "paid": "已支付",
    "rated": "已评价",
    "rework": "已申请返修，等待师傅上门",
    "declined": "商户无法接单",
    "cancelled": "已取消",
    "closed": "已关闭",
}

push.register_event(
    SERVICE_ORDER_EVENT,
    "上门服务进度",
    channels=("inbox",),
    scope="marketplace",
    title="{vendor}：{status}",
    body="您预约的“{service}”{status}。{note}",
)


def notify_step(order, *, vendor_name: str, service_name: str, event_id: int, note: str | None) -> None:
    """Tell the resident a booking moved (one message per recorded step)."""
    push.send(
        SERVICE_ORDER_EVENT,
        [order.resident_id],
        {
            "vendor": vendor_name,
            "service": service_name,
            "status": STATUS_LABELS[order.status.value],
            "note": note or "",
        },
        source=("service_order", order.public_id),
        key=f"marketplace.service_order_event:{event_id}",
    )
