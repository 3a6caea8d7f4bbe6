"""Cross-tenant factories for the platform core (see world.py): auth sessions, /me, files, the calendar, push, the
community tree, residents, households, memberships, delegations and tags, and the platform admins' pages.

Who is who here:

- The tree of community A is staff work: ``staff_a`` manages it, ``grid_a`` may read but not manage (403), and a
  resident (``owner``) holds no role anywhere, so staff work is outside their tenancy (404). A role over the street
  covers its communities: a community made under the street is managed by ``street_staff`` and is outside both
  ``staff_a``'s and ``staff_b``'s scope.
- A region itself (rename, 区划代码, delete) is changed by staff of the region above it, as creating it was: its own
  staff see it but are below that (403). Roles over a region are given by an ``admin`` of it (``roles.manage``):
  community staff and grid workers are below that (403).
- A household is its members' and the staff's of its community; a membership and a delegation are their parties'.
- ``/admin/*`` and the calendar overrides are platform-admin pages with no tenancy: every other account is below
  the role (403), whichever community it belongs to.
"""

from __future__ import annotations

import io
import itertools
from datetime import date, timedelta

import sqlalchemy as sa

from app.accounts.consent import POLICY_VERSIONS
from app.accounts.resident_models import ConsentKind
from app.db import atomic, utcnow
from app.extensions import db as database
from tests.fault.tenant.world import OUTSIDERS, Case, World, exempt, resource

V1 = "/api/v1"
C = f"{V1}/community"
_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


# --- the cast beyond world.py --------------------------------------------------------------------------------------


def _staff(world: World, region: str, role: str):
    return world.once(f"core:{role}@{region}", lambda: world.make_staff(getattr(world.tree, region), role))


def _resident(world: World, name: str, *, account: bool = True, community=None):
    """A fresh resident (unique document number) with or without an account: (user, resident)."""
    born = date(1940, 1, 1) + timedelta(days=_n())
    return world.make_resident(name, born=born, sequence="971", account=account, community=community)


def _resident_in_a(world: World, *, account: bool = False):
    """A fresh resident registered in community A (an outsider's data for everyone but A's staff): (user, resident)."""
    return _resident(world, f"居民{_n()}", account=account, community=world.tree.a)


def _registered_in_a(world: World):
    """A fresh resident registered by A's staff, without an account (an elder without a phone)."""
    return _resident_in_a(world)[1]


def _user(world: World, name: str):
    return world.make_user(f"{name}{_n()}")


# --- community tree ------------------------------------------------------------------------------------------------

_DIRECTORY = OUTSIDERS  # names of the tree are for every signed-in account (x-access: "names only, nothing personal")


def _directory(params: dict) -> Case:
    # The directory (names of regions, estates, buildings, units, rooms) is readable by every signed-in account, so
    # that anyone can find and ask to join their home; it carries nothing personal.
    return Case(params, visible_to=_DIRECTORY)


def _manage(world: World, params: dict, body: dict | None = None, *, query: dict | None = None) -> Case:
    # community.manage is for staff and admins of the community: its grid worker is below that (403); a resident or
    # staff of community B hold no role over A (404).
    return Case(params, owner="staff_a", body=body, query=query, forbidden=("grid_a",), outsiders=("owner",))


def _estate(world: World) -> str:
    body = {"name": f"新建小区{_n()}"}
    return world.ok("staff_a", "post", f"{C}/regions/{world.tree.a.public_id}/estates", json=body, status=201)["id"]


def _building(world: World) -> str:
    path = f"{C}/estates/{world.tree.estate_a.public_id}/buildings"
    return world.ok("staff_a", "post", path, json={"name": f"{_n()}号楼"}, status=201)["id"]


def _unit(world: World) -> str:
    path = f"{C}/buildings/{world.tree.building_a.public_id}/units"
    return world.ok("staff_a", "post", path, json={"name": f"{_n()}单元"}, status=201)["id"]


def _household(world: World) -> str:
    """A fresh room of A's building 1, nobody's home yet."""
    body = {"room": f"{900 + _n()}", "unit_id": world.tree.unit_a.public_id, "floor": 9, "floor_area_dm2": 9000}
    path = f"{C}/buildings/{world.tree.building_a.public_id}/households"
    return world.ok("staff_a", "post", path, json=body, status=201)["id"]


def _home(world: World) -> str:
    """A fresh room where the owner lives (a member, not the head: what a member may read, the head may too)."""
    from app.community.services import get_household

    household_id = _household(world)
    world.join(world.owner_resident, get_household(household_id), "family")
    return household_id


def _street_community(world: World) -> tuple[str, Case]:
    """A community made under the street by the street's staff: theirs to manage, outside staff_a's and staff_b's."""
    street_staff = _staff(world, "street", "staff")
    body = {"kind": "community", "name": f"新社区{_n()}", "parent_id": world.tree.street.public_id}
    region_id = world.ok(street_staff, "post", f"{C}/regions", json=body, status=201)["id"]
    from app.community.services import get_region

    # The street's grid worker covers the new community too, but may not manage it (403); the community's own staff
    # see it but may not rename or delete the region they serve: that is the street's, as creating it was (403).
    case = Case(
        {"region_id": region_id},
        owner="street_staff",
        forbidden=("street_grid", "own_staff"),
        outsiders=("owner", "staff_a"),
        extra={
            "street_staff": street_staff,
            "street_grid": _staff(world, "street", "grid_worker"),
            "own_staff": world.make_staff(get_region(region_id), "staff", name=f"新社区工作人员{_n()}"),
        },
    )
    return region_id, case


@resource(f"{C}/regions/{{region_id}}", "get")
@resource(f"{C}/regions/{{region_id}}/estates", "get")
def region_directory(world: World, method: str) -> Case:
    return _directory({"region_id": world.tree.a.public_id})


@resource(f"{C}/regions/{{region_id}}", ("patch", "delete"))
def region_manage(world: World, method: str) -> Case:
    _region_id, case = _street_community(world)
    if method == "patch":
        case.body = {"name": f"改名社区{_n()}"}
    return case


@resource(f"{C}/regions/{{region_id}}/estates", "post")
def region_add_estate(world: World, method: str) -> Case:
    return _manage(world, {"region_id": world.tree.a.public_id}, {"name": f"新建小区{_n()}", "kind": "estate"})


def _roles_case(world: World, body: dict | None = None, query: dict | None = None) -> Case:
    # roles.manage belongs to admins of the region: its staff and grid workers are below that (403), staff of B and
    # residents hold no role over A (404).
    admin_a = _staff(world, "a", "admin")
    return Case(
        {"region_id": world.tree.a.public_id},
        owner="admin_a",
        body=body,
        query=query,
        forbidden=("staff_a", "grid_a"),
        outsiders=("owner",),
        extra={"admin_a": admin_a},
    )


@resource(f"{C}/regions/{{region_id}}/roles", "get")
def region_roles(world: World, method: str) -> Case:
    # community.read: staff and grid workers of A may see who holds which role there.
    return Case({"region_id": world.tree.a.public_id}, owner="staff_a", outsiders=("owner",))


@resource(f"{C}/regions/{{region_id}}/roles", "post")
def region_role_assign(world: World, method: str) -> Case:
    return _roles_case(world, body={"user_id": _user(world, "新网格员").public_id, "role": "grid_worker"})


@resource(f"{C}/regions/{{region_id}}/roles", "delete")
def region_role_remove(world: World, method: str) -> Case:
    newcomer = world.make_staff(world.tree.a, "grid_worker", name=f"待调走网格员{_n()}")
    return _roles_case(world, query={"user_id": newcomer.public_id, "role": "grid_worker"})


@resource(f"{C}/estates/{{estate_id}}", "get")
@resource(f"{C}/estates/{{estate_id}}/buildings", "get")
def estate_directory(world: World, method: str) -> Case:
    return _directory({"estate_id": world.tree.estate_a.public_id})


@resource(f"{C}/estates/{{estate_id}}", ("patch", "delete"))
def estate_manage(world: World, method: str) -> Case:
    body = {"name": f"改名小区{_n()}", "address": "幸福路 1 号"} if method == "patch" else None
    return _manage(world, {"estate_id": _estate(world)}, body)


@resource(f"{C}/estates/{{estate_id}}/buildings", "post")
def estate_add_building(world: World, method: str) -> Case:
    return _manage(world, {"estate_id": _estate(world)}, {"name": f"{_n()}号楼", "floors": 6})


@resource(f"{C}/estates/{{estate_id}}/import", "post")
def estate_import(world: World, method: str) -> Case:
    case = _manage(world, {"estate_id": _estate(world)}, {})
    # The matrix sends JSON and the import takes CSV: the owner's call is the clear 422 `import_failed`; importing a
    # real file is tests/community/test_import.py. What matters here: nobody else learns anything (404/403 first).
    case.owner_status = 422
    return case


@resource(f"{C}/buildings/{{building_id}}", "get")
@resource(f"{C}/buildings/{{building_id}}/units", "get")
@resource(f"{C}/buildings/{{building_id}}/households", "get")
def building_directory(world: World, method: str) -> Case:
    return _directory({"building_id": world.tree.building_a.public_id})


@resource(f"{C}/buildings/{{building_id}}", ("patch", "delete"))
def building_manage(world: World, method: str) -> Case:
    body = {"name": f"{_n()}号楼", "floors": 11} if method == "patch" else None
    return _manage(world, {"building_id": _building(world)}, body)


@resource(f"{C}/buildings/{{building_id}}/units", "post")
def building_add_unit(world: World, method: str) -> Case:
    return _manage(world, {"building_id": _building(world)}, {"name": f"{_n()}单元"})


@resource(f"{C}/buildings/{{building_id}}/households", "post")
def building_add_household(world: World, method: str) -> Case:
    return _manage(world, {"building_id": _building(world)}, {"room": f"{100 + _n()}", "floor": 1})


@resource(f"{C}/units/{{unit_id}}", "get")
def unit_directory(world: World, method: str) -> Case:
    return _directory({"unit_id": world.tree.unit_a.public_id})


@resource(f"{C}/units/{{unit_id}}", ("patch", "delete"))
def unit_manage(world: World, method: str) -> Case:
    body = {"name": f"{_n()}单元"} if method == "patch" else None
    return _manage(world, {"unit_id": _unit(world)}, body)


# --- households and memberships ------------------------------------------------------------------------------------


@resource(f"{C}/households/{{household_id}}", "get")
@resource(f"{C}/households/{{household_id}}/memberships", "get")
def household_read(world: World, method: str) -> Case:
    # A household is its members' and its community's staff's (grid workers read it too); the owner's delegate for
    # notices is no member (404).
    return Case({"household_id": _home(world)}, outsiders=("delegate",))


@resource(f"{C}/households/{{household_id}}", ("patch", "delete"))
def household_manage(world: World, method: str) -> Case:
    body = {"floor": 9, "floor_area_dm2": 10250} if method == "patch" else None
    return _manage(world, {"household_id": _household(world)}, body)


@resource(f"{C}/households/{{household_id}}/join", "post")
def household_join(world: World, method: str) -> Case:
    # Anyone signed in may ask to join a room (that is how one finds one's home): the answer names only the address
    # they chose, and the household stays hidden until the head or staff approve. So no caller is an outsider here.
    return Case({"household_id": _household(world)}, body={"role": "family", "note": "刚搬来"}, visible_to=OUTSIDERS)


@resource(f"{C}/households/{{household_id}}/memberships", "post")
def household_add_member(world: World, method: str) -> Case:
    newcomer = _registered_in_a(world)
    body = {"resident_id": newcomer.public_id, "role": "family"}
    return _manage(world, {"household_id": _household(world)}, body)


def _join_request(world: World) -> tuple[str, object]:
    """A fresh resident asks (through the API) to join the owner's home, room 101, where the owner is the head."""
    applicant = _resident(world, f"申请人{_n()}")[0]
    household_id = world.tree.rooms_a["101"].public_id
    body = {"role": "family"}
    membership = world.ok(applicant, "post", f"{C}/households/{household_id}/join", json=body, status=201)
    return membership["id"], applicant


@resource(f"{V1}/memberships/{{membership_id}}/approve", "post")
@resource(f"{V1}/memberships/{{membership_id}}/reject", "post")
def membership_decide(world: World, method: str) -> Case:
    # The head of the household decides (or staff): the applicant and A's grid worker see the request but may not
    # decide (403); the neighbour, staff of B and another vendor know nothing of it (404).
    membership_id, applicant = _join_request(world)
    return Case(
        {"membership_id": membership_id},
        body={"note": "是我家人"},
        forbidden=("applicant", "grid_a"),
        outsiders=("delegate",),
        extra={"applicant": applicant},
    )


@resource(f"{V1}/memberships/{{membership_id}}/end", "post")
def membership_end(world: World, method: str) -> Case:
    # The head (the owner) may move a member out; A's grid worker may read the household but not decide (403).
    member = _resident(world, f"家属{_n()}", account=False, community=world.tree.a)[1]
    membership = world.join(member, world.tree.rooms_a["101"], "family")
    return Case(
        {"membership_id": membership.public_id},
        body={"note": "已搬走"},
        forbidden=("grid_a",),
        outsiders=("delegate",),
    )


# --- delegations ---------------------------------------------------------------------------------------------------


def _delegation_for_owner(world: World):
    """A fresh family member of room 101 asks (through the API) to act for the owner: pending, the owner decides."""
    child, child_resident = _resident(world, f"子女{_n()}")
    world.join(child_resident, world.tree.rooms_a["101"], "family")
    body = {"subject_id": world.owner_resident.public_id, "relationship": "child", "scopes": ["appointments"]}
    delegation = world.ok(child, "post", f"{V1}/delegations", json=body, status=201)
    return delegation["id"], child


@resource(f"{V1}/delegations/{{delegation_id}}", "get")
def delegation_read(world: World, method: str) -> Case:
    # Its parties and staff over them (grid workers read residents); the owner's other delegate is no party (404).
    delegation_id, _child = _delegation_for_owner(world)
    return Case({"delegation_id": delegation_id}, outsiders=("delegate",))


@resource(f"{V1}/delegations/{{delegation_id}}/approve", "post")
@resource(f"{V1}/delegations/{{delegation_id}}/reject", "post")
def delegation_decide(world: World, method: str) -> Case:
    # The subject (the owner) decides in the app; the one who asked may not approve their own request, nor may A's
    # grid worker (403).
    delegation_id, child = _delegation_for_owner(world)
    return Case(
        {"delegation_id": delegation_id},
        body={"note": "同意"},
        forbidden=("child", "grid_a"),
        outsiders=("delegate",),
        extra={"child": child},
    )


@resource(f"{V1}/delegations/{{delegation_id}}/revoke", "post")
def delegation_revoke(world: World, method: str) -> Case:
    # Either party may revoke; A's grid worker sees it but may not decide (403).
    delegation_id, _child = _delegation_for_owner(world)
    body = {"note": "不再需要"}
    return Case({"delegation_id": delegation_id}, body=body, forbidden=("grid_a",), outsiders=("delegate",))


# --- residents (staff) ---------------------------------------------------------------------------------------------


def _staff_resident(world: World, params: dict, *, action: str, body=None, query=None) -> Case:
    # Residents of A are read by A's staff and grid workers (resident.read); every other action on them is for staff
    # and admins (grid worker → 403). A resident and staff of B hold no role over them (404).
    forbidden = () if action == "read" else ("grid_a",)
    return Case(params, owner="staff_a", body=body, query=query, forbidden=forbidden, outsiders=("owner", "delegate"))


@resource(f"{V1}/residents/{{resident_id}}", ("get", "patch"))
def resident_staff(world: World, method: str) -> Case:
    resident = _registered_in_a(world)
    body = {"real_name": "王改名", "reason": "登记时写错了名字"} if method == "patch" else None
    return _staff_resident(
        world, {"resident_id": resident.public_id}, action="read" if method == "get" else "update", body=body
    )


@resource(f"{V1}/residents/{{resident_id}}/delegations", "get")
def resident_delegations(world: World, method: str) -> Case:
    resident = _registered_in_a(world)
    return _staff_resident(world, {"resident_id": resident.public_id}, action="read")


@resource(f"{V1}/residents/{{resident_id}}/verification", "post")
def resident_verify(world: World, method: str) -> Case:
    user, resident = _resident_in_a(world, account=True)
    world.ok(user, "post", f"{V1}/me/resident/verification", json={"community_id": world.tree.a.public_id})
    return _staff_resident(
        world, {"resident_id": resident.public_id}, action="verify", body={"approve": True, "note": "已核对身份证"}
    )


@resource(f"{V1}/residents/{{resident_id}}/sensitive", "get")
def resident_reveal(world: World, method: str) -> Case:
    resident = _registered_in_a(world)
    query = {"reason": "办理低保核对"}
    return _staff_resident(world, {"resident_id": resident.public_id}, action="unmask", query=query)


@resource(f"{V1}/residents/{{resident_id}}/account", "post")
def resident_link_account(world: World, method: str) -> Case:
    resident = _registered_in_a(world)
    account = _user(world, "老人的新账号")
    body = {"user_id": account.public_id, "reason": "本人持身份证到社区办理"}
    return _staff_resident(world, {"resident_id": resident.public_id}, action="update", body=body)


def _consented(world: World, resident) -> None:
    body = {"kind": "sensitive_data", "policy_version": POLICY_VERSIONS[ConsentKind.sensitive_data]}
    world.ok("staff_a", "post", f"{V1}/residents/{resident.public_id}/consents", json=body, status=201)


@resource(f"{V1}/residents/{{resident_id}}/health-notes", "put")
def resident_health_notes(world: World, method: str) -> Case:
    resident = _registered_in_a(world)
    _consented(world, resident)
    body = {"notes": "高血压，按时服药"}
    return _staff_resident(world, {"resident_id": resident.public_id}, action="update", body=body)


@resource(f"{V1}/residents/{{resident_id}}/consents", "post")
def resident_consent(world: World, method: str) -> Case:
    resident = _registered_in_a(world)
    body = {"kind": "sensitive_data", "policy_version": POLICY_VERSIONS[ConsentKind.sensitive_data]}
    return _staff_resident(world, {"resident_id": resident.public_id}, action="update", body=body)


@resource(f"{V1}/residents/{{resident_id}}/tags", "post")
def resident_tag_add(world: World, method: str) -> Case:
    resident = _registered_in_a(world)
    body = {"tag_id": "tag-living_alone", "reason": "子女在外地"}
    return _staff_resident(world, {"resident_id": resident.public_id}, action="tag", body=body)


@resource(f"{V1}/residents/{{resident_id}}/tags/{{tag_id}}", "delete")
def resident_tag_remove(world: World, method: str) -> Case:
    resident = _registered_in_a(world)
    body = {"tag_id": "tag-living_alone", "reason": "子女在外地"}
    world.ok("staff_a", "post", f"{V1}/residents/{resident.public_id}/tags", json=body, status=201)
    return _staff_resident(
        world,
        {"resident_id": resident.public_id, "tag_id": "tag-living_alone"},
        action="tag",
        query={"reason": "子女已搬回同住"},
    )


@resource(f"{V1}/residents/{{resident_id}}/profile", "get")
def resident_profile_for_delegate(world: World, method: str) -> Case:
    # The owner reads their own profile; a family member bound for everything but eldercare asks with
    # scope=eldercare (403 delegation_denied), and A's grid worker may not act for residents (403).
    return Case(
        {"resident_id": world.owner_resident.public_id},
        query={"scope": "eldercare"},
        forbidden=("family", "grid_a"),
        extra={"family": world.delegate_without("eldercare")},
    )


# --- me, auth, push, files -----------------------------------------------------------------------------------------


@resource(f"{V1}/me/inbox/{{item_id}}/read", "post")
def inbox_read(world: World, method: str) -> Case:
    # A notice of A reaches the owner's inbox (and the neighbour's and the delegate's, each their own item).
    body = {"region_id": world.tree.a.public_id, "title": f"停水通知{_n()}", "body": "明日 9:00–17:00 停水。"}
    notice_id = world.ok("staff_a", "post", f"{V1}/notices", json=body, status=201)["id"]
    world.ok("staff_a", "post", f"{V1}/notices/{notice_id}/publish", json={})
    world.run_jobs()
    items = world.ok("owner", "get", f"{V1}/me/inbox", query_string={"unread": "true"})["items"]
    item_id = next(item["id"] for item in items if item["title"] == body["title"])
    return Case({"item_id": item_id}, outsiders=("delegate", "staff_a"))


@resource(f"{V1}/auth/sessions/{{session_id}}", "delete")
def session_revoke(world: World, method: str) -> Case:
    from app.auth.models import LoginMethod
    from app.auth.sessions import start_session

    with atomic():
        session, _refresh = start_session(world.owner, LoginMethod.issued)
    # A session is its account's alone: anyone else, staff or admin, gets 404.
    return Case({"session_id": session.public_id}, outsiders=("staff_a", "admin", "delegate"))


def _upload(world: World, visibility: str) -> dict:
    from tests.core.test_files import PNG

    form = {"file": (io.BytesIO(PNG), "门牌照片.png"), "visibility": visibility}
    return world.ok("owner", "post", f"{V1}/files", status=201, data=form, content_type="multipart/form-data")


@resource(f"{V1}/files/{{public_id}}", "get")
def file_read(world: World, method: str) -> Case:
    # A private upload not yet attached to anything is its uploader's alone.
    return Case({"public_id": _upload(world, "private")["id"]}, outsiders=("staff_a", "admin", "delegate"))


exempt(
    "get",
    f"{V1}/files/{{public_id}}/content",
    "bytes by signed URL: the signature (file, account, expiry) is the credential, not a bearer token; tampering and "
    "expiry are tests/core/test_files.py",
)
exempt(
    "get",
    f"{V1}/files/{{public_id}}/public",
    "bytes of a public upload (listing photos, post images) by plain URL, no credential at all; a private file is "
    "404 there (tests/core/test_files.py)",
)


# --- platform admins: calendar, jobs, payees, payments, refunds, reconciliations ----------------------------------


def _admin(params: dict, body: dict | None = None, query: dict | None = None, status=None) -> Case:
    # Platform pages have no tenancy: every account but a platform admin is below the role (403), so the outsiders
    # are not 404 here but among the forbidden.
    return Case(
        params,
        owner="admin",
        body=body,
        query=query,
        owner_status=status,
        forbidden=(*OUTSIDERS, "owner", "staff_a", "vendor"),
    )


def _day() -> str:
    return (date(2031, 1, 1) + timedelta(days=_n())).isoformat()


@resource(f"{V1}/calendar/overrides/{{day}}", "put")
def calendar_override_set(world: World, method: str) -> Case:
    return _admin({"day": _day()}, body={"is_workday": False, "name": "社区活动日", "note": "演练"})


@resource(f"{V1}/calendar/overrides/{{day}}", "delete")
def calendar_override_delete(world: World, method: str) -> Case:
    day = _day()
    world.ok("admin", "put", f"{V1}/calendar/overrides/{day}", json={"is_workday": False, "name": "临时休息"})
    return _admin({"day": day})


@resource(f"{V1}/admin/jobs/{{job_id}}/retry", "post")
def job_retry(world: World, method: str) -> Case:
    from app import outbox
    from payments.jobs import reapply_payment

    with atomic():
        # A job that died (its work is a no-op now: no payment 0), as the relay leaves it after its last attempt.
        job_id = outbox.enqueue(reapply_payment, 0, key=f"core-matrix-dead-{_n()}")
        database.session.execute(
            sa.update(outbox.OutboxRow)
            .where(outbox.OutboxRow.id == job_id)
            .values(status=outbox.OutboxStatus.dead, attempts=5, last_error="模拟：渠道超时")
        )
    return _admin({"job_id": str(job_id)})


def _payee(world: World) -> str:
    body = {"name": f"幸福物业{_n()}", "kind": "property_company", "commission_bps": 0}
    return world.ok("admin", "post", f"{V1}/admin/payees", json=body, status=201)["id"]


@resource(f"{V1}/admin/payees/{{payee_id}}", ("get", "patch", "delete"))
def payee_admin(world: World, method: str) -> Case:
    body = {"name": f"幸福物业（更名）{_n()}", "is_active": False} if method == "patch" else None
    return _admin({"payee_id": _payee(world)}, body=body)


def _payment(world: World, *, paid: bool) -> str:
    """The owner pays a fresh marketplace order at world.vendor through the sandbox channel (public id)."""
    from marketplace.orders import KIND
    from payments.models import Payment
    from payments.paid import mark_paid
    from tests.marketplace.fixtures import add_product

    cabbage = world.once("core:cabbage", lambda: add_product(world.vendor, "大白菜", price_fen=500, stock=10_000))
    body = {"vendor_id": world.vendor.public_id, "lines": [{"product_id": cabbage.public_id, "quantity": 1}]}
    order_id = world.ok("owner", "post", f"{V1}/marketplace/orders", json=body, status=201)["id"]
    pay = {"kind": KIND, "ids": [order_id], "channel": "sandbox"}
    payment_id = world.ok("owner", "post", f"{V1}/payments", json=pay, status=201)["id"]
    if paid:
        payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == payment_id))
        with atomic():
            txn = f"T{payment.id}"
            mark_paid(payment.out_trade_no, payment.amount_fen, txn, utcnow(), {"matrix": True}, channel="sandbox")
    return payment_id


@resource(f"{V1}/admin/payments/{{payment_id}}", "get")
def payment_admin_read(world: World, method: str) -> Case:
    return _admin({"payment_id": _payment(world, paid=True)})


@resource(f"{V1}/admin/payments/{{payment_id}}/reapply", "post")
def payment_admin_reapply(world: World, method: str) -> Case:
    from payments.models import ItemState, Payment, PaymentItem, PaymentStatus

    payment_id = _payment(world, paid=False)
    with atomic():
        # The state a failing on_paid leaves (payments.paid._unapplied): the money is in, the order not yet told.
        payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == payment_id))
        payment.status, payment.paid_fen, payment.paid_at = PaymentStatus.paid_unapplied, payment.amount_fen, utcnow()
        payment.channel_txn_id, payment.apply_attempts, payment.apply_error = f"T{payment.id}", 1, "RuntimeError: 模拟"
        database.session.execute(
            sa.update(PaymentItem).where(PaymentItem.payment_id == payment.id).values(state=ItemState.pending)
        )
    return _admin({"payment_id": payment_id})


@resource(f"{V1}/admin/payments/{{payment_id}}/refunds", "post")
def payment_admin_refund(world: World, method: str) -> Case:
    return _admin({"payment_id": _payment(world, paid=True)}, body={"amount_fen": 100, "reason": "少送了一棵菜"})


@resource(f"{V1}/admin/refunds/{{refund_id}}/retry", "post")
def refund_admin_retry(world: World, method: str) -> Case:
    from payments.models import Refund, RefundStatus
    from payments.refunds import refund

    payment_id = _payment(world, paid=True)
    with atomic():
        item = refund(payment_id, 100, "少送了一棵菜", key=f"core-matrix-{_n()}")
        # What the refund job leaves after its last failed attempt at the channel.
        database.session.execute(
            sa.update(Refund)
            .where(Refund.id == item.id)
            .values(status=RefundStatus.failed, attempts=6, failed_at=utcnow(), last_error="模拟：渠道拒绝")
        )
    return _admin({"refund_id": item.public_id})


@resource(f"{V1}/admin/payment-gateways/reconciliations/{{report_id}}", "get")
def reconciliation_read(world: World, method: str) -> Case:
    from payments.gateways.models import ReconciliationReport, ReportStatus

    with atomic():
        report = ReconciliationReport(
            gateway="wechatpay", bill_date=date(2026, 1, 1) + timedelta(days=_n()), status=ReportStatus.matched
        )
        database.session.add(report)
        database.session.flush()
    return _admin({"report_id": str(report.id)})
