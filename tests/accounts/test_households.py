"""Household memberships: joining needs the head's or staff's approval, moving out ends it, outsiders see nothing."""

import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.households import decide_join
from app.accounts.resident_models import HouseholdMembership, MembershipRole, MembershipStatus
from app.accounts.residents import today
from app.audit import AuditEntry
from app.errors import APIError
from app.extensions import db as database

HOUSEHOLDS = "/api/v1/community/households"


@pytest.fixture
def family(tree, make_resident, join):
    """Room A-101 with a head (account) and a family member; a stranger with an account and no household."""
    head_user, head = make_resident("户主张", sequence="991")
    member_user, member = make_resident("家属李", born=date(1992, 2, 2), sequence="992")
    stranger_user, stranger = make_resident("陌生人", born=date(1985, 5, 5), sequence="993")
    join(head, tree.rooms_a["101"], "head")
    join(member, tree.rooms_a["101"], "family")
    return head_user, member_user, stranger_user, stranger


def _join(api, user, household, role="family"):
    return api(user, "post", f"{HOUSEHOLDS}/{household.public_id}/join", json={"role": role})


def test_members_see_their_household_with_masked_co_members(tree, family, api):
    _head_user, member_user, _stranger_user, _stranger = family
    response = api(member_user, "get", f"{HOUSEHOLDS}/{tree.rooms_a['101'].public_id}")
    assert response.status_code == 200
    assert response.json["view"] == "member"
    assert sorted(m["name"] for m in response.json["members"]) == ["家**", "户**"]


def test_a_resident_cannot_read_another_households_data(tree, family, api):
    _head_user, _member_user, stranger_user, _stranger = family
    for path in ("", "/memberships"):
        response = api(stranger_user, "get", f"{HOUSEHOLDS}/{tree.rooms_a['101'].public_id}{path}")
        assert (response.status_code, response.json["code"]) == (404, "household_not_found")


def test_a_pending_applicant_sees_nothing_until_the_head_approves(tree, family, api):
    head_user, _member_user, stranger_user, _stranger = family
    room = tree.rooms_a["101"]
    request = _join(api, stranger_user, room, "tenant")
    assert request.status_code == 201
    assert request.json["status"] == "pending"
    assert set(request.json["household"]) == {"id", "address"}  # the address they chose, no members
    assert api(stranger_user, "get", f"{HOUSEHOLDS}/{room.public_id}").status_code == 404

    pending = api(head_user, "get", f"{HOUSEHOLDS}/{room.public_id}").json["members"]
    assert [m["status"] for m in pending if m["role"] == "tenant"] == ["pending"]
    approved = api(head_user, "post", f"/api/v1/memberships/{request.json['id']}/approve", json={})
    assert approved.status_code == 200
    assert (approved.json["status"], approved.json["starts_on"]) == ("active", today().isoformat())
    assert api(stranger_user, "get", f"{HOUSEHOLDS}/{room.public_id}").json["view"] == "member"
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "household.join.approve"))
    assert entry.after == {"via": "head"}


def test_asking_twice_is_409(tree, family, api):
    _head, _member, stranger_user, _stranger = family
    assert _join(api, stranger_user, tree.rooms_a["101"]).status_code == 201
    again = _join(api, stranger_user, tree.rooms_a["101"])
    assert (again.status_code, again.json["code"]) == (409, "already_member")


def test_joining_needs_ones_details_first(tree, make_user, api):
    response = _join(api, make_user("没实名"), tree.rooms_a["102"])
    assert (response.status_code, response.json["code"]) == (409, "resident_profile_required")


def test_who_may_decide(tree, family, make_staff, api):
    head_user, member_user, stranger_user, _stranger = family
    request = _join(api, stranger_user, tree.rooms_a["101"]).json["id"]
    own = api(stranger_user, "post", f"/api/v1/memberships/{request}/approve", json={})
    assert own.status_code == 403
    family_member = api(member_user, "post", f"/api/v1/memberships/{request}/approve", json={})
    assert family_member.status_code == 403
    other_staff = api(make_staff(tree.b), "post", f"/api/v1/memberships/{request}/approve", json={})
    assert (other_staff.status_code, other_staff.json["code"]) == (404, "membership_not_found")
    grid = api(make_staff(tree.a, "grid_worker"), "post", f"/api/v1/memberships/{request}/approve", json={})
    assert grid.status_code == 403
    rejected = api(make_staff(tree.a), "post", f"/api/v1/memberships/{request}/reject", json={"note": "非本户人员"})
    assert rejected.json["status"] == "rejected"
    late = api(head_user, "post", f"/api/v1/memberships/{request}/approve", json={})
    assert (late.status_code, late.json["code"]) == (409, "membership_not_pending")


def test_a_head_request_needs_staff_and_one_household_has_one_head(tree, family, make_resident, make_staff, api):
    head_user, _member_user, stranger_user, _stranger = family
    request = _join(api, stranger_user, tree.rooms_a["101"], "head").json["id"]
    assert api(head_user, "post", f"/api/v1/memberships/{request}/approve", json={}).status_code == 403
    clash = api(make_staff(tree.a), "post", f"/api/v1/memberships/{request}/approve", json={})
    assert (clash.status_code, clash.json["code"]) == (409, "household_has_head")


def test_moving_out_ends_the_membership_and_drops_the_resident_from_staff_scope(tree, family, make_staff, api):
    _head_user, member_user, _stranger_user, _stranger = family
    staff = make_staff(tree.a)
    membership = api(member_user, "get", "/api/v1/me/memberships").json[0]
    resident_id = api(member_user, "get", "/api/v1/me").json["resident"]["id"]
    assert api(staff, "get", f"/api/v1/residents/{resident_id}").status_code == 200

    future = api(member_user, "post", f"/api/v1/memberships/{membership['id']}/end", json={"ends_on": "2999-01-01"})
    assert future.status_code == 422
    ended = api(member_user, "post", f"/api/v1/memberships/{membership['id']}/end", json={})
    assert (ended.json["status"], ended.json["ends_on"]) == ("ended", today().isoformat())

    assert api(member_user, "get", f"{HOUSEHOLDS}/{tree.rooms_a['101'].public_id}").status_code == 404
    assert api(member_user, "get", "/api/v1/me/memberships").json == []
    assert api(member_user, "get", "/api/v1/me").json["households"] == []
    assert api(staff, "get", f"/api/v1/residents/{resident_id}").status_code == 404
    members = api(staff, "get", f"{HOUSEHOLDS}/{tree.rooms_a['101'].public_id}/memberships").json
    assert "家属李" not in [m["name"] for m in members]
    history = api(
        staff, "get", f"{HOUSEHOLDS}/{tree.rooms_a['101'].public_id}/memberships", query_string={"history": "true"}
    ).json
    assert [m["status"] for m in history if m["name"] == "家属李"] == ["ended"]
    again = api(member_user, "post", f"/api/v1/memberships/{membership['id']}/end", json={})
    assert (again.status_code, again.json["code"]) == (409, "membership_not_active")


def test_the_head_can_move_a_member_out_but_a_stranger_cannot(tree, family, api):
    head_user, member_user, stranger_user, _stranger = family
    membership = api(member_user, "get", "/api/v1/me/memberships").json[0]["id"]
    assert api(stranger_user, "post", f"/api/v1/memberships/{membership}/end", json={}).status_code == 404
    yesterday = (today() - timedelta(days=1)).isoformat()
    ended = api(head_user, "post", f"/api/v1/memberships/{membership}/end", json={"ends_on": yesterday})
    assert ended.json["ends_on"] == yesterday


def test_an_applicant_withdraws_a_pending_request(tree, family, api):
    _head, _member, stranger_user, _stranger = family
    request = _join(api, stranger_user, tree.rooms_a["101"]).json["id"]
    withdrawn = api(stranger_user, "post", f"/api/v1/memberships/{request}/end", json={})
    assert withdrawn.json["status"] == "cancelled"
    assert _join(api, stranger_user, tree.rooms_a["101"]).status_code == 201  # may ask again


def test_staff_add_a_checked_resident_directly(tree, make_resident, make_staff, api):
    _u, resident = make_resident("直接入户", community=tree.a)
    staff = make_staff(tree.a)
    response = api(
        staff,
        "post",
        f"{HOUSEHOLDS}/{tree.rooms_a['102'].public_id}/memberships",
        json={"resident_id": resident.public_id, "role": "tenant"},
    )
    assert response.status_code == 201
    assert response.json["status"] == "active"
    outsider = api(
        make_staff(tree.b),
        "post",
        f"{HOUSEHOLDS}/{tree.rooms_a['102'].public_id}/memberships",
        json={"resident_id": resident.public_id, "role": "tenant"},
    )
    assert outsider.status_code == 404


def test_two_concurrent_approvals_of_one_request_make_one_membership(committed_db, app, make_user, make_resident):
    """The head and staff click together: exactly one decision wins (conditional UPDATE … WHERE status = pending)."""
    from app.accounts.households import request_join
    from app.auth.models import RoleAssignment
    from app.community.models import Building, Estate, Household, Region, RegionKind
    from app.db import atomic

    with atomic():
        district = Region(kind=RegionKind.district, name="并发区")
        committed_db.session.add(district)
        committed_db.session.flush()
        street = Region(kind=RegionKind.street, name="并发街道", parent_id=district.id, parent_kind="district")
        committed_db.session.add(street)
        committed_db.session.flush()
        community = Region(kind=RegionKind.community, name="并发社区", parent_id=street.id, parent_kind="street")
        committed_db.session.add(community)
        committed_db.session.flush()
        estate = Estate(community_id=community.id, name="并发小区")
        committed_db.session.add(estate)
        committed_db.session.flush()
        building = Building(estate_id=estate.id, community_id=community.id, name="1号楼")
        committed_db.session.add(building)
        committed_db.session.flush()
        household = Household(building_id=building.id, community_id=community.id, room="101")
        committed_db.session.add(household)
        committed_db.session.flush()
    deciders = []
    for n in range(8):
        user = make_user(f"工作人员{n}")
        with atomic():
            committed_db.session.add(
                RoleAssignment(user_id=user.id, role="staff", scope_kind="community", scope_id=community.id)
            )
        deciders.append(user.id)
    applicant, _resident = make_resident("申请人")
    membership = request_join(applicant, household.public_id, role=MembershipRole.family)
    membership_id = membership.public_id
    committed_db.session.remove()

    barrier = threading.Barrier(len(deciders))
    outcomes: list[str] = []
    lock = threading.Lock()

    def decide(user_id: int) -> None:
        from app.accounts.models import User

        with app.app_context():
            try:
                user = committed_db.session.get(User, user_id)
                barrier.wait(timeout=10)
                decide_join(user, membership_id, approve=True)
                outcome = "approved"
            except APIError as exc:
                outcome = exc.code
            finally:
                committed_db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=decide, args=(user_id,)) for user_id in deciders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["approved"] + ["membership_not_pending"] * (len(deciders) - 1)
    statuses = committed_db.session.scalars(sa.select(HouseholdMembership.status)).all()
    assert statuses == [MembershipStatus.active]
    approvals = committed_db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "household.join.approve")
    )
    assert approvals == 1
