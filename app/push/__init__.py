"""Reaching people: the inbox, WeChat subscribe messages, SMS, delegates and set-based fan-out.

What domains use::

    from app import push

    push.register_event("notices.published", "社区通知", channels=("inbox", "wechat"), template_id=…, fields={…})
    push.send("notices.published", audience_query, {"title": …}, source=("notice", notice.public_id))
    push.read_stats(("notice", notice.public_id))   # {"audience", "reached", "read", "unreachable", …}
    push.retract(("notice", notice.public_id))      # take back the inbox rows and unsent messages

``send`` joins the caller's unit of work and only records and enqueues; the fan-out, WeChat and SMS run in jobs
on the ``push`` queue.
"""

from app.push.events import Event, get_event, register_event, registered_events
from app.push.fanout import SendReceipt, send
from app.push.fields import FieldRefused, format_field
from app.push.inbox import read_stats, retract, unread_count

__all__ = [
    "Event",
    "FieldRefused",
    "SendReceipt",
    "format_field",
    "get_event",
    "read_stats",
    "register_event",
    "registered_events",
    "retract",
    "send",
    "unread_count",
]
