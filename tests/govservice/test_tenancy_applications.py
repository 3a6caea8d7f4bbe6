"""Who reaches an online application (办件) on the resident's side: a family member bound to the applicant without
the ``applications`` scope is inside the applicant's circle but beyond the delegation (403 ``delegation_denied``),
anyone else gets 404, as the cross-tenant matrix (issue #12) expects."""

from __future__ import annotations

import pytest

from tests.community.fixtures import make_delegation
from tests.govservice.test_applications import API, act, build, submit, uploads


@pytest.fixture
def gov(tree):
    return build(tree)


@pytest.fixture
def family(make_resident, tree):
    """张三 (the applicant), his daughter bound for appointments only, and a neighbour with no tie to him."""
    user, person = make_resident("张三", sequence="981", community=tree.a)
    daughter_user, daughter = make_resident("张女儿", sequence="982", community=tree.a)
    make_delegation(daughter, person, ["appointments", "notices"])
    neighbour_user, _ = make_resident("邻居", sequence="983", community=tree.a)
    return user, daughter_user, neighbour_user


def test_a_delegate_without_the_applications_scope_is_refused_with_403_and_sees_nothing(api, gov, family, staff_a):
    user, daughter, neighbour = family
    application = submit(api, user, gov.item).json["id"]
    completed = submit(api, user, gov.item).json["id"]
    act(api, staff_a, completed, "accept")
    act(api, staff_a, completed, "complete", outcome="approved", result="已办结")
    correcting = submit(api, user, gov.item).json["id"]
    act(api, staff_a, correcting, "accept")
    act(api, staff_a, correcting, "request-correction", reason="户口簿缺户主页", materials=["hukou_book"])

    calls = (
        ("get", f"{API}/applications/{application}", None),
        ("post", f"{API}/applications/{application}/withdraw", {"reason": "不办了"}),
        ("post", f"{API}/applications/{correcting}/correction", {"materials": uploads(user, "hukou_book")}),
        ("post", f"{API}/applications/{completed}/rating", {"score": 1}),
    )
    for method, path, body in calls:
        kwargs = {"json": body} if body is not None else {}
        denied = api(daughter, method, path, **kwargs)
        assert (denied.status_code, denied.json) == (
            403,
            {"code": "delegation_denied", "message": denied.json["message"], "details": denied.json["details"]},
        ), path
        assert denied.json["details"] == {"reason": "scope_missing", "scope": "applications"}
        hidden = api(neighbour, method, path, **kwargs)
        assert (hidden.status_code, hidden.json["code"]) == (404, "application_not_found"), path

    # Nothing changed: the applicant still withdraws, supplies the correction and rates.
    assert api(user, "post", f"{API}/applications/{application}/withdraw", json={}).json["status"] == "withdrawn"
    supplied = api(
        user, "post", f"{API}/applications/{correcting}/correction", json={"materials": uploads(user, "hukou_book")}
    )
    assert supplied.json["status"] == "accepted"
    assert api(user, "post", f"{API}/applications/{completed}/rating", json={"score": 5}).status_code == 201


def test_staff_still_get_404_on_the_residents_own_acts(api, gov, family, staff_a):
    user, _daughter, _neighbour = family
    application = submit(api, user, gov.item).json["id"]
    refused = api(staff_a, "post", f"{API}/applications/{application}/withdraw", json={})
    assert (refused.status_code, refused.json["code"]) == (404, "application_not_found")
