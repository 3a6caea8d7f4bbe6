"""A delegate reads the profile of the resident they act for, masked; nobody else does."""

from datetime import date

import pytest

from tests.accounts.test_delegation import ELDER_BORN, _elder_document, _request, people  # noqa: F401


@pytest.fixture
def delegated(tree, people, make_staff, api):  # noqa: F811 - the fixture imported above
    elder, daughter_user, _daughter, neighbour_user, _neighbour = people
    requested = _request(api, daughter_user, subject=_elder_document(), scopes=("eldercare",))
    staff = make_staff(tree.a)
    api(staff, "post", f"/api/v1/delegations/{requested.json['id']}/approve", json={"note": "老人当面确认"})
    return elder, daughter_user, neighbour_user, requested.json["id"]


def test_a_delegate_reads_the_masked_profile(delegated, api):
    elder, daughter_user, _neighbour_user, _delegation = delegated
    response = api(daughter_user, "get", f"/api/v1/residents/{elder.public_id}/profile")
    assert response.status_code == 200, response.json
    assert response.json["real_name"] == "王**"
    assert response.json["age"] == date.today().year - ELDER_BORN.year - (
        (date.today().month, date.today().day) < (ELDER_BORN.month, ELDER_BORN.day)
    )
    assert "*" in response.json["document_number"]


def test_a_scope_the_delegation_lacks_is_403(delegated, api):
    elder, daughter_user, _neighbour_user, _delegation = delegated
    response = api(daughter_user, "get", f"/api/v1/residents/{elder.public_id}/profile?scope=bills")
    assert (response.status_code, response.json["code"]) == (403, "delegation_denied")
    assert response.json["details"]["reason"] == "scope_missing"


def test_someone_without_a_delegation_gets_404(delegated, api):
    elder, _daughter_user, neighbour_user, _delegation = delegated
    response = api(neighbour_user, "get", f"/api/v1/residents/{elder.public_id}/profile")
    assert response.status_code == 404


def test_a_revoked_delegation_is_403(delegated, api):
    elder, daughter_user, _neighbour_user, delegation_id = delegated
    api(daughter_user, "post", f"/api/v1/delegations/{delegation_id}/revoke", json={})
    response = api(daughter_user, "get", f"/api/v1/residents/{elder.public_id}/profile")
    assert (response.status_code, response.json["details"]["reason"]) == (403, "revoked")
