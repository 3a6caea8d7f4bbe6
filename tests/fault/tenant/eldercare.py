"""Cross-tenant factories for /api/v1/eldercare (see world.py).

The world's owner (born 1950, local hukou here) is the elder: she orders for herself, and her child bound with every
delegation scope but ``eldercare`` ("family") must be refused with 403. A provider's people are extra callers: its
admin owns the provider's work, its caregiver is a role below it (403), and the assigned caregiver owns the visit.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from app.accounts.resident_models import HukouStatus
from app.db import atomic, utcnow
from app.extensions import db
from eldercare import balances
from eldercare.meal_models import BalanceTopup
from eldercare.models import CareCategory, CareItem, CareOrder, ProviderStatus
from eldercare.subsidies import SHANGHAI
from tests.eldercare.fixtures import add, add_offer, add_provider, add_role, add_rule
from tests.fault.tenant.world import Case, World, resource

E = "/api/v1/eldercare"
P = f"{E}/providers/{{provider_id}}"
O = f"{E}/orders/{{order_id}}"  # noqa: E741  (a path, not a number)
MANAGE = ("caregiver", "staff_a", "grid_a")  # eldercare.provider.manage is the provider admin's alone


def _family(world: World) -> dict:
    return {"family": world.delegate_without("eldercare")}


def _provider(world: World, *, status: ProviderStatus = ProviderStatus.approved) -> SimpleNamespace:
    """A fresh provider serving community A, with its admin, a caregiver skilled in baths and a bath offer."""
    admin = world.make_user("机构管理员")
    provider = add_provider(admin, [world.tree.a], status=status)
    caregiver = world.make_user("护理员")
    add_role(provider, caregiver, "caregiver")
    offer = add_offer(provider, [world.tree.a])
    if status is ProviderStatus.approved:
        world.ok(admin, "put", f"{E}/providers/{provider.public_id}/caregivers/{caregiver.public_id}", json=BATH)
    return SimpleNamespace(admin=admin, provider=provider, caregiver=caregiver, offer=offer)


BATH = {"skills": ["bath"]}


def _people(care: SimpleNamespace, world: World) -> dict:
    return {"provider_admin": care.admin, "caregiver": care.caregiver, **_family(world)}


def _care(world: World) -> SimpleNamespace:
    """The provider the owner orders from, a 10 % copay rule for her (≥ 70, local) and her funded care balance."""

    def build() -> SimpleNamespace:
        with atomic():
            world.owner_resident.hukou_status = HukouStatus.local
            db.session.add(world.owner_resident)
        add_rule("七十岁以上本地户籍", min_age=70, copay_bps=1000, quota=10_000_000)
        care = _provider(world)
        with atomic():
            card = balances.CareBalance(
                resident_id=world.owner_resident.id, provider_id=care.provider.id, issued_by_user_id=care.admin.id
            )
            db.session.add(card)
            db.session.flush()
            topup = add(
                BalanceTopup(
                    balance_id=card.id, amount_fen=400_000, requested_by_user_id=world.owner.id, expires_at=utcnow()
                )
            )
            balances.credit_topup(topup, paid_at=utcnow(), payment_public_id="P" + topup.public_id[:12])
        care.balance = card
        return care

    return world.once("care", build)


STEPS = ("pending_payment", "submitted", "accepted", "assigned", "in_service", "serviced")


def _order(world: World, upto: str = "pending_payment") -> tuple[str, SimpleNamespace]:
    """A fresh bath the owner ordered for tomorrow, walked up to ``upto`` (see STEPS)."""
    care = _care(world)
    body = {"offer_id": care.offer.public_id, "scheduled_at": (utcnow() + timedelta(days=1)).isoformat()}
    order_id = world.ok("owner", "post", f"{E}/orders", json=body)["id"]
    base = f"{E}/orders/{order_id}"
    steps = {
        "submitted": ("owner", "pay-from-balance", None),
        "accepted": (care.admin, "accept", {}),
        "assigned": (care.admin, "assign", {"caregiver_id": care.caregiver.public_id}),
        "in_service": (care.caregiver, "check-in", {"lat": 39.9042, "lng": 116.4074}),
        "serviced": (care.caregiver, "check-out", {"service_record": "协助洗浴"}),
    }
    for step in STEPS[1 : STEPS.index(upto) + 1]:
        who, action, json = steps[step]
        world.ok(who, "post", f"{base}/{action}", json=json)
    return order_id, care


def _tomorrow():
    return (utcnow() + timedelta(days=1)).astimezone(SHANGHAI).date()


# --- elders ----------------------------------------------------------------------------------------------------------


@resource(f"{E}/elders/{{resident_id}}", ("get", "put"))
def elder(world: World, method: str) -> Case:
    _care(world)
    body = {"emergency_contacts": [{"name": "张小三", "phone": "13800138000", "relation": "儿子"}]}
    return Case(
        {"resident_id": world.owner_resident.public_id},
        body=body if method == "put" else None,
        extra=_family(world),
        forbidden=("family",),
    )


# --- providers -------------------------------------------------------------------------------------------------------


@resource(P, "get")
def provider(world: World, method: str) -> Case:
    care = _provider(world)
    # eldercare.provider.read: its people and the staff of a community it serves; not a grid worker.
    return Case({"provider_id": care.provider.public_id}, owner=care.admin, forbidden=("grid_a",))


def _decision(status: ProviderStatus):
    def factory(world: World, method: str) -> Case:
        care = _provider(world, status=status)
        return Case(
            {"provider_id": care.provider.public_id},
            owner="staff_a",
            body={"note": "材料齐全"},
            extra=_people(care, world),
            forbidden=("grid_a", "provider_admin", "caregiver"),
        )

    return factory


resource(f"{P}/approve", "post")(_decision(ProviderStatus.pending))
resource(f"{P}/reject", "post")(_decision(ProviderStatus.pending))
resource(f"{P}/suspend", "post")(_decision(ProviderStatus.approved))


def _managed(world: World, body=None, *, forbidden=MANAGE, **params) -> Case:
    care = params.pop("care", None) or _provider(world)
    return Case(
        {"provider_id": care.provider.public_id, **params},
        owner=care.admin,
        body=body,
        extra=_people(care, world),
        forbidden=forbidden,
    )


@resource(f"{P}/staff", "post")
def provider_staff(world: World, method: str) -> Case:
    return _managed(world, {"user_id": world.make_user("新护理员").public_id, "role": "caregiver"})


@resource(f"{P}/offers", "post")
def provider_offers(world: World, method: str) -> Case:
    with atomic():
        item = add(CareItem(category=CareCategory.cleaning, name=f"助洁{utcnow().timestamp()}"))
    body = {
        "item_id": item.public_id,
        "price_fen": 2000,
        "duration_minutes": 90,
        "community_ids": [world.tree.a.public_id],
    }
    return _managed(world, body)


@resource(f"{P}/orders", "get")
def provider_orders(world: World, method: str) -> Case:
    # eldercare.order.read: the provider admin and its caregivers (their own visits); community staff are not in it.
    return _managed(world, forbidden=("staff_a", "grid_a"))


@resource(f"{P}/caregivers", "get")
def provider_caregivers(world: World, method: str) -> Case:
    return _managed(world)


@resource(f"{P}/caregivers/{{user_id}}", "put")
def provider_caregiver(world: World, method: str) -> Case:
    care = _provider(world)
    return _managed(world, {"skills": ["bath", "cleaning"]}, care=care, user_id=care.caregiver.public_id)


@resource(f"{P}/cancellation-fee", "put")
def provider_fee(world: World, method: str) -> Case:
    return _managed(world, {"cancellation_fee_fen": 500})


@resource(f"{E}/offers/{{offer_id}}/cancellation-fee", "put")
def offer_fee(world: World, method: str) -> Case:
    care = _provider(world)
    # An offer lies in the provider's scope only: community staff are outside it (404), a caregiver below it (403).
    return Case(
        {"offer_id": care.offer.public_id},
        owner=care.admin,
        body={"cancellation_fee_fen": 800},
        extra=_people(care, world),
        forbidden=("caregiver",),
    )


@resource(f"{P}/meal-settings", "put")
def meal_settings(world: World, method: str) -> Case:
    return _managed(world, {"cutoff": "09:30", "serve_at": "11:30"})


@resource(f"{P}/dishes", ("get", "post"))
def dishes(world: World, method: str) -> Case:
    if method == "get":
        # eldercare.provider.read: caregivers and community staff read the dishes too; a grid worker may not.
        return _managed(world, forbidden=("grid_a",))
    return _managed(world, {"name": "清炒时蔬", "diet_tags": ["low_salt"], "conflicts_with": []})


@resource(f"{P}/menus/{{day}}", "put")
def menu(world: World, method: str) -> Case:
    care = _provider(world)
    lunch = add_offer(care.provider, [world.tree.a], name="午餐送餐", category=CareCategory.meal, price_fen=1500)
    dish = world.ok(care.admin, "post", f"{E}/providers/{care.provider.public_id}/dishes", json={"name": "番茄炒蛋"})[
        "id"
    ]
    body = {"offer_id": lunch.public_id, "dish_ids": [dish]}
    return _managed(world, body, care=care, day=_tomorrow().isoformat())


@resource(f"{P}/balances", "post")
def provider_balances(world: World, method: str) -> Case:
    _care(world)  # the owner's hukou and household are in place
    return _managed(world, {"elder_id": world.owner_resident.public_id})


def _claims(world: World, method: str) -> Case:
    care = _provider(world)
    # Claims are the street office's: community staff of a served community; the provider's own people are below.
    return Case(
        {"provider_id": care.provider.public_id},
        owner="staff_a",
        query={"month": f"{utcnow().astimezone(SHANGHAI):%Y-%m}"},
        extra=_people(care, world),
        forbidden=("grid_a", "provider_admin", "caregiver"),
    )


resource(f"{P}/claims", "get")(_claims)
resource(f"{P}/claims/export", "get")(_claims)


# --- orders and visits -----------------------------------------------------------------------------------------------


def _family_case(world: World, upto: str, body=None) -> Case:
    order_id, care = _order(world, upto)
    return Case({"order_id": order_id}, body=body, extra=_people(care, world), forbidden=("family",))


def _provider_case(world: World, upto: str, body=None, forbidden=("caregiver",)) -> Case:
    order_id, care = _order(world, upto)
    return Case({"order_id": order_id}, owner=care.admin, body=body, extra=_people(care, world), forbidden=forbidden)


def _caregiver_case(world: World, upto: str, body) -> Case:
    # Only the assigned caregiver acts on the visit; everyone else gets 404, as x-access says.
    order_id, care = _order(world, upto)
    return Case({"order_id": order_id}, owner=care.caregiver, body=body, extra=_people(care, world))


@resource(O, "get")
def order(world: World, method: str) -> Case:
    return _family_case(world, "submitted")


@resource(f"{O}/cancel", "post")
def order_cancel(world: World, method: str) -> Case:
    return _family_case(world, "submitted", {"reason": "不需要了"})


@resource(f"{O}/pay-from-balance", "post")
def order_pay_from_balance(world: World, method: str) -> Case:
    return _family_case(world, "pending_payment")


@resource(f"{O}/visit", "get")
def order_visit(world: World, method: str) -> Case:
    return _family_case(world, "assigned")


@resource(f"{O}/confirm", "post")
def order_confirm(world: World, method: str) -> Case:
    return _family_case(world, "serviced", {"rating": 5, "comment": "很好"})


@resource(f"{O}/accept", "post")
def order_accept(world: World, method: str) -> Case:
    return _provider_case(world, "submitted", {"note": "明早九点上门"})


@resource(f"{O}/decline", "post")
def order_decline(world: World, method: str) -> Case:
    return _provider_case(world, "submitted", {"reason": "当天已排满"})


@resource(f"{O}/assign", "post")
def order_assign(world: World, method: str) -> Case:
    care = _care(world)
    return _provider_case(world, "accepted", {"caregiver_id": care.caregiver.public_id})


@resource(f"{O}/provider-cancel", "post")
def order_provider_cancel(world: World, method: str) -> Case:
    return _provider_case(world, "accepted", {"reason": "护理员突发疾病"})


@resource(f"{O}/no-show", "post")
def order_no_show(world: World, method: str) -> Case:
    case = _provider_case(world, "assigned", {"reason": "护理员未上门"}, forbidden=("caregiver", "grid_a"))
    with atomic():  # the start has passed (a no-show is marked after it)
        db.session.execute(
            sa.update(CareOrder)
            .where(CareOrder.public_id == case.params["order_id"])
            .values(scheduled_at=utcnow() - timedelta(hours=1))
        )
    return case


@resource(f"{O}/check-in", "post")
def order_check_in(world: World, method: str) -> Case:
    return _caregiver_case(world, "assigned", {"lat": 39.9042, "lng": 116.4074})


@resource(f"{O}/check-out", "post")
def order_check_out(world: World, method: str) -> Case:
    return _caregiver_case(world, "in_service", {"service_record": "协助洗浴，修剪指甲"})


@resource(f"{O}/no-answer", "post")
def order_no_answer(world: World, method: str) -> Case:
    return _caregiver_case(world, "assigned", {"note": "敲门无人应答"})


# --- recurring orders ------------------------------------------------------------------------------------------------


def _series(world: World, *, paused: bool = False) -> str:
    care = _care(world)
    body = {
        "offer_id": care.offer.public_id,
        "pattern": "weekly",
        "weekdays": [_tomorrow().isoweekday()],
        "starts_on": _tomorrow().isoformat(),
        "pay_from_balance": True,
    }
    series_id = world.ok("owner", "post", f"{E}/series", json=body)["id"]
    if paused:
        world.ok("owner", "post", f"{E}/series/{series_id}/pause", json={"from": _tomorrow().isoformat()})
    return series_id


@resource(f"{E}/series/{{series_id}}", "get")
def series(world: World, method: str) -> Case:
    return Case({"series_id": _series(world)}, extra=_family(world), forbidden=("family",))


@resource(f"{E}/series/{{series_id}}/pause", "post")
def series_pause(world: World, method: str) -> Case:
    body = {"from": _tomorrow().isoformat(), "reason": "住院"}
    return Case({"series_id": _series(world)}, body=body, extra=_family(world), forbidden=("family",))


@resource(f"{E}/series/{{series_id}}/resume", "post")
def series_resume(world: World, method: str) -> Case:
    return Case({"series_id": _series(world, paused=True)}, body={}, extra=_family(world), forbidden=("family",))


@resource(f"{E}/series/{{series_id}}/end", "post")
def series_end(world: World, method: str) -> Case:
    body = {"reason": "搬去女儿家住"}
    return Case({"series_id": _series(world)}, body=body, extra=_family(world), forbidden=("family",))


# --- care balances ---------------------------------------------------------------------------------------------------


def _balance(world: World, body=None) -> Case:
    """A fresh balance of the owner with a new provider, issued by its admin."""
    _care(world)
    care = _provider(world)
    path = f"{E}/providers/{care.provider.public_id}/balances"
    balance_id = world.ok(care.admin, "post", path, json={"elder_id": world.owner_resident.public_id})["id"]
    # The provider's caregiver is not its admin: the balance is the elder's and the admin's only.
    return Case({"balance_id": balance_id}, body=body, extra=_people(care, world), forbidden=("family",))


@resource(f"{E}/balances/{{balance_id}}", "get")
def balance(world: World, method: str) -> Case:
    return _balance(world)


@resource(f"{E}/balances/{{balance_id}}/ledger", "get")
def balance_ledger(world: World, method: str) -> Case:
    return _balance(world)


@resource(f"{E}/balances/{{balance_id}}/topups", "post")
def balance_topups(world: World, method: str) -> Case:
    return _balance(world, {"amount_fen": 10_000})
