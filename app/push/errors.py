"""Errors of the inbox, subscriptions and the outside channels."""

from __future__ import annotations

from app.errors import NotFound, ValidationFailed


class InboxItemNotFound(NotFound):
    code, message = "inbox_item_not_found", "消息不存在"


class UnknownTemplate(ValidationFailed):
    code, message = "unknown_template", "订阅消息模板不存在"


class UnknownEvent(ValidationFailed):
    code, message = "unknown_push_event", "消息类型不存在或不支持短信"


class SendFailed(Exception):
    """An outside service did not take a message this time; the job fails and the outbox retries it."""
