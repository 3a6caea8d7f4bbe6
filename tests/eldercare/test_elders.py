"""Elder records: care level by community staff only, contacts by the elder or family, health notes behind the
elder's separate consent to sensitive data."""

from datetime import date

from app.accounts.resident_models import Consent, ConsentKind
from app.db import atomic
from app.extensions import db as database
from tests.eldercare.fixtures import E

CONTACTS = [{"name": "李娜", "phone": "+8619900000003", "relation": "女儿"}]


def test_staff_assess_the_care_level_and_family_keep_the_contacts(api, care, make_staff):
    staff = make_staff(care.tree.a)
    assessed = api(staff, "put", f"{E}/elders/{care.elder.public_id}", json={"care_level": "partly_dependent"})
    assert assessed.status_code == 200, assessed.json
    assert assessed.json["care_level"] == "partly_dependent"

    contacts = api(
        care.daughter_user, "put", f"{E}/elders/{care.elder.public_id}", json={"emergency_contacts": CONTACTS}
    )
    assert contacts.status_code == 200, contacts.json
    assert contacts.json["emergency_contacts"] == CONTACTS
    assert contacts.json["care_level"] == "partly_dependent"
    assert contacts.json["subsidy_rule"]["name"] == "高龄本地户籍"
    assert contacts.json["remaining_quota_fen"] == 5000

    refused = api(care.daughter_user, "put", f"{E}/elders/{care.elder.public_id}", json={"care_level": "dependent"})
    assert refused.status_code == 403


def test_health_notes_need_the_elders_separate_consent(api, care):
    path = f"{E}/elders/{care.elder.public_id}"
    refused = api(care.daughter_user, "put", path, json={"health_notes": "糖尿病，低盐软食"})
    assert refused.status_code == 409
    assert refused.json["code"] == "sensitive_consent_required"

    with atomic():
        database.session.add(
            Consent(resident_id=care.elder.id, kind=ConsentKind.sensitive_data, policy_version="2026-11")
        )
    stored = api(care.daughter_user, "put", path, json={"health_notes": "糖尿病，低盐软食"})
    assert stored.status_code == 200, stored.json
    assert stored.json["has_health_notes"] is True
    assert "糖尿病" not in str(stored.json)  # the record says there are notes; it does not echo them


def test_strangers_get_404_for_an_elder(api, care, make_resident):
    user, _resident = make_resident("路人", born=date(1980, 2, 2), sequence="986")
    assert api(user, "get", f"{E}/elders/{care.elder.public_id}").status_code == 404
    assert api(care.daughter_user, "get", f"{E}/elders/{care.elder.public_id}").status_code == 200
