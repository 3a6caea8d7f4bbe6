"""The community tree: the directory for everyone, CRUD by staff within their scope, 404 outside it, 403 by role."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.audit import AuditEntry
from app.community.models import Estate, Region, RegionKind
from app.db import atomic
from app.extensions import db as database

BASE = "/api/v1/community"


def test_anyone_signed_in_browses_the_directory_down_to_rooms(tree, make_user, api):
    user = make_user("居民")
    districts = api(user, "get", f"{BASE}/regions").json
    assert {d["name"] for d in districts} == {"示范区", "远方区"}
    communities = api(user, "get", f"{BASE}/regions", query_string={"parent": tree.street.public_id}).json
    assert [c["name"] for c in communities] == ["和平社区", "幸福社区"]
    assert communities[0]["parent"] == tree.street.public_id
    estates = api(user, "get", f"{BASE}/regions/{tree.a.public_id}/estates").json
    buildings = api(user, "get", f"{BASE}/estates/{estates[0]['id']}/buildings").json
    rooms = api(user, "get", f"{BASE}/buildings/{buildings[0]['id']}/households").json
    assert [r["room"] for r in rooms["items"]] == ["101", "102", "201"]
    assert set(rooms["items"][0]) == {"id", "building", "unit", "unit_name", "room", "floor"}  # nothing personal


def test_the_directory_needs_sign_in(tree, client):
    assert client.get(f"{BASE}/regions").status_code == 401


def test_staff_create_an_estate_in_their_community_with_coordinates(tree, make_staff, api):
    staff = make_staff(tree.a)
    response = api(
        staff,
        "post",
        f"{BASE}/regions/{tree.a.public_id}/estates",
        json={"name": "老槐树院", "kind": "courtyard", "latitude": "39.930500", "longitude": "116.410200"},
    )
    assert response.status_code == 201, response.json
    assert response.json["kind"] == "courtyard"
    assert response.json["latitude"] == "39.930500"
    assert database.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "community.estate.create"))


def test_staff_edit_an_estate_and_the_audit_keeps_before_and_after(tree, make_staff, api):
    response = api(
        make_staff(tree.a),
        "patch",
        f"{BASE}/estates/{tree.estate_a.public_id}",
        json={"kind": "courtyard", "latitude": "39.93", "longitude": "116.41"},
    )
    assert response.status_code == 200
    assert (response.json["kind"], response.json["latitude"]) == ("courtyard", "39.930000")
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "community.estate.update"))
    assert entry.before == {"kind": "estate", "latitude": None, "longitude": None}
    assert entry.after == {"kind": "courtyard", "latitude": "39.930000", "longitude": "116.410000"}


def test_coordinates_out_of_range_are_422(tree, make_staff, api):
    response = api(
        make_staff(tree.a),
        "post",
        f"{BASE}/regions/{tree.a.public_id}/estates",
        json={"name": "错坐标", "latitude": "95.0", "longitude": "116.4"},
    )
    assert response.status_code == 422
    assert "latitude" in response.json["details"]["fields"]["json"]


def test_staff_of_another_community_get_404_and_grid_workers_403(tree, make_staff, api):
    path = f"{BASE}/regions/{tree.a.public_id}/estates"
    other = api(make_staff(tree.b), "post", path, json={"name": "新小区"})
    assert (other.status_code, other.json["code"]) == (404, "region_not_found")
    grid = api(make_staff(tree.a, "grid_worker"), "post", path, json={"name": "新小区"})
    assert (grid.status_code, grid.json["code"]) == (403, "forbidden")


def test_street_staff_manage_every_community_of_their_street_only(tree, make_staff, api):
    street_staff = make_staff(tree.street)
    for community in (tree.a, tree.b):
        response = api(street_staff, "post", f"{BASE}/regions/{community.public_id}/estates", json={"name": "街道建"})
        assert response.status_code == 201
    far = api(street_staff, "post", f"{BASE}/regions/{tree.c.public_id}/estates", json={"name": "街道建"})
    assert far.status_code == 404


def test_only_platform_admins_create_districts(tree, make_staff, make_user, api):
    refused = api(
        make_staff(tree.district, "admin"), "post", f"{BASE}/regions", json={"kind": "district", "name": "新区"}
    )
    assert refused.status_code == 403
    admin = make_user("平台管理员", platform_roles=("admin",))
    created = api(admin, "post", f"{BASE}/regions", json={"kind": "district", "name": "新区", "code": "110119"})
    assert created.status_code == 201


def test_a_community_must_go_under_a_street(tree, make_user, api):
    admin = make_user("平台管理员", platform_roles=("admin",))
    response = api(
        admin,
        "post",
        f"{BASE}/regions",
        json={"kind": "community", "name": "错层社区", "parent_id": tree.district.public_id},
    )
    assert (response.status_code, response.json["code"]) == (422, "wrong_parent_kind")
    response = api(admin, "post", f"{BASE}/regions", json={"kind": "street", "name": "无上级街道"})
    assert response.status_code == 422


def test_the_database_refuses_a_street_under_a_community(tree):
    with pytest.raises(IntegrityError), atomic():
        database.session.add(
            Region(kind=RegionKind.street, name="错误街道", parent_id=tree.a.id, parent_kind=RegionKind.community.value)
        )
        database.session.flush()


def test_the_database_refuses_a_building_whose_community_differs_from_its_estate(tree):
    from app.community.models import Building

    with pytest.raises(IntegrityError), atomic():
        database.session.add(Building(estate_id=tree.estate_a.id, community_id=tree.b.id, name="错楼"))
        database.session.flush()


def test_duplicate_names_and_deleting_a_parent_with_children_are_409(tree, make_staff, api):
    staff = make_staff(tree.a)
    duplicate = api(staff, "post", f"{BASE}/estates/{tree.estate_a.public_id}/buildings", json={"name": "1号楼"})
    assert (duplicate.status_code, duplicate.json["code"]) == (409, "name_taken")
    busy = api(staff, "delete", f"{BASE}/estates/{tree.estate_a.public_id}")
    assert (busy.status_code, busy.json["code"]) == (409, "has_children")
    assert database.session.get(Estate, tree.estate_a.id) is not None


def test_staff_edit_and_delete_within_scope(tree, make_staff, api):
    staff = make_staff(tree.a)
    room = tree.rooms_a["201"]
    edited = api(staff, "patch", f"{BASE}/households/{room.public_id}", json={"floor_area_dm2": 10250})
    assert edited.status_code == 200
    assert api(staff, "get", f"{BASE}/households/{room.public_id}").json["floor_area_dm2"] == 10250
    assert api(staff, "delete", f"{BASE}/households/{room.public_id}").status_code == 204
    assert api(staff, "get", f"{BASE}/households/{room.public_id}").status_code == 404
    other_room = tree.rooms_b["101"]
    assert api(staff, "patch", f"{BASE}/households/{other_room.public_id}", json={"floor": 3}).status_code == 404


def test_floor_area_is_an_integer_in_hundredths_of_a_square_metre(tree, make_staff, api):
    staff = make_staff(tree.a)
    path = f"{BASE}/buildings/{tree.building_a.public_id}/households"
    bad = api(staff, "post", path, json={"room": "301", "unit_id": tree.unit_a.public_id, "floor_area_dm2": 89.5})
    assert (bad.status_code, bad.json["code"]) == (422, "validation_failed")
    good = api(staff, "post", path, json={"room": "301", "unit_id": tree.unit_a.public_id, "floor_area_dm2": 8950})
    assert good.status_code == 201


def test_household_rooms_page_in_natural_order_by_cursor(tree, make_staff, api):
    staff = make_staff(tree.a)
    path = f"{BASE}/buildings/{tree.building_a.public_id}/households"
    for room in ("1001", "202", "301"):
        api(staff, "post", path, json={"room": room, "unit_id": tree.unit_a.public_id})
    seen, cursor = [], None
    while True:
        page = api(staff, "get", path, query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}).json
        seen += [item["room"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["101", "102", "201", "202", "301", "1001"]
    assert api(staff, "get", path, query_string={"cursor": "garbage"}).status_code == 422


def test_region_admins_give_roles_and_the_role_takes_effect(tree, make_staff, make_user, api):
    admin = make_staff(tree.district, "admin")
    newcomer = make_user("新同事")
    path = f"{BASE}/regions/{tree.a.public_id}/roles"
    before = api(newcomer, "post", f"{BASE}/regions/{tree.a.public_id}/estates", json={"name": "试建"})
    assert before.status_code == 404
    assigned = api(admin, "post", path, json={"user_id": newcomer.public_id, "role": "staff"})
    assert assigned.status_code == 201
    assert api(newcomer, "post", f"{BASE}/regions/{tree.a.public_id}/estates", json={"name": "试建"}).status_code == 201
    assert [r["role"] for r in api(newcomer, "get", path).json] == ["staff"]
    staff_cannot = api(newcomer, "post", path, json={"user_id": admin.public_id, "role": "admin"})
    assert staff_cannot.status_code == 403
    removed = api(admin, "delete", path, query_string={"user_id": newcomer.public_id, "role": "staff"})
    assert removed.status_code == 204
    assert api(newcomer, "get", path).status_code == 404


def test_every_identity_endpoint_declares_its_access_rule_in_openapi(app, client):
    spec = client.get("/openapi.json").json
    checked = 0
    for path, operations in spec["paths"].items():
        if not path.startswith(("/api/v1/community", "/api/v1/residents", "/api/v1/me", "/api/v1/delegations")):
            continue
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            access = operation.get("x-access")
            assert access is not None, (method, path)
            assert access["public"] is False, (method, path)
            checked += 1
    assert checked > 40
    estates = spec["paths"]["/api/v1/community/regions/{region_id}/estates"]["post"]["x-access"]
    assert estates["scope"] == {
        "action": "community.manage",
        "roles": ["admin", "staff"],
        "outside_scope": 404,
        "role_not_allowed": 403,
    }
