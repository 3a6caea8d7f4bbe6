"""Mainland China mobile numbers: validated and normalised to E.164 with ``phonenumbers``."""

from __future__ import annotations

import phonenumbers

from app.auth.errors import InvalidPhone

_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalise_phone(raw: str) -> str:
    """``"138 0013 8000"``, ``"+86 13800138000"``, ``"8613800138000"`` → ``"+8613800138000"``.

    :raises InvalidPhone: not a valid mainland (+86) mobile number.
    """
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidPhone() from None
    if (
        number.country_code != 86
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in _MOBILE_TYPES
    ):
        raise InvalidPhone()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str | None) -> str | None:
    """``+8613800138000`` → ``138****8000`` (what a user recognises)."""
    if not phone:
        return None
    national = phone.removeprefix("+86")
    return national[:3] + "****" + national[-4:]
