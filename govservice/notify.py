"""The one way govservice tells residents something: ``app.push``, with govservice's events registered here.

``notify`` joins the caller's unit of work (a rolled-back closure tells nobody); push fans out in jobs to the
resident's own account and to family members holding an ``appointments`` delegation (an elder without a phone is
reached through her daughter), by inbox, WeChat subscribe message and SMS.

The WeChat template ids are the ones to create in the mini-program's console (订阅消息 → 公共模板库, "预约提醒" and
"预约取消通知"); the keys below name each field's type as WeChat does.
"""

from __future__ import annotations

from typing import Any

from app import push

REMINDER_TEMPLATE = "GOV_BOOKING_REMINDER"
CANCELLED_TEMPLATE = "GOV_BOOKING_CANCELLED"
PAGE = "pages/govservice/booking?id={booking_id}"

#: Events govservice sends, with their Chinese titles.
EVENTS = {
    "govservice.booking_reminder": "预约提醒",
    "govservice.booking_cancelled": "预约取消通知",
    "govservice.application_status": "办件进度通知",
}

push.register_event(
    "govservice.booking_reminder",
    EVENTS["govservice.booking_reminder"],
    channels=("inbox", "wechat", "sms"),
    template_id=REMINDER_TEMPLATE,
    fields={"thing1": "item", "time2": "starts_at", "thing3": "place", "thing4": "tip"},
    scope="appointments",
    title="预约提醒：{item}",
    body="您预约的“{item}”将于 {starts_at} 在{place}办理。{tip}",
    sms="您预约的{item}将于{starts_at}在{place}办理，请携带有效证件按时到场。",
    page=PAGE,
)
push.register_event(
    "govservice.booking_cancelled",
    EVENTS["govservice.booking_cancelled"],
    channels=("inbox", "wechat", "sms"),
    template_id=CANCELLED_TEMPLATE,
    fields={"thing1": "item", "time2": "starts_at", "thing3": "reason"},
    scope="appointments",
    title="预约已取消：{item}",
    body="您预约的“{item}”（{starts_at}，{place}）已取消。原因：{reason}",
    sms="您预约的{item}（{starts_at}）已取消，原因：{reason}。",
    page=PAGE,
)

APPLICATION_TEMPLATE = "GOV_APPLICATION_STATUS"
push.register_event(
    "govservice.application_status",
    EVENTS["govservice.application_status"],
    channels=("inbox", "wechat"),
    template_id=APPLICATION_TEMPLATE,
    fields={"thing1": "item", "phrase2": "status", "thing3": "note", "time4": "at"},
    scope="applications",
    title="办件进度：{item}",
    body="您申请的“{item}”{status}。{note}",
    page="pages/govservice/application?id={application_id}",
)


def notify(
    event: str, resident_ids: list[int], data: dict[str, Any], *, source: tuple[str, str], key: str | None = None
) -> push.SendReceipt:
    """Tell ``resident_ids`` about ``event`` in the caller's transaction (``key`` makes a repeat a no-op).

    :param source: ``(kind, public_id)`` of what the notice is about, e.g. ``("govservice_booking", "…")``.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown govservice event {event!r}")
    return push.send(event, sorted(set(resident_ids)), data, source=source, key=key)
