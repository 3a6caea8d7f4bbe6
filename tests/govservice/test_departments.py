"""Departments: staff CRUD within their regions, members, and the ``department`` scope kind."""

import pytest

from app.auth.models import RoleAssignment
from app.auth.scopes import authorize, can
from app.db import atomic
from app.errors import Forbidden
from app.extensions import db as database
from govservice import departments
from govservice.department_models import Department, DepartmentNotFound

BASE = "/api/v1/govservice/manage/departments"


@pytest.fixture
def street_staff(make_staff, tree):
    return make_staff(tree.street)


def make_department(region, code="SBS", name="社会保障事务所") -> Department:
    with atomic():
        department = Department(region_id=region.id, code=code, name=name, phone="010-1")
        database.session.add(department)
        database.session.flush()
    return department


def give(user, department, role="handler"):
    with atomic():
        database.session.add(
            RoleAssignment(user_id=user.id, role=role, scope_kind="department", scope_id=department.id)
        )


def test_street_staff_create_list_update_and_delete_a_department(api, tree, street_staff):
    made = api(
        street_staff,
        "post",
        BASE,
        json={"region_id": tree.street.public_id, "name": "社会保障事务所", "code": "SBS", "phone": "010-65001234"},
    )
    assert made.status_code == 201, made.json
    assert made.json["region"] == {"id": tree.street.public_id, "name": "幸福街道", "kind": "street"}
    assert made.json["is_active"] is True
    again = api(street_staff, "post", BASE, json={"region_id": tree.street.public_id, "name": "另一个", "code": "SBS"})
    assert (again.status_code, again.json["code"]) == (409, "department_code_taken")

    listed = api(street_staff, "get", BASE)
    assert listed.status_code == 200
    assert [d["code"] for d in listed.json] == ["SBS"]
    assert "X-Pagination" in listed.headers

    changed = api(street_staff, "patch", f"{BASE}/{made.json['id']}", json={"is_active": False, "phone": "12345"})
    assert (changed.status_code, changed.json["is_active"], changed.json["phone"]) == (200, False, "12345")
    assert api(street_staff, "delete", f"{BASE}/{made.json['id']}").status_code == 204
    assert api(street_staff, "get", f"{BASE}/{made.json['id']}").status_code == 404


def test_community_staff_cannot_create_a_street_department_and_others_see_nothing(api, tree, staff_a, make_staff):
    made = api(staff_a, "post", BASE, json={"region_id": tree.street.public_id, "name": "民政科", "code": "MZ"})
    assert made.status_code == 404
    department = make_department(tree.a, code="A1", name="社区办")
    staff_c = make_staff(tree.c)
    assert api(staff_c, "get", f"{BASE}/{department.public_id}").status_code == 404
    assert api(staff_c, "patch", f"{BASE}/{department.public_id}", json={"phone": "1"}).status_code == 404
    assert api(staff_c, "get", BASE).json == []
    assert api(staff_a, "get", f"{BASE}/{department.public_id}").status_code == 200
    grid = make_staff(tree.a, role="grid_worker")
    assert api(grid, "patch", f"{BASE}/{department.public_id}", json={"phone": "1"}).status_code == 403


def test_handlers_see_their_department_only_and_cannot_manage_it(api, tree, make_user):
    mine = make_department(tree.street)
    other = make_department(tree.street, code="MZ", name="民政科")
    handler = make_user("经办人")
    give(handler, mine)
    assert api(handler, "get", f"{BASE}/{mine.public_id}").status_code == 200
    assert api(handler, "get", f"{BASE}/{other.public_id}").status_code == 404
    assert [d["id"] for d in api(handler, "get", BASE).json] == [mine.public_id]
    forbidden = api(handler, "patch", f"{BASE}/{mine.public_id}", json={"phone": "1"})
    assert (forbidden.status_code, forbidden.json["code"]) == (403, "forbidden")


def test_members_are_added_listed_and_removed(api, tree, street_staff, make_user):
    department = make_department(tree.street)
    handler = make_user("李经办")
    added = api(
        street_staff,
        "post",
        f"{BASE}/{department.public_id}/members",
        json={"user_id": handler.public_id, "role": "handler"},
    )
    assert added.status_code == 201, added.json
    again = api(
        street_staff,
        "post",
        f"{BASE}/{department.public_id}/members",
        json={"user_id": handler.public_id, "role": "handler"},
    )
    assert again.status_code == 201
    members = api(handler, "get", f"{BASE}/{department.public_id}/members")
    assert [(m["user_id"], m["role"]) for m in members.json] == [(handler.public_id, "handler")]
    bad = api(
        street_staff,
        "post",
        f"{BASE}/{department.public_id}/members",
        json={"user_id": handler.public_id, "role": "staff"},
    )
    assert bad.status_code == 422
    gone = api(street_staff, "delete", f"{BASE}/{department.public_id}/members/{handler.public_id}?role=handler")
    assert gone.status_code == 204
    assert api(handler, "get", f"{BASE}/{department.public_id}").status_code == 404


def test_scope_kind_and_public_helpers(tree, make_user, staff_a, make_staff):
    department = make_department(tree.street)
    handler, head, stranger = make_user("h"), make_user("head"), make_user("x")
    give(handler, department, "handler")
    give(head, department, "head")
    street_staff = make_staff(tree.street)

    assert departments.get_department(department.public_id).id == department.id
    with pytest.raises(DepartmentNotFound):
        departments.get_department("nope")
    assert departments.department_for(handler, department.public_id).id == department.id
    with pytest.raises(DepartmentNotFound):
        departments.department_for(stranger, department.public_id)
    with pytest.raises(Forbidden):
        departments.department_for(handler, department.public_id, departments.LEAD)
    assert departments.department_for(head, department.public_id, departments.LEAD).id == department.id
    # Staff of a community below the street do not act for the street's department; the street's staff do.
    with pytest.raises(DepartmentNotFound):
        departments.department_for(staff_a, department.public_id)
    assert departments.handles(street_staff, department)
    assert departments.handles(handler, department)
    assert not departments.handles(staff_a, department)

    # A record naming the department (a complaint, an application's routing) is inside the scope.
    class Record:
        department_id = department.id
        community_id = tree.a.id

    assert can(handler, departments.HANDLE, Record())
    assert authorize(head, departments.HANDLE, Record()) == {"head"}
    assert departments.handled_department_ids(handler) == frozenset({department.id})
    assert departments.handled_department_ids(street_staff) == frozenset({department.id})
    assert departments.handled_department_ids(staff_a) == frozenset()
    assert departments.handled_department_ids(make_staff(None, role="admin")) is None


def test_the_demo_seeds_street_departments_and_routes_online_items(db, api):
    import sqlalchemy as sa

    from app.accounts.demo import seed_identity
    from govservice.application_models import ItemRouting, ItemRoutingDepartment, RoutingMode
    from govservice.demo import seed_departments, seed_govservice

    with atomic():
        seed_identity()
        seed_govservice()
        seed_departments()
    codes = set(database.session.scalars(sa.select(Department.code)))
    assert codes == {"SBS", "MZK", "WJK"}
    modes = {routing.mode for routing in database.session.scalars(sa.select(ItemRouting))}
    assert modes == {RoutingMode.serial, RoutingMode.parallel}
    serial = database.session.scalar(sa.select(ItemRouting).where(ItemRouting.mode == RoutingMode.serial))
    ordered = database.session.scalars(
        sa.select(Department.code)
        .join(ItemRoutingDepartment, ItemRoutingDepartment.department_id == Department.id)
        .where(ItemRoutingDepartment.item_id == serial.item_id)
        .order_by(ItemRoutingDepartment.position)
    ).all()
    assert ordered == ["MZK", "SBS"]
