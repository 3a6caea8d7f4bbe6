"""The push event registry: what each event says, on which channels, with which subscribe template and SMS text.

Domains register their events at import time::

    push.register_event(
        "marketplace.pickup_code",
        "取件通知",
        channels=("inbox", "wechat", "sms"),
        template_id="TPL_PICKUP",          # the mini-program's subscribe template
        fields={"thing1": "locker", "character_string2": "code", "time3": "deadline"},
        body="您的包裹已存入{locker}，取件码{code}，请于{deadline}前取件。",
        sms="您的包裹已存入{locker}，取件码{code}，请于{deadline}前取件。",
        scope="marketplace",
    )

``fields`` maps each template key to the data key that fills it, a format string (``"{building}{room}"``) or a
callable ``(data) -> value``; the key's prefix names its WeChat type (see ``app.push.fields``).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.accounts.resident_models import DELEGATION_SCOPES
from app.push.fields import FieldRefused, field_type, format_field, text_of
from app.sms import TEMPLATES as SMS_TEMPLATES

CHANNELS = ("inbox", "wechat", "sms")

FieldSource = str | Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Event:
    name: str
    title_zh: str
    channels: tuple[str, ...]
    template_id: str | None = None
    fields: Mapping[str, FieldSource] = field(default_factory=dict)
    scope: str = "notices"
    urgent: bool = False
    #: Inbox title and body: format strings over the data (the title defaults to ``title_zh``).
    title: str | None = None
    body: str | None = None
    #: SMS text (a format string over the data); registered with ``app.sms`` as template ``push.<name>``.
    sms: str | None = None
    #: Mini-program page the subscribe message opens (format string over the data).
    page: str | None = None

    @property
    def sms_template(self) -> str:
        return f"push.{self.name}"

    def has(self, channel: str) -> bool:
        return channel in self.channels


_events: dict[str, Event] = {}


def register_event(
    name: str,
    title_zh: str,
    channels: tuple[str, ...] | list[str] = ("inbox",),
    template_id: str | None = None,
    fields: Mapping[str, FieldSource] | None = None,
    scope: str = "notices",
    urgent: bool = False,
    *,
    title: str | None = None,
    body: str | None = None,
    sms: str | None = None,
    page: str | None = None,
) -> Event:
    """Register a push event; registering the same definition twice is harmless, a different one under a taken name
    fails.

    :param channels: ``inbox`` is always written; add ``wechat`` (needs ``template_id`` and ``fields``) and ``sms``
        (needs ``sms``).
    :param scope: the delegation scope that lets a delegate receive it for the resident (``notices`` by default).
    :param urgent: urgent events ignore SMS quiet hours (22:00–07:00 Asia/Shanghai); ``send`` may override it.
    """
    channels = tuple(dict.fromkeys(("inbox", *channels)))
    unknown = set(channels) - set(CHANNELS)
    if unknown:
        raise ValueError(f"unknown channels {sorted(unknown)}; known: {CHANNELS}")
    if scope not in DELEGATION_SCOPES:
        raise ValueError(f"unknown delegation scope {scope!r}; known: {DELEGATION_SCOPES}")
    if "wechat" in channels and (not template_id or not fields):
        raise ValueError(f"event {name!r}: the wechat channel needs template_id and fields")
    if "sms" in channels and not sms:
        raise ValueError(f"event {name!r}: the sms channel needs an sms text")
    for key in fields or {}:
        field_type(key)  # raises on a key that names no WeChat type
    event = Event(
        name=name,
        title_zh=title_zh,
        channels=channels,
        template_id=template_id,
        fields=dict(fields or {}),
        scope=scope,
        urgent=urgent,
        title=title,
        body=body,
        sms=sms,
        page=page,
    )
    existing = _events.get(name)
    if existing is not None and existing != event:
        raise ValueError(f"push event {name!r} is already registered differently")
    if event.sms:
        known = SMS_TEMPLATES.get(event.sms_template)
        if known is not None and known != event.sms:
            raise ValueError(f"SMS template {event.sms_template!r} is already registered differently")
        # app.sms keeps its templates in a module dict (a gateway maps each name to its provider's template id).
        SMS_TEMPLATES[event.sms_template] = event.sms
    _events[name] = event
    return event


def get_event(name: str) -> Event:
    """:raises LookupError: no event of that name is registered."""
    try:
        return _events[name]
    except KeyError:
        raise LookupError(f"push event {name!r} is not registered") from None


def registered_events() -> dict[str, Event]:
    return dict(_events)


def template_ids() -> dict[str, list[str]]:
    """Subscribe template id → the events that use it."""
    result: dict[str, list[str]] = {}
    for event in _events.values():
        if event.template_id and event.has("wechat"):
            result.setdefault(event.template_id, []).append(event.name)
    return result


# --- rendering ---------------------------------------------------------------------------------------------------


def _fill(template: str, data: Mapping[str, Any]) -> str:
    try:
        return template.format_map({key: text_of(value) for key, value in data.items()})
    except (KeyError, IndexError) as error:
        raise ValueError(f"push data is missing {error} for {template!r}") from None


def _names(template: str) -> list[str]:
    return [name for _text, name, _spec, _conv in string.Formatter().parse(template) if name]


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    wechat_data: dict[str, dict[str, str]] | None
    #: Why the WeChat channel is off for this send (a field WeChat would refuse), else None.
    wechat_refused: str | None
    page: str | None
    sms_params: dict[str, str] | None


def render(event: Event, data: Mapping[str, Any]) -> Rendered:
    """Everything a send says, rendered once when it is sent (jobs store and reuse it).

    A WeChat field that cannot be shortened to fit turns the WeChat channel off for this send (recorded in
    ``wechat_refused``); inbox and SMS still go out.

    :raises ValueError: the data lacks a key that the title, body, SMS text or a field names.
    """
    title = _fill(event.title, data) if event.title else event.title_zh
    body = _fill(event.body, data) if event.body else text_of(data.get("body", ""))
    wechat_data, refused, page = None, None, None
    if event.has("wechat"):
        try:
            wechat_data = {
                key: {"value": format_field(key, _source(source, data))} for key, source in event.fields.items()
            }
        except FieldRefused as error:
            refused = str(error)
        page = _fill(event.page, data) if event.page else None
    sms_params = None
    if event.has("sms"):
        names = _names(event.sms)
        missing = sorted(set(names) - set(data))
        if missing:
            raise ValueError(f"push data is missing {missing} for the SMS text of {event.name!r}")
        sms_params = {name: text_of(data[name]) for name in names}
    return Rendered(title[:200], body, wechat_data, refused, page, sms_params)


def _source(source: FieldSource, data: Mapping[str, Any]) -> Any:
    if callable(source):
        return source(data)
    if "{" in source:
        return _fill(source, data)
    if source not in data:
        raise ValueError(f"push data is missing {source!r}")
    return data[source]
