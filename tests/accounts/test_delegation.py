"""Delegation: request, approval by the subject or by staff in person, revocation, expiry, and ``acting_for``."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.errors import DelegationDenied, ResidentNotFound, StaffReasonRequired
from app.accounts.resident_models import Delegation
from app.audit import AuditEntry
from app.auth.scopes import acting_for
from app.db import atomic, utcnow
from app.errors import Forbidden
from app.extensions import db as database
from tests.community.fixtures import id_number

ELDER_BORN = date(1944, 5, 20)


@pytest.fixture
def people(tree, make_resident, join):
    """An elder without an account in A-101 (registered by staff), her daughter (account), and a neighbour."""
    _none, elder = make_resident("王秀兰", born=ELDER_BORN, sequence="992", account=False, community=tree.a)
    daughter_user, daughter = make_resident("王丽", born=date(1972, 3, 8), sequence="994")
    neighbour_user, neighbour = make_resident("邻居刘", born=date(1960, 1, 1), sequence="995")
    join(elder, tree.rooms_a["101"], "head")
    join(daughter, tree.rooms_b["101"], "head")
    return elder, daughter_user, daughter, neighbour_user, neighbour


def _request(api, user, *, subject=None, subject_id=None, scopes=("eldercare", "appointments"), **extra):
    body = {"relationship": "child", "scopes": list(scopes), **extra}
    if subject_id:
        body["subject_id"] = subject_id
    else:
        body["subject"] = subject
    return api(user, "post", "/api/v1/delegations", json=body)


def _elder_document():
    return {"real_name": "王秀兰", "document_type": "resident_id_card", "document_number": id_number(ELDER_BORN, "992")}


def test_staff_approve_after_an_in_person_check_and_acting_for_then_works(tree, people, make_staff, api):
    elder, daughter_user, _daughter, _neighbour_user, _neighbour = people
    requested = _request(api, daughter_user, subject=_elder_document())
    assert requested.status_code == 201, requested.json
    assert requested.json["status"] == "pending"
    assert requested.json["subject"]["name"] == "王**"
    delegation_id = requested.json["id"]

    with pytest.raises(DelegationDenied) as pending, atomic():
        acting_for(daughter_user, elder.public_id, "eldercare")
    assert pending.value.details["reason"] == "pending"

    staff = make_staff(tree.a)
    no_note = api(staff, "post", f"/api/v1/delegations/{delegation_id}/approve", json={})
    assert (no_note.status_code, no_note.json["code"]) == (422, "staff_reason_required")
    approved = api(staff, "post", f"/api/v1/delegations/{delegation_id}/approve", json={"note": "老人当面确认"})
    assert (approved.json["status"], approved.json["approved_via"]) == ("active", "staff")

    with atomic():
        subject = acting_for(daughter_user, elder.public_id, "eldercare")
    assert subject.id == elder.id
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "acting_for"))
    assert (entry.actor_user_id, entry.subject_kind, entry.subject_id) == (daughter_user.id, "resident", elder.id)
    assert entry.after == {"scope": "eldercare", "via": "delegation"}


def test_a_name_that_does_not_match_the_document_is_the_same_404(people, api):
    _elder, daughter_user, *_ = people
    wrong = _request(api, daughter_user, subject={**_elder_document(), "real_name": "王秀英"})
    assert (wrong.status_code, wrong.json["code"]) == (404, "resident_not_found")
    nobody = _request(
        api, daughter_user, subject={**_elder_document(), "document_number": id_number(date(1944, 5, 21), "992")}
    )
    assert nobody.json["code"] == wrong.json["code"]


def test_the_subject_approves_in_the_app_and_either_side_revokes(tree, people, make_resident, join, api):
    _elder, _daughter_user, _daughter, neighbour_user, neighbour = people
    son_user, son = make_resident("刘小明", born=date(1990, 9, 9), sequence="997")
    join(neighbour, tree.rooms_a["201"], "head")
    join(son, tree.rooms_a["201"], "family")
    requested = _request(api, son_user, subject_id=neighbour.public_id, scopes=["bills", "notices"])
    assert requested.status_code == 201, requested.json
    delegation_id = requested.json["id"]
    own = api(son_user, "post", f"/api/v1/delegations/{delegation_id}/approve", json={})
    assert own.status_code == 403
    approved = api(neighbour_user, "post", f"/api/v1/delegations/{delegation_id}/approve", json={})
    assert (approved.json["status"], approved.json["approved_via"], approved.json["my_role"]) == (
        "active",
        "subject",
        "subject",
    )
    with atomic():
        assert acting_for(son_user, neighbour.public_id, "bills").id == neighbour.id

    with pytest.raises(DelegationDenied) as missing, atomic():
        acting_for(son_user, neighbour.public_id, "marketplace")
    assert missing.value.details == {"reason": "scope_missing", "scope": "marketplace"}

    revoked = api(neighbour_user, "post", f"/api/v1/delegations/{delegation_id}/revoke", json={})
    assert revoked.json["status"] == "revoked"
    with pytest.raises(DelegationDenied) as after, atomic():
        acting_for(son_user, neighbour.public_id, "bills")
    assert after.value.details["reason"] == "revoked"
    twice = api(son_user, "post", f"/api/v1/delegations/{delegation_id}/revoke", json={})
    assert (twice.status_code, twice.json["code"]) == (409, "delegation_not_open")
    assert [d["status"] for d in api(son_user, "get", "/api/v1/me/delegations").json] == ["revoked"]


def test_naming_someone_by_id_needs_a_shared_household(people, api):
    elder, daughter_user, *_ = people
    response = _request(api, daughter_user, subject_id=elder.public_id)
    assert (response.status_code, response.json["code"]) == (404, "resident_not_found")


def test_an_expired_delegation_refuses_with_403(tree, people, make_staff, api):
    elder, daughter_user, *_ = people
    past_soon = (utcnow() + timedelta(minutes=5)).isoformat()
    delegation_id = _request(api, daughter_user, subject=_elder_document(), expires_at=past_soon).json["id"]
    api(make_staff(tree.a), "post", f"/api/v1/delegations/{delegation_id}/approve", json={"note": "当面确认"})
    with atomic():
        database.session.execute(
            sa.update(Delegation)
            .where(Delegation.public_id == delegation_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(DelegationDenied) as expired, atomic():
        acting_for(daughter_user, elder.public_id, "eldercare")
    assert expired.value.details["reason"] == "expired"
    assert api(daughter_user, "get", f"/api/v1/delegations/{delegation_id}").json["status"] == "expired"


def test_an_expiry_in_the_past_is_refused_at_request(people, api):
    _elder, daughter_user, *_ = people
    response = _request(
        api, daughter_user, subject=_elder_document(), expires_at=(utcnow() - timedelta(days=1)).isoformat()
    )
    assert response.status_code == 422


def test_without_any_delegation_the_subject_is_404(people):
    elder, _daughter_user, _daughter, neighbour_user, _neighbour = people
    with pytest.raises(ResidentNotFound), atomic():
        acting_for(neighbour_user, elder.public_id, "eldercare")
    with pytest.raises(ResidentNotFound), atomic():
        acting_for(neighbour_user, "no-such-resident", "eldercare")


def test_one_open_request_per_pair(people, api):
    _elder, daughter_user, *_ = people
    assert _request(api, daughter_user, subject=_elder_document()).status_code == 201
    again = _request(api, daughter_user, subject=_elder_document())
    assert (again.status_code, again.json["code"]) == (409, "delegation_exists")


def test_staff_act_for_a_walk_in_only_with_a_reason_and_grid_workers_cannot(tree, people, make_staff):
    elder, *_ = people
    staff = make_staff(tree.a)
    with pytest.raises(StaffReasonRequired), atomic():
        acting_for(staff, elder.public_id, "appointments")
    with atomic():
        assert acting_for(staff, elder.public_id, "appointments", reason="老人到社区窗口办理").id == elder.id
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "acting_for"))
    assert (entry.reason, entry.after["via"], entry.subject_id) == ("老人到社区窗口办理", "staff", elder.id)
    with pytest.raises(Forbidden), atomic():
        acting_for(make_staff(tree.a, "grid_worker"), elder.public_id, "appointments", reason="上门")
    with pytest.raises(ResidentNotFound), atomic():
        acting_for(make_staff(tree.b), elder.public_id, "appointments", reason="上门")


def test_acting_for_oneself_needs_no_delegation(people):
    _elder, daughter_user, daughter, *_ = people
    with atomic():
        assert acting_for(daughter_user, daughter.public_id, "bills").id == daughter.id


def test_outsiders_cannot_read_a_delegation(tree, people, make_staff, api):
    _elder, daughter_user, _daughter, neighbour_user, _neighbour = people
    delegation_id = _request(api, daughter_user, subject=_elder_document()).json["id"]
    assert api(neighbour_user, "get", f"/api/v1/delegations/{delegation_id}").status_code == 404
    assert api(make_staff(tree.c), "get", f"/api/v1/delegations/{delegation_id}").status_code == 404
    staff_view = api(make_staff(tree.a), "get", f"/api/v1/delegations/{delegation_id}")
    assert staff_view.json["my_role"] == "staff"
    assert api(neighbour_user, "post", f"/api/v1/delegations/{delegation_id}/approve", json={}).status_code == 404


def test_unknown_scopes_are_422(people, api):
    _elder, daughter_user, *_ = people
    response = _request(api, daughter_user, subject=_elder_document(), scopes=["everything"])
    assert (response.status_code, response.json["code"]) == (422, "validation_failed")
