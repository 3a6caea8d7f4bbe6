"""Reaching people: the inbox, WeChat subscribe messages, SMS, delegates and set-based fan-out.

What domains use::

    from app import push

    push.register_event("notices.published", "社区通知", channels=("inbox", "wechat"), template_id=…, fields={…})
    push.send("notices.published", audience_query, {"title": …}, source=("notice", notice.public_id))
    push.register_audience("notices.audience", build)    # build(**args) -> SELECT of resident ids
    push.send("notices.published", push.Audience("notices.audience", {…}), …)   # the query runs in a job
    push.read_stats(("notice", notice.public_id))   # {"audience", "reached", "read", "unreachable", …}
    push.retract(("notice", notice.public_id))      # take back the inbox rows and unsent messages

``send`` joins the caller's unit of work and only records and enqueues; the fan-out, WeChat and SMS run in jobs
on the ``push`` queue.
"""

from app.push.events import Event, get_event, register_event, registered_events
from app.push.fanout import Audience, SendReceipt, register_audience, send
from app.push.fields import FieldRefused, format_field
from app.push.inbox import read_stats, retract, unread_count

__all__ = [
    "Audience",
    "Event",
    "FieldRefused",
    "SendReceipt",
    "format_field",
    "get_event",
    "read_stats",
    "register_audience",
    "register_event",
    "registered_events",
    "retract",
    "send",
    "unread_count",
]
