"""Consent (PIPL): policy versions, health notes behind the sensitive consent, export and account deletion."""

from datetime import date

import pytest
import sqlalchemy as sa

from app.accounts import consent
from app.accounts.resident_models import ConsentKind, HouseholdMembership, MembershipStatus, Resident
from app.audit import AuditEntry
from app.extensions import db as database
from tests.community.fixtures import id_number

VERSION = consent.POLICY_VERSIONS[ConsentKind.sensitive_data]


@pytest.fixture
def retained(monkeypatch):
    """A domain that keeps payment records and erases the rest; calls recorded."""
    calls = []
    # Only identity's own hooks plus the stand-in below: the domains' real hooks (push, payments…) are tested
    # where they live.
    own = {name: hook for name, hook in consent.RETENTIONS.items() if name.startswith("accounts.")}
    monkeypatch.setattr(consent, "RETENTIONS", own)
    consent.register_retention(
        "payments.records",
        keeps="支付与退款记录",
        basis="《会计法》要求保存会计凭证",
        erase=lambda user_id, resident_id: calls.append(("erase", user_id, resident_id)),
        export=lambda user_id, resident_id: [{"amount_fen": 1200}],
    )
    return calls


def test_health_notes_need_the_separate_consent_and_stay_encrypted(tree, make_resident, make_staff, join, api):
    user, resident = make_resident("病人", sequence="993")
    join(resident, tree.rooms_a["101"])
    refused = api(user, "put", "/api/v1/me/health-notes", json={"notes": "高血压，需定期测量"})
    assert (refused.status_code, refused.json["code"]) == (409, "sensitive_consent_required")
    api(user, "post", "/api/v1/me/consents", json={"kind": "sensitive_data", "policy_version": VERSION})
    assert api(user, "put", "/api/v1/me/health-notes", json={"notes": "高血压，需定期测量"}).status_code == 204
    raw = database.session.execute(
        sa.text("SELECT health_notes_ciphertext FROM accounts_residents WHERE id = :id"), {"id": resident.id}
    ).scalar()
    assert "高血压".encode() not in bytes(raw)
    revealed = api(
        make_staff(tree.a),
        "get",
        f"/api/v1/residents/{resident.public_id}/sensitive",
        query_string={"reason": "上门服务"},
    )
    assert revealed.json["health_notes"] == "高血压，需定期测量"


def test_staff_record_a_consent_given_in_person(tree, make_resident, make_staff, api):
    _none, elder = make_resident("老人", born=date(1944, 5, 20), sequence="992", account=False, community=tree.a)
    staff = make_staff(tree.a)
    path = f"/api/v1/residents/{elder.public_id}/consents"
    recorded = api(staff, "post", path, json={"kind": "sensitive_data", "policy_version": VERSION})
    assert recorded.status_code == 201
    assert recorded.json["recorded_in_person"] is True
    assert (
        api(staff, "put", f"/api/v1/residents/{elder.public_id}/health-notes", json={"notes": "行动不便"}).status_code
        == 204
    )


def test_export_gives_my_own_records_in_clear_and_is_logged(tree, make_resident, join, retained, api):
    user, resident = make_resident("导出人", born=date(1985, 5, 5), sequence="993")
    join(resident, tree.rooms_a["101"])
    api(
        user,
        "post",
        "/api/v1/me/consents",
        json={"kind": "privacy_policy", "policy_version": consent.POLICY_VERSIONS[ConsentKind.privacy_policy]},
    )
    response = api(user, "get", "/api/v1/me/export")
    assert response.status_code == 200
    body = response.json
    assert body["resident"]["document_number"] == id_number(date(1985, 5, 5), "993")
    assert body["memberships"][0]["household"].endswith("101")
    assert body["consents"][0]["kind"] == "privacy_policy"
    assert body["consents"][0]["accepted_at"].endswith("+08:00")
    assert body["domains"] == {"payments.records": [{"amount_fen": 1200}]}
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "me.export"))
    assert entry.actor_user_id == user.id


def test_account_deletion_removes_personal_data_and_keeps_what_is_registered(tree, make_resident, join, retained, api):
    user, resident = make_resident("要注销", born=date(1985, 5, 5), sequence="993")
    join(resident, tree.rooms_a["101"])
    unconfirmed = api(user, "delete", "/api/v1/me")
    assert unconfirmed.status_code == 422
    response = api(user, "delete", "/api/v1/me", query_string={"confirm": "true"})
    assert response.status_code == 200, response.json
    assert [k["name"] for k in response.json["kept"]] == ["accounts.household_history", "payments.records"]
    assert retained == [("erase", user.id, resident.id)]

    database.session.expire_all()
    row = database.session.get(Resident, resident.id)
    assert (row.real_name, row.document_ciphertext, row.document_lookup, row.birth_date, row.user_id) == (
        "已注销用户",
        None,
        None,
        None,
        None,
    )
    membership = database.session.scalar(
        sa.select(HouseholdMembership).where(HouseholdMembership.resident_id == resident.id)
    )
    assert membership.status is MembershipStatus.ended  # the household's history stays, anonymised
    assert api(user, "get", "/api/v1/me").status_code == 401  # the account no longer signs in
    # The document can be registered again by its owner on a new account.
    _new_user, _again = make_resident("重新注册", born=date(1985, 5, 5), sequence="993")


def test_staff_accounts_are_not_deleted_by_themselves(tree, make_staff, api):
    response = api(make_staff(tree.a), "delete", "/api/v1/me", query_string={"confirm": "true"})
    assert (response.status_code, response.json["code"]) == (409, "staff_account")
