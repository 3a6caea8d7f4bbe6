"""Cross-tenant factories for /api/v1/govservice and /open311 (see world.py).

Everything lives in community A (幸福社区): service centres, guides, windows and bookings, online applications,
departments and complaints. Staff work is owned by ``staff_a``; ``grid_a`` (a grid worker of A) holds a role there
that no centre, desk, application or department action allows, so it gets 403. A department's ``handler`` is a role
of the department scope kind: it may read and handle the department's work but not manage the department (403).
Open311 and the published guides are public by their nature; the runner only calls them as the owner (anonymous).
"""

from __future__ import annotations

import itertools
from datetime import datetime, time, timedelta
from types import SimpleNamespace

from app.api import SHANGHAI
from app.db import atomic
from govservice import clock
from govservice.booking_models import Booking, BookingVia, Slot, Suspension
from tests.fault.tenant.world import Case, World, resource
from tests.govservice.fixtures import add, at, build_centre, tomorrow
from tests.govservice.test_applications import build as build_applications
from tests.govservice.test_applications import handler_of, uploads
from tests.govservice.test_guides import GUIDE

G = "/api/v1/govservice"
M = f"{G}/manage"
_serial = itertools.count(1)

#: Open around the clock (5-minute slots, holidays included), so a booking can start within minutes whenever the
#: test runs: the resident's check-in opens only shortly before the start.
AROUND_THE_CLOCK = [
    {
        "weekday": weekday,
        "starts_at": time(0),
        "ends_at": time(23, 55),
        "slot_minutes": 5,
        "capacity": 100,
        "workday_only": False,
        "holiday_service": True,
    }
    for weekday in range(7)
]


def _n() -> int:
    return next(_serial)


# --- centres, guides, desk -----------------------------------------------------------------------------------------


def _desk(world: World) -> SimpleNamespace:
    """Community A's centre with two published bookable items and two windows, open around the clock."""
    return world.once(
        "gov:desk",
        lambda: build_centre(
            world.tree.a, sessions=AROUND_THE_CLOCK, one_per_item_per_day=False, noshow_limit=0, latest_days=14
        ),
    )


def _centre(world: World) -> str:
    """A fresh centre of community A, made by its staff."""
    body = {"region_id": world.tree.a.public_id, "name": f"幸福社区第{_n()}服务站"}
    return world.ok("staff_a", "post", f"{M}/centres", json=body)["id"]


def _category(world: World, centre_id: str) -> str:
    return world.ok("staff_a", "post", f"{M}/centres/{centre_id}/categories", json={"name": f"社会保障{_n()}"})["id"]


def _guide(world: World, *, publish: bool = False) -> str:
    """A fresh guide item (a draft, or published) of a fresh centre of community A."""
    centre = _centre(world)
    body = {**GUIDE, "code": f"SB-{_n()}", "category_id": _category(world, centre)}
    item = world.ok("staff_a", "post", f"{M}/centres/{centre}/guides", json=body)["id"]
    if publish:
        world.ok("staff_a", "post", f"{M}/guides/{item}/publish")
    return item


def _book(world: World, starts_at: datetime | None = None) -> str:
    """The owner's booking at the desk centre (tomorrow 10:00 unless given)."""
    desk = _desk(world)
    body = {
        "item_id": desk.item.public_id,
        "window_id": desk.window.public_id,
        "starts_at": (starts_at or at(tomorrow(), 10)).isoformat(),
    }
    return world.ok("owner", "post", f"{G}/bookings", json=body)["id"]


def _book_soon(world: World) -> str:
    """The owner's booking of the next open slot (starting within minutes), so check-in is open."""
    desk = _desk(world)
    today = clock.today()
    query = {"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    days = world.ok(None, "get", f"{G}/guides/{desk.item.public_id}/availability", query_string=query)["days"]
    later = clock.now() + timedelta(seconds=30)
    slot = next(
        s
        for day in days
        for s in day["slots"]
        if s["window"]["id"] == desk.window.public_id and datetime.fromisoformat(s["starts_at"]) > later
    )
    return _book(world, datetime.fromisoformat(slot["starts_at"]))


def _started_booking(world: World) -> str:
    """A booking of the owner that started 30 minutes ago (no request can book the past: written as the booking
    service leaves it)."""
    desk = _desk(world)
    starts = clock.now() - timedelta(minutes=30, microseconds=_n())
    ends = starts + timedelta(minutes=5)
    day = starts.astimezone(SHANGHAI).date()
    with atomic():
        slot = add(Slot(window_id=desk.window.id, day=day, starts_at=starts, ends_at=ends, capacity=1, booked=1))
        booking = add(
            Booking(
                centre_id=desk.centre.id,
                window_id=desk.window.id,
                slot_id=slot.id,
                item_id=desk.item.id,
                resident_id=world.owner_resident.id,
                booked_by_user_id=world.owner.id,
                via=BookingVia.own,
                day=day,
                starts_at=starts,
                ends_at=ends,
            )
        )
    return booking.public_id


@resource(f"{G}/centres/{{centre_id}}", "get")
@resource(f"{G}/centres/{{centre_id}}/windows", "get")
@resource(f"{G}/centres/{{centre_id}}/categories", "get")
@resource(f"{G}/centres/{{centre_id}}/application-stats", "get")
def public_centre(world: World, method: str) -> Case:
    # Public: a centre, its windows, guide categories and aggregate statistics are for everyone.
    return Case({"centre_id": _desk(world).centre.public_id}, owner="anonymous")


@resource(f"{G}/guides/{{item_id}}", "get")
@resource(f"{G}/guides/{{item_id}}/availability", "get")
def public_guide(world: World, method: str) -> Case:
    # Public: a published guide and its open slots.
    return Case({"item_id": _desk(world).item.public_id}, owner="anonymous")


@resource(f"{M}/centres/{{centre_id}}", "patch")
@resource(f"{M}/centres/{{centre_id}}/guides", "get")
@resource(f"{M}/centres/{{centre_id}}/closures", "get")
@resource(f"{M}/centres/{{centre_id}}/bookings", "get")
@resource(f"{M}/centres/{{centre_id}}/suspensions", "get")
def manage_centre(world: World, method: str) -> Case:
    body = {"phone": "010-65009999", "hours": "工作日 9:00–17:00"} if method == "patch" else None
    return Case({"centre_id": _centre(world)}, owner="staff_a", body=body, forbidden=("grid_a",))


@resource(f"{M}/centres/{{centre_id}}/windows", "post")
def manage_centre_add_window(world: World, method: str) -> Case:
    body = {"number": 9, "name": "综合窗口"}
    return Case({"centre_id": _centre(world)}, owner="staff_a", body=body, forbidden=("grid_a",))


@resource(f"{M}/centres/{{centre_id}}/categories", "post")
def manage_centre_add_category(world: World, method: str) -> Case:
    return Case({"centre_id": _centre(world)}, owner="staff_a", body={"name": "劳动保障"}, forbidden=("grid_a",))


@resource(f"{M}/centres/{{centre_id}}/guides", "post")
def manage_centre_add_guide(world: World, method: str) -> Case:
    centre = _centre(world)
    body = {**GUIDE, "code": f"SB-{_n()}", "category_id": _category(world, centre)}
    return Case({"centre_id": centre}, owner="staff_a", body=body, forbidden=("grid_a",))


@resource(f"{M}/centres/{{centre_id}}/closures", "post")
def manage_centre_add_closure(world: World, method: str) -> Case:
    body = {"day": (clock.today() + timedelta(days=10)).isoformat(), "reason": "设备检修"}
    return Case({"centre_id": _centre(world)}, owner="staff_a", body=body, forbidden=("grid_a",))


@resource(f"{M}/centres/{{centre_id}}/bookings", "post")
def desk_books_for_a_caller(world: World, method: str) -> Case:
    desk = _desk(world)
    body = {
        "item_id": desk.item.public_id,
        "window_id": desk.window.public_id,
        "starts_at": at(tomorrow(), 11).isoformat(),
        "resident_id": world.owner_resident.public_id,
        "reason": "电话预约",
    }
    return Case({"centre_id": desk.centre.public_id}, owner="staff_a", body=body, forbidden=("grid_a",))


@resource(f"{M}/windows/{{window_id}}", "patch")
def manage_window(world: World, method: str) -> Case:
    centre = _centre(world)
    window = world.ok("staff_a", "post", f"{M}/centres/{centre}/windows", json={"number": 1, "name": "综合窗口"})
    return Case({"window_id": window["id"]}, owner="staff_a", body={"name": "社保窗口"}, forbidden=("grid_a",))


@resource(f"{M}/categories/{{category_id}}", "patch")
def manage_category(world: World, method: str) -> Case:
    category = _category(world, _centre(world))
    return Case({"category_id": category}, owner="staff_a", body={"name": "医疗保险"}, forbidden=("grid_a",))


@resource(f"{M}/closures/{{closure_id}}", "delete")
def manage_closure(world: World, method: str) -> Case:
    body = {"day": (clock.today() + timedelta(days=10)).isoformat(), "reason": "设备检修"}
    closure = world.ok("staff_a", "post", f"{M}/centres/{_centre(world)}/closures", json=body)["id"]
    return Case({"closure_id": closure}, owner="staff_a", forbidden=("grid_a",))


@resource(f"{M}/guides/{{item_id}}", "get")
@resource(f"{M}/guides/{{item_id}}/draft", "patch")
@resource(f"{M}/guides/{{item_id}}/publish", "post")
@resource(f"{M}/guides/{{item_id}}/routing", "get")
def manage_guide(world: World, method: str) -> Case:
    body = {"name": "城乡居民养老保险参保登记（修订）"} if method == "patch" else None
    return Case({"item_id": _guide(world)}, owner="staff_a", body=body, forbidden=("grid_a",))


@resource(f"{M}/guides/{{item_id}}/draft", "delete")
def manage_guide_discard_draft(world: World, method: str) -> Case:
    # A draft beside the published version (the only version of an item cannot be discarded).
    item = _guide(world, publish=True)
    world.ok("staff_a", "patch", f"{M}/guides/{item}/draft", json={"promised_days": 3})
    return Case({"item_id": item}, owner="staff_a", forbidden=("grid_a",))


@resource(f"{M}/guides/{{item_id}}/unpublish", "post")
def manage_guide_unpublish(world: World, method: str) -> Case:
    item = _guide(world, publish=True)
    return Case({"item_id": item}, owner="staff_a", body={"reason": "政策调整"}, forbidden=("grid_a",))


@resource(f"{M}/guides/{{item_id}}/routing", "put")
def manage_guide_routing(world: World, method: str) -> Case:
    body = {"mode": "serial", "department_ids": [_department(world)]}
    return Case({"item_id": _guide(world)}, owner="staff_a", body=body, forbidden=("grid_a",))


# --- bookings ------------------------------------------------------------------------------------------------------

APPOINTMENTS = "appointments"


@resource(f"{G}/bookings/{{booking_id}}", "get")
def booking_detail(world: World, method: str) -> Case:
    return Case(
        {"booking_id": _book(world)},
        extra={"family": world.delegate_without(APPOINTMENTS)},
        forbidden=("family",),
    )


@resource(f"{G}/bookings/{{booking_id}}/cancel", "post")
def booking_cancel(world: World, method: str) -> Case:
    return Case(
        {"booking_id": _book(world)},
        body={"reason": "临时有事"},
        extra={"family": world.delegate_without(APPOINTMENTS)},
        forbidden=("family",),
    )


@resource(f"{G}/bookings/{{booking_id}}/reschedule", "post")
def booking_reschedule(world: World, method: str) -> Case:
    body = {"starts_at": at(tomorrow(), 10, 30).isoformat(), "window_id": _desk(world).window.public_id}
    return Case(
        {"booking_id": _book(world)},
        body=body,
        extra={"family": world.delegate_without(APPOINTMENTS)},
        forbidden=("family",),
    )


@resource(f"{G}/bookings/{{booking_id}}/check-in", "post")
def booking_check_in(world: World, method: str) -> Case:
    return Case(
        {"booking_id": _book_soon(world)},
        extra={"family": world.delegate_without(APPOINTMENTS)},
        forbidden=("family",),
    )


@resource(f"{M}/bookings/{{booking_id}}/served", "post")
def desk_served(world: World, method: str) -> Case:
    booking = _book_soon(world)
    world.ok("owner", "post", f"{G}/bookings/{booking}/check-in")
    return Case({"booking_id": booking}, owner="staff_a", forbidden=("grid_a",))


@resource(f"{M}/bookings/{{booking_id}}/no-show", "post")
def desk_no_show(world: World, method: str) -> Case:
    return Case({"booking_id": _started_booking(world)}, owner="staff_a", forbidden=("grid_a",))


@resource(f"{M}/bookings/{{booking_id}}/cancel", "post")
def desk_cancel(world: World, method: str) -> Case:
    return Case({"booking_id": _book(world)}, owner="staff_a", body={"reason": "窗口停办"}, forbidden=("grid_a",))


@resource(f"{M}/suspensions/{{suspension_id}}/lift", "post")
def desk_lift(world: World, method: str) -> Case:
    # The suspended resident is the neighbour (as after three no-shows): lifting it is desk work only.
    today = clock.today()
    with atomic():
        suspension = add(
            Suspension(
                centre_id=_desk(world).centre.id,
                resident_id=world.neighbour_resident.id,
                starts_on=today,
                ends_on=today + timedelta(days=30),
                no_shows=3,
            )
        )
    body = {"reason": "已说明情况"}
    return Case({"suspension_id": suspension.public_id}, owner="staff_a", body=body, forbidden=("grid_a",))


# --- departments ---------------------------------------------------------------------------------------------------


def _handler(world: World):
    return world.once("gov:handler", lambda: world.make_user("部门经办人"))


def _department(world: World, *, handler: bool = False) -> str:
    """A fresh department of community A (made by its staff), with ``_handler`` as its 经办人 when asked."""
    n = _n()
    body = {"region_id": world.tree.a.public_id, "name": f"社区事务科{n}", "code": f"SW{n}"}
    department = world.ok("staff_a", "post", f"{M}/departments", json=body)["id"]
    if handler:
        member = {"user_id": _handler(world).public_id, "role": "handler"}
        world.ok("staff_a", "post", f"{M}/departments/{department}/members", json=member)
    return department


@resource(f"{M}/departments/{{department_id}}", ("get", "patch", "delete"))
@resource(f"{M}/departments/{{department_id}}/members", ("get", "post"))
@resource(f"{M}/departments/{{department_id}}/applications", "get")
def manage_department(world: World, method: str) -> Case:
    department = _department(world, handler=True)
    extra = {"handler": _handler(world)}
    if method == "get":
        # Reading a department and its work is for its handlers too; a grid worker has no part in it.
        return Case({"department_id": department}, owner="staff_a", extra=extra, forbidden=("grid_a",))
    body = {"phone": "010-65001234"} if method == "patch" else None
    if method == "post":
        body = {"user_id": world.make_user("新经办人").public_id, "role": "handler"}
    return Case({"department_id": department}, owner="staff_a", body=body, extra=extra, forbidden=("grid_a", "handler"))


@resource(f"{M}/departments/{{department_id}}/members/{{user_id}}", "delete")
def manage_department_member(world: World, method: str) -> Case:
    department = _department(world, handler=True)
    return Case(
        {"department_id": department, "user_id": _handler(world).public_id},
        owner="staff_a",
        query={"role": "handler"},
        extra={"handler": _handler(world)},
        forbidden=("grid_a", "handler"),
    )


# --- online applications -------------------------------------------------------------------------------------------

APPLICATIONS = "applications"
STEP_BODIES = {
    "pass-review": {},
    "accept": {},
    "dispatch": {},
    "return": {"reason": "照片不清晰，请重新提交"},
    "refuse": {"reason": "不属于本中心受理范围"},
    "request-correction": {"reason": "户口簿缺户主页", "materials": ["hukou_book"]},
    "special": {"reason": "需入户核查"},
    "special/end": {"note": "核查完毕"},
    "complete": {"outcome": "approved", "result": "已参保，次月起缴费"},
}


def _gov(world: World) -> SimpleNamespace:
    """A centre of A with online items (``item`` without departments, ``other`` routed to the street's 社保所, whose
    handler is ``handler``)."""

    def build() -> SimpleNamespace:
        gov = build_applications(world.tree)
        route = {"mode": "serial", "department_ids": [gov.d1.public_id]}
        world.ok("staff_a", "put", f"{M}/guides/{gov.other.public_id}/routing", json=route)
        gov.handler = handler_of(world.make_user, gov.d1, name="社保所经办人")
        return gov

    return world.once("gov:applications", build)


def _application(world: World, *steps: str, routed: bool = False) -> str:
    """A fresh application of the owner, taken by centre staff through ``steps``."""
    gov = _gov(world)
    body = {
        "item_id": (gov.other if routed else gov.item).public_id,
        "materials": uploads(world.owner, "hukou_book", "photo"),
    }
    application = world.ok("owner", "post", f"{G}/applications", json=body)["id"]
    for step in steps:
        world.ok("staff_a", "post", f"{M}/applications/{application}/{step}", json=STEP_BODIES[step])
    return application


def _family(world: World) -> dict:
    return {"family": world.delegate_without(APPLICATIONS)}


@resource(f"{G}/guides/{{item_id}}/application-form", "get")
def application_form(world: World, method: str) -> Case:
    # The item is public; the form is the resident's, prefilled from their profile: asked for the owner by name.
    return Case(
        {"item_id": _gov(world).item.public_id},
        query={"for_resident_id": world.owner_resident.public_id},
        extra=_family(world),
        forbidden=("family",),
    )


@resource(f"{G}/applications/{{application_id}}", "get")
@resource(f"{G}/applications/{{application_id}}/withdraw", "post")
def application(world: World, method: str) -> Case:
    body = {"reason": "材料拍错了"} if method == "post" else None
    return Case({"application_id": _application(world)}, body=body, extra=_family(world), forbidden=("family",))


@resource(f"{G}/applications/{{application_id}}/correction", "post")
def application_correction(world: World, method: str) -> Case:
    application = _application(world, "accept", "request-correction")
    body = {"materials": uploads(world.owner, "hukou_book")}
    return Case({"application_id": application}, body=body, extra=_family(world), forbidden=("family",))


@resource(f"{G}/applications/{{application_id}}/rating", "post")
def application_rating(world: World, method: str) -> Case:
    application = _application(world, "accept", "complete")
    body = {"score": 5, "comment": "办得很快"}
    return Case({"application_id": application}, body=body, extra=_family(world), forbidden=("family",))


@resource(f"{M}/centres/{{centre_id}}/applications", "get")
@resource(f"{M}/centres/{{centre_id}}/application-stats", "get")
def application_worklists(world: World, method: str) -> Case:
    _application(world)
    return Case({"centre_id": _gov(world).centre.public_id}, owner="staff_a", forbidden=("grid_a",))


#: Staff action → the steps that bring a fresh application where the action applies.
BEFORE = {
    "pass-review": (),
    "return": (),
    "accept": (),
    "refuse": (),
    "request-correction": ("accept",),
    "dispatch": ("accept",),
    "special": ("accept", "dispatch"),
    "special/end": ("accept", "dispatch", "special"),
    "complete": ("accept",),
}


def _staff_action(action: str):
    def factory(world: World, method: str) -> Case:
        routed = "dispatch" in (action, *BEFORE[action])
        application = _application(world, *BEFORE[action], routed=routed)
        forbidden, extra = ("grid_a",), {}
        if action.startswith("special"):
            # A routed department's head may start and end a 特别程序; its handler may not.
            forbidden, extra = ("grid_a", "handler"), {"handler": _gov(world).handler}
        return Case(
            {"application_id": application},
            owner="staff_a",
            body=STEP_BODIES[action],
            forbidden=forbidden,
            extra=extra,
        )

    factory.__name__ = f"application_{action.replace('/', '_').replace('-', '_')}"
    return resource(f"{M}/applications/{{application_id}}/{action}", "post")(factory)


for _action in BEFORE:
    _staff_action(_action)


@resource(f"{M}/applications/{{application_id}}/departments/{{department_id}}/decide", "post")
def application_decide(world: World, method: str) -> Case:
    # The department's handler decides its part; centre staff of A hold no role over the street's department.
    gov = _gov(world)
    application = _application(world, "accept", "dispatch", routed=True)
    return Case(
        {"application_id": application, "department_id": gov.d1.public_id},
        owner=gov.handler,
        body={"outcome": "approved", "result": "准予参保"},
    )


# --- complaints ----------------------------------------------------------------------------------------------------


def _complaint_category(world: World) -> str:
    def build() -> str:
        body = {"code": "noise", "name": "噪音扰民", "group": "市容环境", "time_limit_days": 3}
        return world.ok("staff_a", "post", f"{M}/regions/{world.tree.a.public_id}/complaint-categories", json=body)[
            "code"
        ]

    return world.once("gov:complaint-category", build)


def _complaint(world: World, *steps: tuple[str, dict]) -> str:
    """A fresh complaint of the owner in community A, taken by staff through ``steps``."""
    body = {
        "community_id": world.tree.a.public_id,
        "category": _complaint_category(world),
        "description": "楼下广场舞音响太响，晚上十点还不停，电话13800138000",
        "location": "1号楼1单元101旁",
        "latitude": 39.91,
        "longitude": 116.40,
    }
    complaint = world.ok("owner", "post", f"{G}/complaints", json=body)["id"]
    for step, payload in steps:
        world.ok("staff_a", "post", f"{M}/complaints/{complaint}/{step}", json=payload)
    return complaint


REPLIED = (("accept", {}), ("reply", {"text": "已约谈广场舞团队，晚上九点前结束"}))


@resource(f"{G}/complaints/{{complaint_id}}", "get")
def complaint_detail(world: World, method: str) -> Case:
    return Case({"complaint_id": _complaint(world)})


@resource(f"{G}/complaints/{{complaint_id}}/confirm", "post")
def complaint_confirm(world: World, method: str) -> Case:
    return Case({"complaint_id": _complaint(world, *REPLIED)}, body={"rating": 5, "comment": "满意"})


@resource(f"{G}/complaints/{{complaint_id}}/reopen", "post")
def complaint_reopen(world: World, method: str) -> Case:
    return Case({"complaint_id": _complaint(world, *REPLIED)}, body={"reason": "音响还是很响"})


@resource(f"{M}/complaints/{{complaint_id}}", "get")
def manage_complaint_detail(world: World, method: str) -> Case:
    # Grid workers of the community read its complaints (the worklist shows them their region's).
    return Case({"complaint_id": _complaint(world)}, owner="staff_a")


@resource(f"{M}/complaints/{{complaint_id}}/accept", "post")
def manage_complaint_accept(world: World, method: str) -> Case:
    return Case({"complaint_id": _complaint(world)}, owner="staff_a", body={"note": "已受理"}, forbidden=("grid_a",))


@resource(f"{M}/complaints/{{complaint_id}}/reject", "post")
def manage_complaint_reject(world: World, method: str) -> Case:
    body = {"reason": "不属于社区受理范围"}
    return Case({"complaint_id": _complaint(world)}, owner="staff_a", body=body, forbidden=("grid_a",))


@resource(f"{M}/complaints/{{complaint_id}}/dispatch", "post")
def manage_complaint_dispatch(world: World, method: str) -> Case:
    # Sent to a department first, then re-dispatched to A's grid worker: the department's handler answers it but
    # may not re-dispatch it, nor may the grid worker (403).
    complaint = _complaint(world, ("dispatch", {"department_id": _department(world, handler=True)}))
    body = {"grid_worker_id": world.grid_a.public_id, "note": "请现场核查"}
    return Case(
        {"complaint_id": complaint},
        owner="staff_a",
        body=body,
        extra={"handler": _handler(world)},
        forbidden=("grid_a", "handler"),
    )


@resource(f"{M}/complaints/{{complaint_id}}/reply", "post")
def manage_complaint_reply(world: World, method: str) -> Case:
    # Only whoever it was dispatched to, or staff, answer: a grid worker it was not given to may not.
    complaint = _complaint(world, ("accept", {}))
    return Case({"complaint_id": complaint}, owner="staff_a", body={"text": "已现场核查并处理"}, forbidden=("grid_a",))


@resource(f"{M}/regions/{{region_id}}/complaint-categories", "post")
def manage_complaint_categories(world: World, method: str) -> Case:
    body = {"code": f"cat-{_n()}", "name": f"垃圾分类{_n()}", "time_limit_days": 5}
    return Case({"region_id": world.tree.a.public_id}, owner="staff_a", body=body, forbidden=("grid_a",))


@resource(f"{M}/complaint-categories/{{category_id}}", "patch")
def manage_complaint_category(world: World, method: str) -> Case:
    body = {"code": f"cat-{_n()}", "name": f"违章停车{_n()}"}
    category = world.ok("staff_a", "post", f"{M}/regions/{world.tree.a.public_id}/complaint-categories", json=body)
    return Case({"category_id": category["id"]}, owner="staff_a", body={"time_limit_days": 7}, forbidden=("grid_a",))


@resource(f"{M}/open311-clients/{{client_id}}/revoke", "post")
def manage_open311_client(world: World, method: str) -> Case:
    body = {"region_id": world.tree.a.public_id, "name": f"12345热线{_n()}"}
    client = world.ok("staff_a", "post", f"{M}/open311-clients", json=body)
    return Case({"client_id": client["id"]}, owner="staff_a", forbidden=("grid_a",))


# --- Open311 -------------------------------------------------------------------------------------------------------


@resource("/open311/v2/services/{service_code}.json", "get")
def open311_service(world: World, method: str) -> Case:
    # Public by the standard: a service definition.
    return Case(
        {"service_code": _complaint_category(world)},
        owner="anonymous",
        query={"jurisdiction_id": world.tree.a.public_id},
    )


@resource("/open311/v2/requests/{request_id}.json", "get")
def open311_request(world: World, method: str) -> Case:
    # Public by the standard, anonymised: no name, phone, room or location words, whoever submitted it (a resident
    # in the app, or a caller through an Open311 client with their contact details). Checked here on both.
    jurisdiction = {"jurisdiction_id": world.tree.a.public_id}
    client = world.ok(
        "staff_a", "post", f"{M}/open311-clients", json={"region_id": world.tree.a.public_id, "name": "12345热线"}
    )
    form = {
        **jurisdiction,
        "api_key": client["api_key"],
        "service_code": _complaint_category(world),
        "description": "路灯不亮，请联系13900139000",
        "address_string": "幸福家园1号楼1单元101",
        "first_name": "王",
        "last_name": "小明",
        "phone": "13900139000",
        "email": "wang@example.com",
    }
    posted = world.client.post("/open311/v2/requests.json", data=form)
    assert posted.status_code == 200, posted.get_json()
    personal = ("张三", "王", "小明", "13800138000", "13900139000", "wang@example.com", "1号楼", "1单元", "幸福家园")
    for request_id in (posted.get_json()[0]["service_request_id"], _complaint(world)):
        shown = world.client.get(f"/open311/v2/requests/{request_id}.json", query_string=jurisdiction)
        assert shown.status_code == 200, shown.get_json()
        text = shown.get_data(as_text=True)
        assert not [word for word in personal if word in text], text
    return Case({"request_id": request_id}, owner="anonymous", query=jurisdiction)
