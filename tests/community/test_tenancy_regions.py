"""Tenancy of the tree's own nodes (found by the cross-tenant matrix, tests/fault/tenant/core.py):

- a region is renamed, recoded or deleted by whoever may create it (staff of the region above, platform admins for
  a district), not by the staff it serves, who see it (403, not 404);
- a CSV import refuses outsiders (404) and roles below ``community.manage`` (403) before it reads the upload, so
  nobody outside learns anything, not even what the body should be.
"""

from app.community.services import get_region

BASE = "/api/v1/community"


def test_a_communitys_own_staff_may_not_rename_recode_or_delete_it_but_the_streets_staff_may(tree, make_staff, api):
    own = make_staff(tree.a, "staff")
    own_admin = make_staff(tree.a, "admin")
    street = make_staff(tree.street, "staff")
    other = make_staff(tree.b, "staff")
    path = f"{BASE}/regions/{tree.a.public_id}"

    for user in (own, own_admin):
        renamed = api(user, "patch", path, json={"name": "自封社区", "code": "110101001001"})
        assert (renamed.status_code, renamed.json["code"]) == (403, "forbidden"), renamed.json
        deleted = api(user, "delete", path)
        assert (deleted.status_code, deleted.json["code"]) == (403, "forbidden"), deleted.json
    assert api(other, "patch", path, json={"name": "别人的社区"}).status_code == 404
    assert api(own, "get", path).json["name"] == "幸福社区"

    renamed = api(street, "patch", path, json={"name": "幸福里社区"})
    assert (renamed.status_code, renamed.json["name"]) == (200, "幸福里社区")


def test_a_district_is_edited_and_deleted_by_platform_admins_only(tree, make_staff, make_user, api):
    district_admin = make_staff(tree.district, "admin")
    platform = make_user("平台管理员", platform_roles=("admin",))
    created = api(platform, "post", f"{BASE}/regions", json={"kind": "district", "name": "新区"})
    assert created.status_code == 201
    path = f"{BASE}/regions/{tree.district.public_id}"

    refused = api(district_admin, "patch", path, json={"name": "改名区"})
    assert (refused.status_code, refused.json["message"]) == (403, "只有平台管理员可以修改或删除区")
    assert api(platform, "patch", path, json={"name": "示范新区"}).json["name"] == "示范新区"
    assert api(platform, "delete", f"{BASE}/regions/{created.json['id']}").status_code == 204


def test_a_street_deletes_an_empty_community_beneath_it_and_the_roles_over_it_go_too(tree, make_staff, api):
    street = make_staff(tree.street, "staff")
    created = api(
        street,
        "post",
        f"{BASE}/regions",
        json={"kind": "community", "name": "新社区", "parent_id": tree.street.public_id},
    )
    assert created.status_code == 201
    community = get_region(created.json["id"])
    own = make_staff(community, "staff")
    assert api(own, "delete", f"{BASE}/regions/{community.public_id}").status_code == 403
    assert api(street, "delete", f"{BASE}/regions/{community.public_id}").status_code == 204
    assert api(own, "get", f"{BASE}/regions/{community.public_id}").status_code == 404


def test_an_import_refuses_outsiders_and_lower_roles_before_reading_the_upload(tree, make_staff, make_user, api):
    path = f"{BASE}/estates/{tree.estate_a.public_id}/import"
    csv = "楼栋,单元,房号,楼层,面积\n2号楼,1单元,101,1,89.5\n".encode()
    for user, status in (
        (make_staff(tree.b, "staff"), 404),
        (make_user("居民"), 404),
        (make_staff(tree.a, "grid_worker"), 403),
    ):
        as_json = api(user, "post", path, json={})
        as_csv = api(user, "post", path, data=csv, content_type="text/csv")
        assert (as_json.status_code, as_csv.status_code) == (status, status), (as_json.json, as_csv.json)
        assert "errors" not in (as_json.json.get("details") or {})
    staff = make_staff(tree.a, "staff")
    assert api(staff, "post", path, json={}).json["code"] == "import_failed"
    imported = api(staff, "post", path, data=csv, content_type="text/csv")
    assert imported.status_code == 201, imported.json
