"""Complaints and suggestions (诉求): submit, accept/reject, dispatch, reply, confirm/reopen, time limits and
escalation, who sees what, and a race on the same transition."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.auth.models import RoleAssignment
from app.db import atomic
from app.errors import APIError
from app.extensions import db as database
from govservice import complaints
from govservice.complaint_models import Complaint, ComplaintCategory, ComplaintEvent
from govservice.department_models import Department
from tests.community.fixtures import build_tree
from tests.conftest import race
from tests.govservice.fixtures import at, notices

BASE = "/api/v1/govservice"
MONDAY = date(2026, 11, 23)  # an ordinary week: Mon 23 – Fri 27 November 2026 are all working days


@pytest.fixture
def category(tree):
    """A street-level category (so every community of the street may use it) with a 3-working-day limit."""
    with atomic():
        row = ComplaintCategory(
            region_id=tree.street.id, code="noise", name="噪音扰民", group="市容环境", time_limit_days=3
        )
        database.session.add(row)
    return row


@pytest.fixture
def department(tree, make_user):
    """The street's 城管科 with a handler."""
    with atomic():
        dept = Department(region_id=tree.street.id, name="城管科", code="CG")
        database.session.add(dept)
        database.session.flush()
    handler = make_user("城管经办人")
    with atomic():
        database.session.add(
            RoleAssignment(user_id=handler.id, role="handler", scope_kind="department", scope_id=dept.id)
        )
    return dept, handler


@pytest.fixture
def author(make_resident, tree, join):
    user, resident = make_resident("李四", community=tree.a)
    return user, resident


def submit(api, user, tree, **extra):
    body = {
        "community_id": tree.a.public_id,
        "category": "noise",
        "description": "楼下广场舞音响太响，晚上十点还不停",
        "location": "1号楼1单元101旁",
        **extra,
    }
    response = api(user, "post", f"{BASE}/complaints", json=body)
    assert response.status_code == 201, response.json
    return response.json


def test_the_whole_flow_from_submission_to_a_rated_resolution(api, tree, category, department, author, staff_a, freeze):
    dept, handler = department
    user, resident = author
    freeze(at(MONDAY, 10))
    created = submit(api, user, tree)
    assert created["status"] == "submitted"
    assert created["status_label"] == "待受理"
    assert created["category"] == {"code": "noise", "name": "噪音扰民"}

    accepted = api(staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/accept", json={})
    assert accepted.status_code == 200, accepted.json
    # Three working days from the day after acceptance: Tue, Wed, Thu.
    assert accepted.json["due_on"] == "2026-11-26"
    assert accepted.json["remaining_workdays"] == 3

    dispatched = api(
        staff_a,
        "post",
        f"{BASE}/manage/complaints/{created['id']}/dispatch",
        json={"department_id": dept.public_id, "note": "请现场核查"},
    )
    assert dispatched.status_code == 200, dispatched.json
    assert dispatched.json["status"] == "dispatched"
    assert dispatched.json["department"] == {"id": dept.public_id, "name": "城管科"}

    # The handler finds it in their worklist (and only what went to their department).
    worklist = api(handler, "get", f"{BASE}/manage/complaints")
    assert worklist.status_code == 200
    assert [row["id"] for row in worklist.json] == [created["id"]]

    replied = api(
        handler,
        "post",
        f"{BASE}/manage/complaints/{created['id']}/reply",
        json={"text": "已约谈广场舞团队，晚上九点前结束并调低音量"},
    )
    assert replied.status_code == 200, replied.json
    assert replied.json["status"] == "replied"
    assert replied.json["remaining_workdays"] is None

    sent = [n for n in notices("govservice.complaint_update") if n.source[1] == created["id"]]
    assert [n.residents for n in sent] == [[resident.id], [resident.id]]  # accepted, replied
    assert "已答复" in sent[-1].title

    confirmed = api(user, "post", f"{BASE}/complaints/{created['id']}/confirm", json={"rating": 5, "comment": "很快"})
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["status"] == "resolved"
    assert confirmed.json["rating"] == 5

    detail = api(user, "get", f"{BASE}/complaints/{created['id']}").json
    assert [step["action"] for step in detail["history"]] == ["submit", "accept", "dispatch", "reply", "confirm"]
    assert detail["history"][2]["note"] == "转办至城管科：请现场核查"
    assert "contact" not in detail  # residents see no contact block

    mine = api(user, "get", f"{BASE}/complaints").json
    assert [row["id"] for row in mine["items"]] == [created["id"]]


def test_reject_needs_a_reason_and_closes_it(api, tree, category, author, staff_a):
    user, _ = author
    created = submit(api, user, tree)
    missing = api(staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/reject", json={})
    assert missing.status_code == 422
    rejected = api(
        staff_a,
        "post",
        f"{BASE}/manage/complaints/{created['id']}/reject",
        json={"reason": "属于物业服务合同纠纷，请联系物业"},
    )
    assert rejected.status_code == 200
    assert rejected.json["status"] == "rejected"
    again = api(staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/accept", json={})
    assert again.status_code == 409
    assert again.json["code"] == "complaint_state_conflict"
    confirm = api(user, "post", f"{BASE}/complaints/{created['id']}/confirm", json={})
    assert confirm.status_code == 409


def test_reopen_sends_it_back_to_the_department_with_a_fresh_limit(
    api, tree, category, department, author, staff_a, freeze
):
    dept, handler = department
    user, _ = author
    freeze(at(MONDAY, 10))
    created = submit(api, user, tree)
    api(staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/dispatch", json={"department_id": dept.public_id})
    api(handler, "post", f"{BASE}/manage/complaints/{created['id']}/reply", json={"text": "已处理"})
    freeze(at(MONDAY + timedelta(days=2), 9))  # Wednesday
    reopened = api(user, "post", f"{BASE}/complaints/{created['id']}/reopen", json={"reason": "昨晚依旧很吵"})
    assert reopened.status_code == 200, reopened.json
    assert reopened.json["status"] == "dispatched"
    assert reopened.json["reopen_count"] == 1
    assert reopened.json["due_on"] == "2026-11-30"  # Thu, Fri, Mon
    # Still the department's to answer.
    assert (
        api(handler, "post", f"{BASE}/manage/complaints/{created['id']}/reply", json={"text": "已二次约谈"}).status_code
        == 200
    )


def test_overdue_complaints_escalate_to_the_street_once(
    api, tree, category, department, author, staff_a, freeze, make_staff
):
    dept, _handler = department
    user, _ = author
    freeze(at(MONDAY, 10))
    created = submit(api, user, tree)
    api(staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/dispatch", json={"department_id": dept.public_id})
    freeze(at(date(2026, 11, 26), 20))  # the last day: not yet overdue
    assert complaints.escalate_overdue() == 0
    freeze(at(date(2026, 11, 27), 9))
    assert complaints.escalate_overdue() == 1
    assert complaints.escalate_overdue() == 0
    row = database.session.scalar(sa.select(Complaint).where(Complaint.public_id == created["id"]))
    assert row.escalated_region_id == tree.street.id

    street_staff = make_staff(tree.street)
    overdue = api(street_staff, "get", f"{BASE}/manage/complaints", query_string={"escalated": "true"})
    assert [r["id"] for r in overdue.json] == [created["id"]]
    assert overdue.json[0]["remaining_workdays"] == -1
    assert api(staff_a, "get", f"{BASE}/manage/complaints", query_string={"overdue": "true"}).json[0]["escalated"]


def test_answers_left_unconfirmed_close_after_the_confirmation_period(api, tree, category, author, staff_a, freeze):
    user, _ = author
    freeze(at(MONDAY, 10))
    created = submit(api, user, tree)
    api(staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/accept", json={})
    api(staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/reply", json={"text": "已处理完毕"})
    freeze(at(MONDAY + timedelta(days=6), 10))
    assert complaints.close_unconfirmed() == 0
    freeze(at(MONDAY + timedelta(days=8), 10))
    assert complaints.close_unconfirmed() == 1
    assert api(user, "get", f"{BASE}/complaints/{created['id']}").json["status"] == "resolved"


def test_dispatch_to_a_grid_worker_who_replies(api, tree, category, author, staff_a, make_staff):
    user, _ = author
    worker = make_staff(tree.a, role="grid_worker")
    other_worker = make_staff(tree.b, role="grid_worker")
    created = submit(api, user, tree)
    wrong = api(
        staff_a,
        "post",
        f"{BASE}/manage/complaints/{created['id']}/dispatch",
        json={"grid_worker_id": other_worker.public_id},
    )
    assert wrong.status_code == 404
    assert wrong.json["code"] == "grid_worker_not_found"
    both = api(staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/dispatch", json={})
    assert both.status_code == 422
    assert both.json["code"] == "handler_required"
    ok = api(
        staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/dispatch", json={"grid_worker_id": worker.public_id}
    )
    assert ok.status_code == 200
    assert ok.json["grid_worker"]["id"] == worker.public_id
    assert ok.json["due_on"] is not None  # dispatching straight from 待受理 accepts it
    assert (
        api(worker, "post", f"{BASE}/manage/complaints/{created['id']}/reply", json={"text": "已上门协调"}).status_code
        == 200
    )


def test_who_sees_what(api, tree, category, department, author, staff_a, staff_b, make_resident, make_user):
    dept, handler = department
    user, _ = author
    created = submit(api, user, tree)
    other_user, _ = make_resident("王五", community=tree.a, sequence="992")
    stranger = make_user("别的部门")
    with atomic():
        other = Department(region_id=tree.street.id, name="民政科", code="MZ")
        database.session.add(other)
        database.session.flush()
        database.session.add(
            RoleAssignment(user_id=stranger.id, role="handler", scope_kind="department", scope_id=other.id)
        )

    assert api(other_user, "get", f"{BASE}/complaints/{created['id']}").status_code == 404
    assert api(staff_b, "get", f"{BASE}/manage/complaints/{created['id']}").status_code == 404
    assert api(staff_b, "post", f"{BASE}/manage/complaints/{created['id']}/accept", json={}).status_code == 404
    assert api(staff_b, "get", f"{BASE}/manage/complaints").json == []
    assert api(None, "get", f"{BASE}/manage/complaints").status_code == 401
    # A resident cannot work the worklist.
    assert api(user, "post", f"{BASE}/manage/complaints/{created['id']}/accept", json={}).status_code == 404

    api(staff_a, "post", f"{BASE}/manage/complaints/{created['id']}/dispatch", json={"department_id": dept.public_id})
    assert api(stranger, "get", f"{BASE}/manage/complaints/{created['id']}").status_code == 404
    assert (
        api(stranger, "post", f"{BASE}/manage/complaints/{created['id']}/reply", json={"text": "越权答复"}).status_code
        == 404
    )
    assert api(handler, "get", f"{BASE}/manage/complaints/{created['id']}").status_code == 200
    # The handler of the department answers but may not re-dispatch (a staff action): 403 inside, not 404.
    redispatch = api(
        handler, "post", f"{BASE}/manage/complaints/{created['id']}/dispatch", json={"department_id": dept.public_id}
    )
    assert redispatch.status_code == 403

    staff_view = api(staff_a, "get", f"{BASE}/manage/complaints/{created['id']}").json
    assert staff_view["contact"]["name"] == "李四"


def test_only_residents_of_the_community_submit(api, tree, category, make_resident):
    user, _ = make_resident("外人", community=tree.c, sequence="993")
    response = api(
        user,
        "post",
        f"{BASE}/complaints",
        json={"community_id": tree.a.public_id, "category": "noise", "description": "路过看到垃圾没清运"},
    )
    assert response.status_code == 422
    assert response.json["code"] == "not_a_community_member"
    # A category of another district is not offered in community A.
    with atomic():
        database.session.add(ComplaintCategory(region_id=tree.other_district.id, code="far", name="远方分类"))
    mine, _ = make_resident("本社区", community=tree.a, sequence="994")
    far = api(
        mine,
        "post",
        f"{BASE}/complaints",
        json={"community_id": tree.a.public_id, "category": "far", "description": "测试别区的分类"},
    )
    assert far.status_code == 404
    assert far.json["code"] == "complaint_category_not_found"
    listed = api(None, "get", f"{BASE}/complaint-categories", query_string={"community_id": tree.a.public_id})
    assert [c["code"] for c in listed.json] == ["noise"]


def test_worklist_statements_do_not_grow_with_page_size(
    api, tree, category, department, author, staff_a, count_queries
):
    dept, _ = department
    user, _ = author
    for n in range(12):
        created = submit(api, user, tree, description=f"第{n}次反映：夜间施工噪音")
        if n % 2:
            api(
                staff_a,
                "post",
                f"{BASE}/manage/complaints/{created['id']}/dispatch",
                json={"department_id": dept.public_id},
            )
    sizes = {}
    for size in (2, 12):
        with count_queries() as queries:
            response = api(staff_a, "get", f"{BASE}/manage/complaints", query_string={"page_size": size})
        assert response.status_code == 200
        assert len(response.json) == size
        sizes[size] = len(queries)
    assert sizes[2] == sizes[12]


def test_staff_edit_categories_of_their_region_only(api, tree, staff_a, make_staff):
    street_staff = make_staff(tree.street)
    made = api(
        street_staff,
        "post",
        f"{BASE}/manage/regions/{tree.street.public_id}/complaint-categories",
        json={"code": "parking", "name": "乱停车", "time_limit_days": 2},
    )
    assert made.status_code == 201, made.json
    assert (
        api(
            street_staff,
            "post",
            f"{BASE}/manage/regions/{tree.street.public_id}/complaint-categories",
            json={"code": "parking", "name": "重复"},
        ).status_code
        == 409
    )
    # Community staff may not edit the street's category (403: inside their tree's reach? no: outside → 404).
    assert (
        api(
            staff_a, "patch", f"{BASE}/manage/complaint-categories/{made.json['id']}", json={"name": "改名"}
        ).status_code
        == 404
    )
    bad = api(
        street_staff,
        "post",
        f"{BASE}/manage/regions/{tree.street.public_id}/complaint-categories",
        json={"code": "Bad Code!", "name": "x", "time_limit_days": 0},
    )
    assert bad.status_code == 422
    assert set(bad.json["details"]["fields"]["json"]) == {"code", "time_limit_days"}


def test_two_staff_accepting_at_once_accept_once(app, committed_db):
    tree = build_tree()
    with atomic():
        category = ComplaintCategory(region_id=tree.street.id, code="road", name="道路破损")
        database.session.add(category)
        database.session.flush()
        from app.accounts.resident_models import Resident

        resident = Resident(real_name="居民", registered_community_id=tree.a.id)
        database.session.add(resident)
        database.session.flush()
        row = Complaint(
            community_id=tree.a.id, category_id=category.id, resident_id=resident.id, description="人行道砖块松动"
        )
        database.session.add(row)
        staff = [User(display_name=f"工作人员{n}") for n in range(8)]
        database.session.add_all(staff)
        database.session.flush()
        database.session.add_all(
            RoleAssignment(user_id=u.id, role="staff", scope_kind="community", scope_id=tree.a.id) for u in staff
        )
    staff_ids = iter([u.id for u in staff])
    public_id = row.public_id

    def accept():
        user = database.session.get(User, next(staff_ids))
        try:
            complaints.accept(user, public_id)
        except APIError as error:
            return error.code
        return "ok"

    results = race(app, 8, accept)
    assert sorted(results) == ["complaint_state_conflict"] * 7 + ["ok"]
    with app.app_context():
        events = database.session.scalars(
            sa.select(ComplaintEvent.action)
            .join(Complaint, Complaint.id == ComplaintEvent.complaint_id)
            .where(Complaint.public_id == public_id)
        ).all()
    assert events == ["accept"]
