"""Telling households about arrears (催缴), through ``app.push``: inbox, SMS, and delegates with scope ``bills``.

All sending goes through ``send_arrears_reminder``. The event has no WeChat channel yet: a subscribe-message
template id for 缴费提醒 has to be registered in the mini-program first (then add ``wechat`` with its fields).
"""

from __future__ import annotations

from app import push

EVENT = "fees.arrears_reminder"
TEXT = "{address}有{count}笔费用已逾期未缴，合计{amount}元（含截至{as_of}的滞纳金），请尽快缴纳。"

push.register_event(
    EVENT,
    "缴费提醒",
    channels=("inbox", "sms"),
    scope="bills",
    title="缴费提醒",
    body=TEXT,
    sms=TEXT,
)


def send_arrears_reminder(household_public_id: str, resident_ids: list[int], data: dict, *, key: str) -> str:
    """Remind a household's members (and their delegates for ``bills``) of arrears; joins the caller's unit of work.

    :param data: ``address``, ``count``, ``amount`` (元, text) and ``as_of`` (date text).
    :return: the push delivery's public id (the same one again for the same ``key``).
    """
    receipt = push.send(EVENT, resident_ids, data, source=("household", household_public_id), key=key)
    return receipt.delivery_id
