"""Cross-tenant factories for /api/v1/marketplace (see world.py).

Grocery orders are the owner's at ``world.vendor``; home-service bookings are the owner's at a repair shop built once
(``_shop``). Vendor-side operations are owned by the vendor's owner user; cabinet operations by ``staff_a``. Family
members bound without the ``marketplace`` scope are refused every resident-side act (403), a vendor's clerk what only
its owner may do, a courier what only the owner and clerks may do, a grid worker what only staff may do.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from marketplace.devices import sign
from marketplace.models import VendorKind, VendorStatus
from tests.fault.tenant.world import Case, World, exempt, resource
from tests.marketplace.fixtures import add_product, add_role, add_vendor

M = "/api/v1/marketplace"
_names = itertools.count(1)

# --- builders --------------------------------------------------------------------------------------------------------


def _cabbage(world: World):
    return world.once("market:cabbage", lambda: add_product(world.vendor, "小白菜", price_fen=300, stock=10_000))


def _staff(world: World) -> SimpleNamespace:
    """A clerk and a courier of ``world.vendor``."""

    def build() -> SimpleNamespace:
        clerk, courier = world.make_user("绿园店员"), world.make_user("绿园配送员")
        add_role(world.vendor, clerk, "clerk")
        add_role(world.vendor, courier, "courier")
        return SimpleNamespace(clerk=clerk, courier=courier)

    return world.once("market:staff", build)


def _family(world: World):
    """The owner's family member bound with every delegation scope but ``marketplace``."""
    return world.delegate_without("marketplace")


#: Community staff reach a vendor through the communities it serves (``marketplace.access``): inside its scope, they
#: are below every action reserved to the vendor's own staff (403).
COMMUNITY = ("staff_a", "grid_a")


def _resident_side(world: World, params: dict, **kwargs) -> Case:
    """A case of the owner's own order or booking: a family member without the marketplace scope gets 403."""
    return Case(params, extra={"family": _family(world)}, forbidden=("family",), **kwargs)


def _refused(world: World, who, method: str, url: str, body: dict | None, status: int) -> None:
    """An extra caller the matrix has no slot for (e.g. a technician of the shop who is not assigned): ``status``
    with an error body and no data, before the owner's call (which must still succeed)."""
    response = world.call(who, method, url, json=body if body is not None else {})
    payload = response.get_json(silent=True)
    assert response.status_code == status, (method, url, response.status_code, payload)
    assert isinstance(payload, dict), payload
    assert set(payload) <= {"code", "message", "details"}, payload


def _pay(world: World, kind: str, public_id: str) -> None:
    """Open a sandbox payment as the owner and confirm it as the channel's callback would."""
    from payments import mark_paid
    from payments.models import Payment

    opened = world.ok(
        "owner", "post", "/api/v1/payments", json={"kind": kind, "ids": [public_id], "channel": "sandbox"}
    )
    payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == opened["id"]))
    with atomic():
        mark_paid(
            payment.out_trade_no, payment.amount_fen, f"T{payment.id}", utcnow(), {"matrix": True}, channel="sandbox"
        )


ORDER_STEPS = {
    "pending_payment": (),
    "paid": (),
    "accepted": ("accept",),
    "preparing": ("accept", "prepare"),
    "ready": ("accept", "prepare", "ready"),
    "completed": ("accept", "prepare", "ready", "complete"),
}


def _order(world: World, state: str = "pending_payment", *, quantity: int = 2, **extra) -> str:
    """A fresh order of the owner at ``world.vendor`` (cabbage), taken to ``state`` by the vendor's owner."""
    body = {
        "vendor_id": world.vendor.public_id,
        "lines": [{"product_id": _cabbage(world).public_id, "quantity": quantity}],
        **extra,
    }
    order_id = world.ok("owner", "post", f"{M}/orders", json=body)["id"]
    if state != "pending_payment":
        _pay(world, "marketplace.market_order", order_id)
    for step in ORDER_STEPS[state]:
        world.ok("vendor", "post", f"{M}/orders/{order_id}/{step}", status=200, json={})
    return order_id


CELLS_AMBIENT = {"size": "S", "zone": "ambient", "count": 2}


def _cabinet(world: World, *, chilled: bool = False) -> tuple[str, str]:
    """A cabinet installed by staff_a in the owner's courtyard (A's estate): (public id, device secret).

    Only cabinets made with ``chilled`` take the (chilled) cabbage orders dispatched, so a cabinet whose secret a
    factory rotates never receives one.
    """
    cells = [{"size": "M", "zone": "chilled", "count": 30}] if chilled else [CELLS_AMBIENT]
    body = {"estate_id": world.tree.estate_a.public_id, "name": f"矩阵柜{next(_names)}", "cells": cells}
    created = world.ok("staff_a", "post", f"{M}/lockers", status=201, json=body)
    return created["id"], created["secret"]


def _dispatch_cabinet(world: World) -> tuple[str, str]:
    return world.once("market:dispatch-cabinet", lambda: _cabinet(world, chilled=True))


def _device(world: World, locker_id: str, secret: str, action: str, payload: dict) -> dict:
    path = f"{M}/devices/lockers/{locker_id}/{action}"
    body = json.dumps(payload).encode()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
    headers = {
        "X-Locker-Timestamp": timestamp,
        "X-Locker-Nonce": nonce,
        "X-Locker-Signature": sign(secret, "POST", path, "", timestamp, nonce, body),
        "Content-Type": "application/json",
    }
    response = world.client.post(path, data=body, headers=headers)
    assert response.status_code == 200, (action, response.status_code, response.get_json())
    return response.get_json()


def _in_locker(world: World) -> str:
    """An order of the owner the courier has deposited in a cabinet of the owner's courtyard (pickup code issued)."""
    locker_id, secret = _dispatch_cabinet(world)
    order_id = _order(world, "preparing")
    sent = world.ok("vendor", "post", f"{M}/orders/{order_id}/dispatch", status=200, json={})
    assert (sent["locker"] or {}).get("id") == locker_id, sent
    _device(world, locker_id, secret, "deposit", {"order_id": order_id, "courier_code": sent["courier_code"]})
    return order_id


def _aftersale(world: World, state: str = "pending") -> str:
    """An after-sales request of the owner on a completed order, taken to ``state``."""
    order_id = _order(world, "completed")
    asked = world.ok(
        "owner", "post", f"{M}/orders/{order_id}/aftersales", status=201, json={"line_no": 1, "reason": "菜叶发黄"}
    )
    if state in ("refused", "escalated"):
        world.ok("vendor", "post", f"{M}/aftersales/{asked['id']}/refuse", status=200, json={"note": "已按时送达"})
    if state == "escalated":
        world.ok("owner", "post", f"{M}/aftersales/{asked['id']}/escalate", status=200, json={"reason": "确实发黄"})
    return asked["id"]


def _pending_vendor(world: World, status: VendorStatus) -> SimpleNamespace:
    """A fresh vendor serving A in ``status``, owned by a new user (who may not decide on it: 403)."""
    applicant = world.make_user(f"申请人{next(_names)}")
    vendor = add_vendor(applicant, [world.tree.a], name=f"新店{next(_names)}", status=status)
    return SimpleNamespace(vendor=vendor, applicant=applicant)


# --- vendors ---------------------------------------------------------------------------------------------------------


@resource(f"{M}/vendors/{{vendor_id}}", ("get", "patch"))
def vendor(world: World, method: str) -> Case:
    params = {"vendor_id": world.vendor.public_id}
    if method == "get":
        # Community staff read the vendors they decide on; a grid worker is below that.
        return Case(params, owner="vendor", forbidden=("grid_a",))
    # The profile is the owner's: a clerk may not edit it, community staff neither.
    staff = _staff(world)
    return Case(
        params,
        owner="vendor",
        body={"opening_hours": "06:30-21:30"},
        extra={"clerk": staff.clerk},
        forbidden=("clerk", *COMMUNITY),
    )


DECISION_FROM = {
    "approve": VendorStatus.pending,
    "reject": VendorStatus.pending,
    "suspend": VendorStatus.approved,
    "reinstate": VendorStatus.suspended,
}


def _decision(decision: str):
    def factory(world: World, method: str) -> Case:
        made = _pending_vendor(world, DECISION_FROM[decision])
        # Staff of the community served decide; a grid worker and the vendor's own owner are below the action.
        return Case(
            {"vendor_id": made.vendor.public_id},
            owner="staff_a",
            body={"note": "材料齐全"},
            extra={"applicant": made.applicant},
            forbidden=("grid_a", "applicant"),
        )

    factory.__name__ = f"vendor_{decision}"
    return factory


for _name in DECISION_FROM:
    resource(f"{M}/vendors/{{vendor_id}}/{_name}", "post")(_decision(_name))


@resource(f"{M}/vendors/{{vendor_id}}/staff", "post")
def vendor_staff(world: World, method: str) -> Case:
    hire = world.make_user(f"新店员{next(_names)}")
    staff = _staff(world)
    return Case(
        {"vendor_id": world.vendor.public_id},
        owner="vendor",
        body={"user_id": hire.public_id, "role": "clerk"},
        extra={"clerk": staff.clerk},
        forbidden=("clerk", *COMMUNITY),
    )


# --- products --------------------------------------------------------------------------------------------------------

PRODUCT = {"name": "西红柿", "category": "蔬菜", "unit": "斤", "price_fen": 500, "stock": 10}


@resource(f"{M}/vendors/{{vendor_id}}/products", ("get", "post"))
def vendor_products(world: World, method: str) -> Case:
    staff = _staff(world)
    body = {**PRODUCT, "name": f"西红柿{next(_names)}"} if method == "post" else None
    return Case(
        {"vendor_id": world.vendor.public_id},
        owner="vendor",
        body=body,
        extra={"courier": staff.courier},
        forbidden=("courier", *COMMUNITY),
    )


@resource(f"{M}/vendor-products/{{product_id}}", "patch")
def vendor_product(world: World, method: str) -> Case:
    product = add_product(world.vendor, f"土豆{next(_names)}", stock=5)
    staff = _staff(world)
    return Case(
        {"product_id": product.public_id},
        owner="vendor",
        body={"stock_delta": 3},
        extra={"courier": staff.courier},
        forbidden=("courier",),
    )


@resource(f"{M}/products/{{product_id}}", "get")
def product(world: World, method: str) -> Case:
    # Residents of a community the vendor serves browse its products: the neighbour lives in A, like the owner.
    return Case({"product_id": _cabbage(world).public_id}, visible_to=("neighbour",))


# --- orders ----------------------------------------------------------------------------------------------------------


@resource(f"{M}/orders/{{order_id}}", "get")
def order_detail(world: World, method: str) -> Case:
    return _resident_side(world, {"order_id": _order(world)})


@resource(f"{M}/orders/{{order_id}}/cancel", "post")
def order_cancel(world: World, method: str) -> Case:
    return _resident_side(world, {"order_id": _order(world, "paid")}, body={"reason": "买错了"})


@resource(f"{M}/vendors/{{vendor_id}}/orders", "get")
def vendor_orders(world: World, method: str) -> Case:
    _order(world, "paid")
    return Case({"vendor_id": world.vendor.public_id}, owner="vendor", forbidden=COMMUNITY)


#: vendor step → (state the order must be in, whether a courier may take it)
VENDOR_STEPS = {
    "accept": ("paid", False),
    "reject": ("paid", False),
    "prepare": ("accepted", False),
    "ready": ("preparing", True),
    "complete": ("ready", True),
}


def _vendor_step(step: str):
    def factory(world: World, method: str) -> Case:
        state, courier_may = VENDOR_STEPS[step]
        staff = _staff(world)
        return Case(
            {"order_id": _order(world, state)},
            owner="vendor",
            body={"note": "缺货"} if step == "reject" else {},
            extra={"courier": staff.courier},
            forbidden=() if courier_may else ("courier",),
        )

    factory.__name__ = f"order_{step}"
    return factory


for _step in VENDOR_STEPS:
    resource(f"{M}/orders/{{order_id}}/{_step}", "post")(_vendor_step(_step))


@resource(f"{M}/orders/{{order_id}}/lines/{{line_no}}/adjustment", "put")
def order_line_adjustment(world: World, method: str) -> Case:
    staff = _staff(world)
    return Case(
        {"order_id": _order(world, "preparing", quantity=3), "line_no": "1"},
        owner="vendor",
        body={"missing_quantity": 1},
        extra={"courier": staff.courier},
        forbidden=("courier",),
    )


# --- lockers ---------------------------------------------------------------------------------------------------------


@resource(f"{M}/lockers/{{locker_id}}", "get")
def locker(world: World, method: str) -> Case:
    # Grid workers of the community read cabinets too (x-access roles), so grid_a is not forbidden here.
    return Case({"locker_id": _cabinet(world)[0]}, owner="staff_a")


@resource(f"{M}/lockers/{{locker_id}}/secret", "post")
def locker_secret(world: World, method: str) -> Case:
    # Installing and re-keying cabinets is staff work: a grid worker reads cabinets but is below this.
    return Case({"locker_id": _cabinet(world)[0]}, owner="staff_a", forbidden=("grid_a",))


@resource(f"{M}/lockers/{{locker_id}}/restore", "post")
def locker_restore(world: World, method: str) -> Case:
    return Case({"locker_id": _cabinet(world)[0]}, owner="staff_a", body={"note": "已检修"}, forbidden=("grid_a",))


@resource(f"{M}/vendors/{{vendor_id}}/lockers", "get")
def vendor_lockers(world: World, method: str) -> Case:
    _cabinet(world)
    return Case({"vendor_id": world.vendor.public_id}, owner="vendor", forbidden=COMMUNITY)


@resource(f"{M}/vendors/{{vendor_id}}/lockers/{{locker_id}}", "get")
def vendor_locker(world: World, method: str) -> Case:
    # A cabinet in a community the vendor does not serve (B) is not the vendor's to see, whatever its vendor_id says.
    body = {"estate_id": world.tree.estate_b.public_id, "name": f"和平柜{next(_names)}", "cells": [CELLS_AMBIENT]}
    elsewhere = world.ok("staff_b", "post", f"{M}/lockers", status=201, json=body)["id"]
    _refused(world, "vendor", "get", f"{M}/vendors/{world.vendor.public_id}/lockers/{elsewhere}", None, 404)
    return Case(
        {"vendor_id": world.vendor.public_id, "locker_id": _cabinet(world)[0]}, owner="vendor", forbidden=COMMUNITY
    )


@resource(f"{M}/vendors/{{vendor_id}}/uncollected-policy", ("get", "put"))
def uncollected_policy(world: World, method: str) -> Case:
    params = {"vendor_id": world.vendor.public_id}
    if method == "get":
        # Stated to every signed-in account before it orders (x-access), not a tenant's data.
        return Case(params, visible_to=("neighbour", "other_vendor", "staff_b"))
    staff = _staff(world)
    return Case(
        params, owner="vendor", body={"refund_bps": 5000}, extra={"clerk": staff.clerk}, forbidden=("clerk", *COMMUNITY)
    )


@resource(f"{M}/orders/{{order_id}}/dispatch", "post")
def order_dispatch(world: World, method: str) -> Case:
    _dispatch_cabinet(world)
    return Case({"order_id": _order(world, "preparing")}, owner="vendor", body={})


@resource(f"{M}/orders/{{order_id}}/delivered", "post")
def order_delivered(world: World, method: str) -> Case:
    order_id = _order(world, "preparing", fulfilment="delivery")
    world.ok("vendor", "post", f"{M}/orders/{order_id}/dispatch", status=200, json={})
    return Case({"order_id": order_id}, owner="vendor", body={})


@resource(f"{M}/orders/{{order_id}}/locker", "get")
def order_locker(world: World, method: str) -> Case:
    return _resident_side(world, {"order_id": _in_locker(world)})


for _action in ("deposit", "door-closed", "open", "retrieve", "heartbeat", "faults"):
    exempt(
        "post",
        f"{M}/devices/lockers/{{locker_id}}/{_action}",
        "a cabinet's own request, signed with its device secret (HMAC); no user token reaches it",
    )


# --- after-sales, reviews, dashboard, statements ---------------------------------------------------------------------


@resource(f"{M}/orders/{{order_id}}/aftersales", ("get", "post"))
def order_aftersales(world: World, method: str) -> Case:
    body = {"line_no": 1, "reason": "菜叶发黄"} if method == "post" else None
    return _resident_side(world, {"order_id": _order(world, "completed")}, body=body)


@resource(f"{M}/vendors/{{vendor_id}}/aftersales", "get")
def vendor_aftersales(world: World, method: str) -> Case:
    staff = _staff(world)
    return Case(
        {"vendor_id": world.vendor.public_id},
        owner="vendor",
        extra={"courier": staff.courier},
        forbidden=("courier", *COMMUNITY),
    )


@resource(f"{M}/aftersales/{{aftersale_id}}", "get")
def aftersale(world: World, method: str) -> Case:
    return _resident_side(world, {"aftersale_id": _aftersale(world)})


@resource(f"{M}/aftersales/{{aftersale_id}}/approve", "post")
@resource(f"{M}/aftersales/{{aftersale_id}}/refuse", "post")
def aftersale_decide(world: World, method: str) -> Case:
    staff = _staff(world)
    return Case(
        {"aftersale_id": _aftersale(world)},
        owner="vendor",
        body={"note": "同意退款"},
        extra={"courier": staff.courier},
        forbidden=("courier",),
    )


@resource(f"{M}/aftersales/{{aftersale_id}}/escalate", "post")
def aftersale_escalate(world: World, method: str) -> Case:
    return _resident_side(world, {"aftersale_id": _aftersale(world, "refused")}, body={"reason": "确实发黄"})


@resource(f"{M}/aftersales/{{aftersale_id}}/arbitrate", "post")
def aftersale_arbitrate(world: World, method: str) -> Case:
    # Community staff arbitrate; a grid worker is below the action, and so is the vendor whose decision is disputed.
    return Case(
        {"aftersale_id": _aftersale(world, "escalated")},
        owner="staff_a",
        body={"decision": "uphold", "note": "商户已按约定送达"},
        forbidden=("grid_a", "vendor"),
    )


@resource(f"{M}/orders/{{order_id}}/review", "post")
def order_review(world: World, method: str) -> Case:
    return _resident_side(world, {"order_id": _order(world, "completed")}, body={"rating": 5, "comment": "很新鲜"})


@resource(f"{M}/reviews/{{review_id}}/reply", "post")
def review_reply(world: World, method: str) -> Case:
    order_id = _order(world, "completed")
    review = world.ok(
        "owner", "post", f"{M}/orders/{order_id}/review", status=201, json={"rating": 4, "comment": "不错"}
    )
    staff = _staff(world)
    return Case(
        {"review_id": review["id"]},
        owner="vendor",
        body={"reply": "谢谢惠顾"},
        extra={"courier": staff.courier},
        forbidden=("courier",),
    )


@resource(f"{M}/vendors/{{vendor_id}}/reviews", "get")
def vendor_reviews(world: World, method: str) -> Case:
    # Reviews are shown to every signed-in account choosing a shop (x-access), not a tenant's data.
    return Case({"vendor_id": world.vendor.public_id}, visible_to=("neighbour", "other_vendor", "staff_b"))


@resource(f"{M}/vendors/{{vendor_id}}/dashboard", "get")
def vendor_dashboard(world: World, method: str) -> Case:
    staff = _staff(world)
    return Case(
        {"vendor_id": world.vendor.public_id},
        owner="vendor",
        extra={"courier": staff.courier},
        forbidden=("courier", *COMMUNITY),
    )


@resource(f"{M}/vendors/{{vendor_id}}/statement", "get")
@resource(f"{M}/vendors/{{vendor_id}}/statement/export", "get")
def vendor_statement(world: World, method: str) -> Case:
    # Money is the owner's: clerks and couriers are below the action.
    staff = _staff(world)
    return Case(
        {"vendor_id": world.vendor.public_id},
        owner="vendor",
        query={"month": utcnow().strftime("%Y-%m")},
        extra={"clerk": staff.clerk, "courier": staff.courier},
        forbidden=("clerk", "courier", *COMMUNITY),
    )


# --- home services ---------------------------------------------------------------------------------------------------


def _shop(world: World) -> SimpleNamespace:
    """A repair shop serving A: its owner, a clerk, two technicians (courier role) and a plumbing service."""

    def build() -> SimpleNamespace:
        from marketplace.service_models import ServiceKind, ServiceListing

        owner = world.make_user("刘师傅")
        shop = add_vendor(owner, [world.tree.a], name="安心维修", kind=VendorKind.repair)
        clerk, tech, other_tech = world.make_user("前台小王"), world.make_user("张师傅"), world.make_user("孙师傅")
        for user, role in ((clerk, "clerk"), (tech, "courier"), (other_tech, "courier")):
            add_role(shop, user, role)
        with atomic():
            service = ServiceListing(
                vendor_id=shop.id,
                name="水管漏水维修",
                kind=ServiceKind.plumbing,
                callout_fee_fen=3000,
                price_notes="换阀门 50 元起",
                duration_minutes=60,
                on_shelf=True,
            )
            database.session.add(service)
            database.session.flush()
        return SimpleNamespace(owner=owner, vendor=shop, clerk=clerk, tech=tech, other_tech=other_tech, service=service)

    return world.once("market:shop", build)


BOOKING_STEPS = {
    "pending": (),
    "accepted": ("accept",),
    "on_the_way": ("accept", "depart"),
    "arrived": ("accept", "depart", "arrive"),
    "quoted": ("accept", "depart", "arrive", "quote"),
    "in_progress": ("accept", "depart", "arrive", "quote", "accept-quote"),
    "awaiting_payment": ("accept", "depart", "arrive", "quote", "accept-quote", "complete"),
}


def _booking(world: World, state: str = "pending") -> str:
    """A fresh booking of the owner at the repair shop, taken to ``state`` (``paid`` and ``rated`` too)."""
    shop = _shop(world)
    start = utcnow() + timedelta(hours=2)
    body = {
        "service_id": shop.service.public_id,
        "description": "厨房水管漏水",
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=2)).isoformat(),
    }
    order_id = world.ok("owner", "post", f"{M}/service-orders", status=201, json=body)["id"]
    steps = BOOKING_STEPS["awaiting_payment" if state in ("paid", "rated") else state]
    bodies = {
        "accept": {"technician_id": shop.tech.public_id},
        "quote": {"lines": [{"name": "人工费", "unit_price_fen": 8000}]},
    }
    for step in steps:
        who = "owner" if step == "accept-quote" else shop.tech if step != "accept" else shop.owner
        world.ok(who, "post", f"{M}/service-orders/{order_id}/{step}", status=200, json=bodies.get(step, {}))
    if state in ("paid", "rated"):
        _pay(world, "marketplace.service_order", order_id)
    if state == "rated":
        world.ok(
            "owner", "post", f"{M}/service-orders/{order_id}/rate", status=200, json={"rating": 5, "comment": "好"}
        )
    return order_id


@resource(f"{M}/vendors/{{vendor_id}}/services", ("get", "post"))
def vendor_services(world: World, method: str) -> Case:
    shop = _shop(world)
    params = {"vendor_id": shop.vendor.public_id}
    if method == "get":
        return Case(params, owner=shop.owner, forbidden=COMMUNITY)
    body = {"name": f"开锁换锁{next(_names)}", "kind": "locks", "callout_fee_fen": 5000, "duration_minutes": 30}
    # Only the owner lists services: a clerk is below the action.
    return Case(params, owner=shop.owner, body=body, extra={"clerk": shop.clerk}, forbidden=("clerk", *COMMUNITY))


@resource(f"{M}/vendor-services/{{service_id}}", "patch")
def vendor_service(world: World, method: str) -> Case:
    shop = _shop(world)
    created = world.ok(
        shop.owner,
        "post",
        f"{M}/vendors/{shop.vendor.public_id}/services",
        status=201,
        json={"name": f"保洁{next(_names)}", "kind": "cleaning", "callout_fee_fen": 0, "duration_minutes": 120},
    )
    return Case(
        {"service_id": created["id"]},
        owner=shop.owner,
        body={"price_notes": "按小时计费"},
        extra={"clerk": shop.clerk},
        forbidden=("clerk",),
    )


@resource(f"{M}/services/{{service_id}}", "get")
def service(world: World, method: str) -> Case:
    # Residents of a community the vendor serves see its services: the neighbour lives in A, like the owner.
    return Case({"service_id": _shop(world).service.public_id}, visible_to=("neighbour",))


@resource(f"{M}/service-orders/{{order_id}}", "get")
def booking(world: World, method: str) -> Case:
    return _resident_side(world, {"order_id": _booking(world)})


#: resident step → (state of the booking, body)
RESIDENT_BOOKING_STEPS = {
    "cancel": ("pending", {"reason": "不需要了"}),
    "accept-quote": ("quoted", {}),
    "decline-quote": ("quoted", {"reason": "太贵了"}),
    "rate": ("paid", {"rating": 5, "comment": "修得很好"}),
    "rework": ("paid", {"reason": "又漏水了"}),
}


def _resident_booking_step(step: str):
    def factory(world: World, method: str) -> Case:
        state, body = RESIDENT_BOOKING_STEPS[step]
        return _resident_side(world, {"order_id": _booking(world, state)}, body=body)

    factory.__name__ = f"booking_{step}"
    return factory


for _step in RESIDENT_BOOKING_STEPS:
    resource(f"{M}/service-orders/{{order_id}}/{_step}", "post")(_resident_booking_step(_step))


@resource(f"{M}/vendors/{{vendor_id}}/service-orders", "get")
def vendor_bookings(world: World, method: str) -> Case:
    shop = _shop(world)
    _booking(world)
    return Case({"vendor_id": shop.vendor.public_id}, owner=shop.owner, forbidden=COMMUNITY)


#: vendor step → (state of the booking, body, whether it dispatches: couriers get 403)
VENDOR_BOOKING_STEPS = {
    "accept": ("pending", "technician", True),
    "decline": ("pending", {"reason": "师傅都没空"}, True),
    "assign": ("accepted", "other_technician", True),
    "reply": ("rated", {"text": "感谢好评"}, True),
    "depart": ("accepted", {}, False),
    "arrive": ("on_the_way", {}, False),
    "quote": ("arrived", {"lines": [{"name": "人工费", "unit_price_fen": 8000}]}, False),
    "complete": ("in_progress", {}, False),
}


def _vendor_booking_step(step: str):
    def factory(world: World, method: str) -> Case:
        shop = _shop(world)
        state, body, dispatching = VENDOR_BOOKING_STEPS[step]
        if body == "technician":
            body = {"technician_id": shop.tech.public_id}
        elif body == "other_technician":
            body = {"technician_id": shop.other_tech.public_id}
        order_id = _booking(world, state)
        # A technician (courier role) sees only the bookings assigned to it: any other is 404 to it, even a pending
        # one it might be sent to; on its own booking, dispatching is beyond its role (403) but the visit is its work.
        _refused(world, shop.other_tech, "post", f"{M}/service-orders/{order_id}/{step}", body, 404)
        assigned = state != "pending"
        return Case(
            {"order_id": order_id},
            owner=shop.owner,
            body=body,
            extra={"technician": shop.tech},
            forbidden=("technician",) if dispatching and assigned else (),
        )

    factory.__name__ = f"booking_{step.replace('-', '_')}"
    return factory


for _step in VENDOR_BOOKING_STEPS:
    resource(f"{M}/service-orders/{{order_id}}/{_step}", "post")(_vendor_booking_step(_step))
