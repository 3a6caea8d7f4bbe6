"""WeChat subscribe-message fields: each value formatted to its template type and checked against WeChat's limits.

A template's keys carry their type (``thing1``, ``time2``, ``amount3``, ``character_string4`` …), so the type of each
field is read from its key. The limits are WeChat's documented ones (subscribeMessage.send,
"订阅消息参数值内容限制说明"):

=================  ==========================================================================================
thing              ≤ 20 characters: Chinese, digits, letters, symbols            → shortened with "…"
number             ≤ 32 digits, may carry a decimal point                        → refused
letter             ≤ 32 letters                                                  → refused
symbol             ≤ 5 symbols                                                   → refused
character_string   ≤ 32 digits, letters or symbols (no Chinese)                  → refused (a code cut short is wrong)
time               24-hour time, optionally with a date; a range joined by "~"   → refused
date               a date, optionally with a time; a range joined by "~"         → refused
amount             one currency symbol + ≤ 10 digits, may carry decimals, may end with 元  → refused
phone_number       ≤ 17 digits and symbols                                       → refused
car_number         ≤ 8: letters and digits, the first and last may be Chinese    → refused
name               ≤ 10 Chinese characters, or ≤ 20 letters and symbols          → refused
phrase             ≤ 5 Chinese characters                                        → refused
=================  ==========================================================================================

"Symbols" are common characters other than Chinese, letters and digits, never control characters such as a newline.
Only ``thing`` is free text, so only ``thing`` is shortened; every other type is refused before the call
(WeChat would answer 47003 "argument invalid").
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from app.api import SHANGHAI

ELLIPSIS = "…"

#: Types WeChat defines for subscribe-message fields (``enum`` needs the template's own value list: not supported).
FIELD_TYPES = (
    "thing",
    "number",
    "letter",
    "symbol",
    "character_string",
    "time",
    "date",
    "amount",
    "phone_number",
    "car_number",
    "name",
    "phrase",
)

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: y年m月d日, y年m月, m月d日, or joined by - / . (2018-01-01, 2018/01/01, 2018.01.01, 2018-01, 01-01).
_DATE = (
    r"(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}年\d{1,2}月|\d{1,2}月\d{1,2}日"
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}-\d{1,2}|\d{1,2}-\d{1,2})"
)
_CLOCK = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_TIME_POINT = rf"(?:{_DATE}\s?)?{_CLOCK}"
_DATE_POINT = rf"{_DATE}(?:\s?{_CLOCK})?"

PATTERNS = {
    "number": re.compile(r"-?\d+(?:\.\d+)?"),
    "letter": re.compile(r"[A-Za-z]+"),
    "symbol": re.compile(rf"[^\sA-Za-z0-9{_HAN}]+"),
    "character_string": re.compile(rf"[^\s{_HAN}]+"),
    "time": re.compile(rf"{_TIME_POINT}(?:\s?~\s?{_TIME_POINT})?"),
    "date": re.compile(rf"{_DATE_POINT}(?:\s?~\s?{_DATE_POINT})?"),
    "amount": re.compile(r"[¥￥$€£]?\d+(?:\.\d+)?元?"),
    "phone_number": re.compile(rf"[^\sA-Za-z{_HAN}]+"),
    "car_number": re.compile(rf"[{_HAN}A-Za-z0-9][A-Za-z0-9]{{0,6}}[{_HAN}A-Za-z0-9]?"),
    "phrase": re.compile(rf"[{_HAN}]+"),
}

MAX_LENGTH = {
    "thing": 20,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "phone_number": 17,
    "car_number": 8,
    "phrase": 5,
}


class FieldRefused(ValueError):
    """A value cannot be sent in this template field; WeChat would refuse it (47003)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def field_type(key: str) -> str:
    """The WeChat type of a template key: ``thing1`` → ``thing``, ``character_string12`` → ``character_string``.

    :raises ValueError: the key does not start with a known type.
    """
    kind = key.rstrip("0123456789")
    if kind not in FIELD_TYPES or kind == key:
        raise ValueError(f"template key {key!r} does not name a WeChat field type ({', '.join(FIELD_TYPES)})")
    return kind


def text_of(value: Any) -> str:
    """A value as people read it in an inbox or SMS: times in Asia/Shanghai, dates in Chinese, fen stay numbers."""
    if isinstance(value, datetime):
        local = _local(value)
        return f"{_chinese_date(local)} {local:%H:%M}"
    if isinstance(value, date):
        return _chinese_date(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


def _chinese_date(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _local(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
    return value.astimezone(SHANGHAI)


def _amount(value: Any) -> str:
    if isinstance(value, bool):
        raise TypeError("amount must be fen (int), a Decimal in yuan, or a string")
    if isinstance(value, int):  # money is integer fen across the project
        return f"{Decimal(value) / 100:.2f}元"
    if isinstance(value, Decimal | float):
        return f"{Decimal(str(value)).quantize(Decimal('0.01')):.2f}元"
    return str(value).strip()


def _raw_text(kind: str, value: Any) -> str:
    if kind == "amount":
        return _amount(value)
    if kind == "time" and isinstance(value, datetime):
        return text_of(value)
    if kind == "date" and isinstance(value, datetime):
        return _chinese_date(_local(value))
    if kind == "number" and isinstance(value, Decimal | float):
        return format(Decimal(str(value)), "f")
    return text_of(value).strip()


def format_field(key: str, value: Any) -> str:
    """Format ``value`` for template field ``key`` and check it against WeChat's limits.

    :raises FieldRefused: the value breaks a limit that cannot be met by shortening (or is empty).
    """
    kind = field_type(key)
    try:
        text = _raw_text(kind, value)
    except (TypeError, ValueError, InvalidOperation) as error:
        raise FieldRefused(key, str(error)) from None
    if kind == "thing":
        text = " ".join(_CONTROL.sub(" ", text).split())
    if not text:
        raise FieldRefused(key, "empty")
    if _CONTROL.search(text):
        raise FieldRefused(key, "control characters")
    limit = MAX_LENGTH.get(kind)
    if kind == "thing":
        return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS
    if kind == "name":
        _check_name(key, text)
        return text
    if kind == "amount":
        digits = sum(ch.isdigit() for ch in text)
        if not PATTERNS["amount"].fullmatch(text) or digits > 10:
            raise FieldRefused(key, "amount must be a currency symbol and at most 10 digits, e.g. 32.50元")
        return text
    if limit is not None and len(text) > limit:
        raise FieldRefused(key, f"longer than {limit} characters")
    if not PATTERNS[kind].fullmatch(text):
        raise FieldRefused(key, f"not a valid {kind}")
    return text


def _check_name(key: str, text: str) -> None:
    if re.search(rf"[{_HAN}]", text):
        # Mixed Chinese and letters counts as a Chinese name: 10 characters at most (· allowed between parts).
        if len(text) > 10 or not re.fullmatch(rf"[{_HAN}A-Za-z·]+", text):
            raise FieldRefused(key, "a Chinese name has at most 10 characters")
    elif len(text) > 20 or not re.fullmatch(r"[^\s\d]+(?: [^\s\d]+)*", text):
        raise FieldRefused(key, "a name in letters has at most 20 characters")
