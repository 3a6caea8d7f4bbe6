"""Identity documents by type: checking, what a number tells (birth date, gender), masking and lookup keys."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date

from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from app.db import utcnow


class DocumentType(enum.Enum):
    resident_id_card = "resident_id_card"  # 居民身份证
    hmt_residence_permit = "hmt_residence_permit"  # 港澳台居民居住证
    foreign_permanent_residence = "foreign_permanent_residence"  # 外国人永久居留身份证
    passport = "passport"  # 护照


DOCUMENT_LABELS = {
    DocumentType.resident_id_card: "居民身份证",
    DocumentType.hmt_residence_permit: "港澳台居民居住证",
    DocumentType.foreign_permanent_residence: "外国人永久居留身份证",
    DocumentType.passport: "护照",
}

#: Documents that need the issuing country (ISO 3166-1 alpha-3) to identify a person.
COUNTRY_REQUIRED = {DocumentType.passport}

#: 港澳台居民居住证 numbers start with these address codes (Hong Kong, Macao, Taiwan).
HMT_PREFIXES = {"810000": "香港", "820000": "澳门", "830000": "台湾"}

_PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
_COUNTRY = re.compile(r"[A-Z]{3}")
#: The 2017 foreign permanent residence card: nationality (3 letters), 4-digit place code, YYMMDD birth date, 2 digits.
_FOREIGN_2017 = re.compile(r"[A-Z]{3}\d{12}")


class DocumentInvalid(ValueError):
    """The number is not a valid document of its type; ``str()`` is the Chinese reason."""


@dataclass(frozen=True)
class CheckedDocument:
    type: DocumentType
    number: str  # normalised: upper case, no spaces or hyphens
    country: str | None
    birth_date: date | None
    gender: str | None  # "male" | "female"

    @property
    def lookup_value(self) -> str:
        """What the lookup hash covers: a passport number is unique only with its country."""
        return f"{self.type.value}:{self.country or ''}:{self.number}"

    @property
    def masked(self) -> str:
        return mask_number(self.number)


def normalise(number: str) -> str:
    return re.sub(r"[\s\-]", "", number or "").upper()


def mask_number(number: str) -> str:
    """Keep enough to recognise a document: ``110***********1234`` for 18 digits, ``E1*****678`` for a passport."""
    if len(number) >= 15:
        return number[:3] + "*" * (len(number) - 7) + number[-4:]
    if len(number) >= 6:
        return number[:2] + "*" * (len(number) - 5) + number[-3:]
    return "*" * len(number)


def _gb11643_birth_and_gender(number: str) -> tuple[date, str]:
    """Check an 18-character GB 11643 number (checksum and birth date); return birth date and gender."""
    if len(number) != 18:
        raise DocumentInvalid("号码应为 18 位")
    if not number[:17].isdigit():
        raise DocumentInvalid("号码前 17 位应为数字")
    if number[-1] != ric.calc_check_digit(number):
        raise DocumentInvalid("号码校验位不正确")
    try:
        born = ric.get_birth_date(number)
    except StdnumError:
        raise DocumentInvalid("号码中的出生日期无效") from None
    return born, ("male" if int(number[16]) % 2 else "female")


def _plausible_birth(born: date) -> None:
    today = utcnow().date()
    if born > today or born.year < today.year - 130:
        raise DocumentInvalid("号码中的出生日期无效")


def check_document(doc_type: DocumentType, number: str, *, country: str | None = None) -> CheckedDocument:
    """Validate a document number for its type.

    :raises DocumentInvalid: with the reason in Chinese.
    """
    number = normalise(number)
    if not number:
        raise DocumentInvalid("证件号码不能为空")
    country = (country or "").strip().upper() or None
    if country is not None and not _COUNTRY.fullmatch(country):
        raise DocumentInvalid("国家或地区代码应为 3 位字母（ISO 3166-1，例如 USA）")
    born: date | None = None
    gender: str | None = None
    if doc_type is DocumentType.resident_id_card:
        try:
            number = ric.validate(number)
        except StdnumError as exc:
            reasons = {
                "InvalidLength": "居民身份证号码应为 18 位",
                "InvalidFormat": "居民身份证号码格式不正确",
                "InvalidChecksum": "居民身份证号码校验位不正确",
                "InvalidComponent": "居民身份证号码中的地址码或出生日期无效",
            }
            raise DocumentInvalid(reasons.get(type(exc).__name__, "居民身份证号码无效")) from None
        born, gender = ric.get_birth_date(number), ("male" if int(number[16]) % 2 else "female")
        country = "CHN"
    elif doc_type is DocumentType.hmt_residence_permit:
        if number[:6] not in HMT_PREFIXES:
            raise DocumentInvalid("港澳台居民居住证号码应以 810000、820000 或 830000 开头")
        born, gender = _gb11643_birth_and_gender(number)
        country = None
    elif doc_type is DocumentType.foreign_permanent_residence:
        if len(number) == 18:
            # The 2023 card: GB 11643 layout starting with 9 (checksum, birth date and gender as on an ID card).
            if not number.startswith("9"):
                raise DocumentInvalid("18 位外国人永久居留身份证号码应以 9 开头")
            born, gender = _gb11643_birth_and_gender(number)
        elif _FOREIGN_2017.fullmatch(number):
            yy, mm, dd = int(number[7:9]), int(number[9:11]), int(number[11:13])
            today = utcnow().date()
            century = 2000 if 2000 + yy <= today.year else 1900
            try:
                born = date(century + yy, mm, dd)
            except ValueError:
                raise DocumentInvalid("号码中的出生日期无效") from None
            country = country or number[:3]
        else:
            raise DocumentInvalid("外国人永久居留身份证号码应为 18 位数字（2023 版）或 3 位字母加 12 位数字（2017 版）")
    elif doc_type is DocumentType.passport:
        if not _PASSPORT.fullmatch(number):
            raise DocumentInvalid("护照号码应为 5 到 17 位字母或数字")
        if country is None:
            raise DocumentInvalid("护照须填写签发国家或地区代码")
    if born is not None:
        _plausible_birth(born)
    return CheckedDocument(doc_type, number, country, born, gender)
