"""Identity documents by type: what is accepted, what a number tells, how it is masked."""

from datetime import date

import pytest
from stdnum.cn import ric

from app.accounts.documents import DocumentInvalid, DocumentType, check_document, mask_number
from tests.community.fixtures import id_number


def _gb11643(prefix: str, born: date, sequence: str) -> str:
    body = f"{prefix}{born:%Y%m%d}{sequence}"
    return body + ric.calc_check_digit(body + "0")


RIC = id_number(date(1944, 5, 20), "992")  # female (even sequence digit)


def test_resident_id_card_gives_birth_date_and_gender():
    checked = check_document(DocumentType.resident_id_card, RIC)
    assert (checked.birth_date, checked.gender, checked.country) == (date(1944, 5, 20), "female", "CHN")
    assert check_document(DocumentType.resident_id_card, id_number(date(1990, 1, 2), "991")).gender == "male"


def test_resident_id_card_accepts_spaces_and_lower_case_x():
    number = next(n for n in (id_number(date(1990, 1, d), "991") for d in range(1, 28)) if n.endswith("X"))
    spaced = f"{number[:6]} {number[6:14]} {number[14:].lower()}"
    assert check_document(DocumentType.resident_id_card, spaced).number == number


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (RIC[:-1] + ("0" if RIC[-1] != "0" else "1"), "校验位"),
        (RIC[:17], "18 位"),
        (_gb11643("999999", date(1944, 5, 20), "992"), "地址码"),  # no such address code
        ("11010119900230991" + ric.calc_check_digit("11010119900230991" + "0"), "出生日期"),  # 30 February
        ("", "不能为空"),
    ],
)
def test_resident_id_card_is_refused_with_the_reason(number, reason):
    with pytest.raises(DocumentInvalid, match=reason):
        check_document(DocumentType.resident_id_card, number)


def test_resident_id_card_with_a_birth_date_in_the_future_is_refused():
    with pytest.raises(DocumentInvalid, match="出生日期"):
        check_document(DocumentType.resident_id_card, id_number(date(2099, 1, 1), "991"))


def test_hmt_residence_permit_needs_a_hong_kong_macao_or_taiwan_prefix():
    number = _gb11643("810000", date(1980, 7, 1), "993")
    checked = check_document(DocumentType.hmt_residence_permit, number)
    assert (checked.birth_date, checked.gender) == (date(1980, 7, 1), "male")
    with pytest.raises(DocumentInvalid, match="810000"):
        check_document(DocumentType.hmt_residence_permit, RIC)
    with pytest.raises(DocumentInvalid, match="校验位"):
        check_document(DocumentType.hmt_residence_permit, number[:-1] + ("1" if number[-1] != "1" else "2"))


def test_foreign_permanent_residence_card_both_versions():
    card_2023 = _gb11643("933156", date(1975, 12, 24), "994")
    assert check_document(DocumentType.foreign_permanent_residence, card_2023).birth_date == date(1975, 12, 24)
    card_2017 = check_document(DocumentType.foreign_permanent_residence, "USA110075122401")
    assert (card_2017.birth_date, card_2017.country, card_2017.gender) == (date(1975, 12, 24), "USA", None)
    with pytest.raises(DocumentInvalid, match="9 开头"):
        check_document(DocumentType.foreign_permanent_residence, RIC)
    with pytest.raises(DocumentInvalid, match="2017"):
        check_document(DocumentType.foreign_permanent_residence, "US1234")


def test_passport_needs_its_country_and_carries_no_birth_date():
    checked = check_document(DocumentType.passport, "e1234 5678", country="chn")
    assert (checked.number, checked.country, checked.birth_date) == ("E12345678", "CHN", None)
    with pytest.raises(DocumentInvalid, match="签发国家"):
        check_document(DocumentType.passport, "E12345678")
    with pytest.raises(DocumentInvalid, match="ISO"):
        check_document(DocumentType.passport, "E12345678", country="China")
    with pytest.raises(DocumentInvalid, match="5 到 17"):
        check_document(DocumentType.passport, "E1", country="CHN")


def test_the_same_passport_number_from_two_countries_is_two_documents():
    one = check_document(DocumentType.passport, "X1234567", country="USA")
    two = check_document(DocumentType.passport, "X1234567", country="GBR")
    assert one.lookup_value != two.lookup_value


@pytest.mark.parametrize(
    ("number", "masked"),
    [("110101194405209920", "110***********9920"), ("E12345678", "E1****678"), ("X123", "****")],
)
def test_masking_keeps_just_enough_to_recognise(number, masked):
    assert mask_number(number) == masked
