"""Profile requirements, ``GET /me``, the public profile read, and tags (sensitive ones behind consent)."""

from datetime import date

import pytest
import sqlalchemy as sa

from app.accounts import profile
from app.accounts.consent import POLICY_VERSIONS
from app.accounts.errors import ProfileIncomplete
from app.accounts.resident_models import ConsentKind, Tag
from app.audit import AuditEntry
from app.extensions import db as database


@pytest.fixture
def eldercare_requirement(monkeypatch):
    monkeypatch.setattr(profile, "REQUIREMENTS", dict(profile.REQUIREMENTS))
    profile.register_requirement("eldercare.order", ["verified", "hukou", "birth_date"])
    profile.register_requirement("govservice.appointment", ["real_name", "phone"])


SENSITIVE_CONSENT = {"kind": "sensitive_data", "policy_version": POLICY_VERSIONS[ConsentKind.sensitive_data]}


def _tag(code: str) -> Tag:
    return database.session.scalar(sa.select(Tag).where(Tag.code == code))


def test_me_without_details_lists_everything_missing(eldercare_requirement, make_user, api):
    body = api(make_user("新用户"), "get", "/api/v1/me").json
    assert body["resident"] is None
    assert body["ready_for"] == []
    assert body["missing"]["eldercare.order"] == ["verified", "hukou", "birth_date"]


def test_ready_for_and_missing_follow_the_profile(tree, eldercare_requirement, make_resident, make_staff, api):
    user, resident = make_resident("李雷", community=tree.a)
    body = api(user, "get", "/api/v1/me").json
    assert body["missing"]["eldercare.order"] == ["verified", "hukou"]  # birth date came from the ID number
    assert body["missing"]["govservice.appointment"] == ["phone"]
    assert "household.join" in body["ready_for"]

    api(user, "put", "/api/v1/me/resident", json={"real_name": "李雷", "hukou_status": "local"})
    api(user, "post", "/api/v1/me/resident/verification", json={})
    api(make_staff(tree.a), "post", f"/api/v1/residents/{resident.public_id}/verification", json={"approve": True})
    body = api(user, "get", "/api/v1/me").json
    assert "eldercare.order" in body["ready_for"]
    assert "eldercare.order" not in body["missing"]


def test_an_unknown_fact_is_a_programming_error():
    with pytest.raises(ValueError, match="favourite_colour"):
        profile.register_requirement("x.y", ["favourite_colour"])


def test_other_domains_read_one_profile_and_require_readiness(tree, eldercare_requirement, make_resident):
    _user, resident = make_resident("老人", born=date(1944, 5, 20), sequence="992", account=False, community=tree.a)
    read = profile.get_profile(resident.id)
    assert (read.public_id, read.elderly, read.has_account, read.document_masked[:3]) == (
        resident.public_id,
        True,
        False,
        "110",
    )
    with pytest.raises(ProfileIncomplete) as incomplete:
        profile.require_ready(resident.id, "eldercare.order")
    assert incomplete.value.details == {"requirement": "eldercare.order", "missing": ["verified", "hukou"]}


def test_sensitive_tags_need_the_separate_consent_and_hide_when_it_is_withdrawn(
    tree, make_resident, make_staff, join, api
):
    user, resident = make_resident("低保户", sequence="993")
    join(resident, tree.rooms_a["102"], "head")
    staff = make_staff(tree.a)
    path = f"/api/v1/residents/{resident.public_id}/tags"
    refused = api(staff, "post", path, json={"tag_id": _tag("dibao").public_id, "reason": "入户核实"})
    assert (refused.status_code, refused.json["code"]) == (409, "sensitive_consent_required")

    version = POLICY_VERSIONS[ConsentKind.sensitive_data]
    outdated = api(user, "post", "/api/v1/me/consents", json={"kind": "sensitive_data", "policy_version": "2020-01"})
    assert (outdated.status_code, outdated.json["code"]) == (409, "policy_version_outdated")
    given = api(user, "post", "/api/v1/me/consents", json={"kind": "sensitive_data", "policy_version": version})
    assert given.status_code == 201
    for code in ("dibao", "living_alone"):
        added = api(staff, "post", path, json={"tag_id": _tag(code).public_id, "reason": "入户核实"})
        assert added.status_code == 201, added.json
    assert {t["name"] for t in api(user, "get", "/api/v1/me").json["tags"]} == {"低保", "独居"}

    api(user, "post", "/api/v1/me/consents/withdraw", json={"kind": "sensitive_data"})
    assert [t["name"] for t in api(user, "get", "/api/v1/me").json["tags"]] == ["独居"]
    staff_view = api(staff, "get", f"/api/v1/residents/{resident.public_id}").json["tags"]
    assert {t["name"] for t in staff_view} == {"低保", "独居"}  # staff keep the record they are responsible for


def test_every_tag_change_is_audited_with_its_reason(tree, make_resident, make_staff, join, api):
    _user, resident = make_resident("居民", sequence="993")
    join(resident, tree.rooms_a["102"])
    staff = make_staff(tree.a)
    tag = _tag("retired").public_id
    path = f"/api/v1/residents/{resident.public_id}/tags"
    assert api(staff, "post", path, json={"tag_id": tag}).status_code == 422  # a reason is required
    api(staff, "post", path, json={"tag_id": tag, "reason": "本人申报退休"})
    again = api(staff, "post", path, json={"tag_id": tag, "reason": "重复"})
    assert (again.status_code, again.json["code"]) == (409, "tag_already_set")
    assert api(staff, "delete", f"{path}/{tag}").status_code == 422
    assert api(staff, "delete", f"{path}/{tag}", query_string={"reason": "录入错误"}).status_code == 204
    entries = database.session.execute(
        sa.select(AuditEntry.action, AuditEntry.reason)
        .where(AuditEntry.action.like("resident.tag.%"))
        .order_by(AuditEntry.id)
    ).all()
    assert [tuple(e) for e in entries] == [("resident.tag.add", "本人申报退休"), ("resident.tag.remove", "录入错误")]


def test_a_district_level_tag_is_removed_only_by_district_staff(tree, make_resident, make_staff, join, api):
    _user, resident = make_resident("居民", sequence="993")
    join(resident, tree.rooms_a["102"])
    district_staff = make_staff(tree.district)
    api(make_staff(tree.a), "post", f"/api/v1/residents/{resident.public_id}/consents", json=SENSITIVE_CONSENT)
    tag = _tag("dibao").public_id
    path = f"/api/v1/residents/{resident.public_id}/tags"
    added = api(
        district_staff, "post", path, json={"tag_id": tag, "reason": "区民政名单", "level_id": tree.district.public_id}
    )
    assert added.status_code == 201
    assert added.json[0]["level"] == "示范区"
    community_staff = make_staff(tree.a)
    refused = api(community_staff, "delete", f"{path}/{tag}", query_string={"reason": "社区想删"})
    assert refused.status_code == 403
    assert api(district_staff, "delete", f"{path}/{tag}", query_string={"reason": "退出低保"}).status_code == 204


def test_grid_workers_cannot_tag(tree, make_resident, make_staff, join, api):
    _user, resident = make_resident("居民", sequence="993")
    join(resident, tree.rooms_a["102"])
    response = api(
        make_staff(tree.a, "grid_worker"),
        "post",
        f"/api/v1/residents/{resident.public_id}/tags",
        json={"tag_id": _tag("retired").public_id, "reason": "走访"},
    )
    assert response.status_code == 403


def test_custom_tags_belong_to_a_community_or_district(tree, make_resident, make_staff, join, api):
    staff = make_staff(tree.a)
    created = api(staff, "post", "/api/v1/tags", json={"name": "志愿者", "region_id": tree.a.public_id})
    assert created.status_code == 201
    assert created.json["custom"] is True
    street_level = api(
        make_staff(tree.street), "post", "/api/v1/tags", json={"name": "街道标签", "region_id": tree.street.public_id}
    )
    assert street_level.status_code == 422
    names_a = {t["name"] for t in api(staff, "get", "/api/v1/tags", query_string={"region": tree.a.public_id}).json}
    names_b = {t["name"] for t in api(staff, "get", "/api/v1/tags", query_string={"region": tree.b.public_id}).json}
    assert "志愿者" in names_a
    assert "志愿者" not in names_b
    assert "低保" in names_b
    _user, elsewhere = make_resident("别处居民", sequence="995")
    join(elsewhere, tree.rooms_b["101"])
    refused = api(
        make_staff(tree.street),
        "post",
        f"/api/v1/residents/{elsewhere.public_id}/tags",
        json={"tag_id": created.json["id"], "reason": "试试"},
    )
    assert (refused.status_code, refused.json["code"]) == (404, "tag_not_found")


def test_elderly_is_computed_from_the_birth_date_never_stored(tree, make_resident, join, api):
    user, _resident = make_resident("寿星", born=date(1940, 1, 1), sequence="991")
    tags = api(user, "get", "/api/v1/me").json["tags"]
    assert tags == [{"id": None, "code": "elderly", "name": "高龄", "sensitive": False, "computed": True}]
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Tag).where(Tag.code == "elderly")) == 0
