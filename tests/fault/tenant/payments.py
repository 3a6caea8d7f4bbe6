"""Cross-tenant factories for /api/v1/fees and /api/v1/payments (see world.py).

The owner heads room 101 of estate 幸福家园 in community A and pays its bills; her child bound with every delegation
scope but ``bills`` ("family") must be refused with 403. Staff work on fee items, readings, billing and arrears
belongs to ``staff_a`` (fees.* are for admin and staff, so the grid worker of A is a role below it: 403).
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db
from fees import billing
from fees.models import Bill, Cycle, FeeItem, FeeKind, Formula
from fees.money import shanghai_today
from payments.models import Payee, PayeeKind
from payments.paid import confirm_sandbox
from tests.fault.tenant.world import Case, World, resource

F = "/api/v1/fees"
PAY = "/api/v1/payments"
_names = itertools.count(1)


def _payee(world: World) -> Payee:
    def build() -> Payee:
        with atomic():
            payee = Payee(name="幸福物业", kind=PayeeKind.property_company)
            db.session.add(payee)
            db.session.flush()
        return payee

    return world.once("fees:payee", build)


def _item(world: World, *, formula: Formula = Formula.fixed) -> FeeItem:
    """A fresh fee item of estate A (50 元 a household a month, or 0.50 元 a unit when metered)."""
    estate = world.tree.estate_a
    with atomic():
        item = FeeItem(
            estate_id=estate.id,
            community_id=estate.community_id,
            payee_id=_payee(world).id,
            name=f"公共服务费{next(_names)}",
            kind=FeeKind.water if formula is Formula.metered else FeeKind.property,
            formula=formula,
            rate_centifen=5_000 if formula is Formula.metered else 500_000,
            cycle=Cycle.monthly,
            late_fee_bps_per_day=5,
            late_fee_cap_bps=1000,
        )
        db.session.add(item)
        db.session.flush()
    return item


def _period() -> str:
    return f"{shanghai_today():%Y-%m}"


def _bill(world: World) -> str:
    """A fresh bill of the owner's room 101 for this month, from a new fee item."""
    item = _item(world)
    with atomic():
        billing.generate(world.tree.estate_a.id, shanghai_today().replace(day=1))
    room = world.tree.rooms_a["101"]
    return db.session.scalar(sa.select(Bill.public_id).where(Bill.item_id == item.id, Bill.household_id == room.id))


def _order(world: World) -> str:
    body = {"household_id": world.tree.rooms_a["101"].public_id, "bill_ids": [_bill(world)]}
    return world.ok("owner", "post", f"{F}/orders", json=body)["id"]


def _paid(world: World) -> SimpleNamespace:
    """A fee order of the owner paid in the sandbox: its payment and receipt."""
    order_id = _order(world)
    body = {"kind": "fees.fee_order", "ids": [order_id], "channel": "sandbox"}
    payment_id = world.ok("owner", "post", PAY, json=body)["id"]
    confirm_sandbox(world.owner, payment_id)
    order = world.ok("owner", "get", f"{F}/orders/{order_id}")
    assert order["receipt_id"], order
    return SimpleNamespace(order_id=order_id, payment_id=payment_id, receipt_id=order["receipt_id"])


def _household_case(world: World, params: dict) -> Case:
    # A household's members and their `bills` delegates read its bills; staff of A too (fees.read), not its grid
    # worker (a role below it); a delegate of the owner without `bills` is refused.
    return Case(params, extra={"family": world.delegate_without("bills")}, forbidden=("family", "grid_a"))


# --- residents -------------------------------------------------------------------------------------------------------


@resource(f"{F}/households/{{household_id}}/bills", "get")
def household_bills(world: World, method: str) -> Case:
    _bill(world)
    return _household_case(world, {"household_id": world.tree.rooms_a["101"].public_id})


@resource(f"{F}/bills/{{bill_id}}", "get")
def bill(world: World, method: str) -> Case:
    return _household_case(world, {"bill_id": _bill(world)})


@resource(f"{F}/orders/{{order_id}}", "get")
def fee_order(world: World, method: str) -> Case:
    return _household_case(world, {"order_id": _order(world)})


@resource(f"{F}/orders/{{order_id}}/cancel", "post")
def fee_order_cancel(world: World, method: str) -> Case:
    # Only the order's creator gives it up (x-access: signed in, no scope); everyone else 404.
    return Case({"order_id": _order(world)})


@resource(f"{F}/receipts/{{receipt_id}}", "get")
def receipt(world: World, method: str) -> Case:
    return _household_case(world, {"receipt_id": _paid(world).receipt_id})


@resource(f"{F}/receipts/{{receipt_id}}/printable", "get")
def receipt_printable(world: World, method: str) -> Case:
    return _household_case(world, {"receipt_id": _paid(world).receipt_id})


@resource(f"{PAY}/{{payment_id}}", "get")
def payment(world: World, method: str) -> Case:
    order_id = _order(world)
    body = {"kind": "fees.fee_order", "ids": [order_id], "channel": "sandbox"}
    # The payer, the resident paid for, or a platform admin (payments.permissions.may_view).
    return Case({"payment_id": world.ok("owner", "post", PAY, json=body)["id"]})


@resource(f"{PAY}/{{payment_id}}/receipt", "get")
def payment_receipt(world: World, method: str) -> Case:
    return Case({"payment_id": _paid(world).payment_id})


# --- staff of community A --------------------------------------------------------------------------------------------


def _staff(params: dict, body=None, query=None, **extra) -> Case:
    return Case(params, owner="staff_a", body=body, query=query, forbidden=("grid_a",), **extra)


def _estate(world: World) -> dict:
    return {"estate_id": world.tree.estate_a.public_id}


@resource(f"{F}/estates/{{estate_id}}/items", ("get", "post"))
def estate_items(world: World, method: str) -> Case:
    body = {
        "name": "停车费",
        "kind": "parking",
        "formula": "fixed",
        "rate_centifen": 1_500_000,
        "cycle": "monthly",
        "payee_id": _payee(world).public_id,
    }
    return _staff(_estate(world), body if method == "post" else None)


@resource(f"{F}/items/{{item_id}}", ("get", "patch"))
def item(world: World, method: str) -> Case:
    return _staff({"item_id": _item(world).public_id}, {"rate_centifen": 520_000} if method == "patch" else None)


@resource(f"{F}/items/{{item_id}}/readings", ("get", "post"))
def readings(world: World, method: str) -> Case:
    item_id = _item(world, formula=Formula.metered).public_id
    if method == "get":
        return _staff({"item_id": item_id}, query={"period": _period()})
    body = {
        "household_id": world.tree.rooms_a["101"].public_id,
        "period": _period(),
        "previous_reading": "100",
        "current_reading": "123.5",
    }
    return _staff({"item_id": item_id}, body)


@resource(f"{F}/items/{{item_id}}/readings/import", "post")
def readings_import(world: World, method: str) -> Case:
    item_id = _item(world, formula=Formula.metered).public_id
    # The runner sends JSON and this operation takes CSV (text/csv or a multipart file): the owner's call can only be
    # refused as no CSV (422 import_failed) - after the scope check, so outsiders still get 404 and the grid worker
    # 403. The CSV path itself is covered by tests/fees/test_items_and_readings.py.
    return _staff({"item_id": item_id}, {}, query={"period": _period()}, owner_status=422)


@resource(f"{F}/estates/{{estate_id}}/billing-runs", "post")
def billing_runs(world: World, method: str) -> Case:
    return _staff(_estate(world), {"period": _period()})


@resource(f"{F}/billing-runs/{{run_id}}", "get")
def billing_run(world: World, method: str) -> Case:
    path = f"{F}/estates/{world.tree.estate_a.public_id}/billing-runs"
    run_id = world.ok("staff_a", "post", path, json={"period": _period()}, status=202)["id"]
    return _staff({"run_id": run_id})


@resource(f"{F}/estates/{{estate_id}}/bills", "get")
def estate_bills(world: World, method: str) -> Case:
    _bill(world)
    return _staff(_estate(world), query={"period": _period()})


@resource(f"{F}/bills/{{bill_id}}/adjustments", "post")
def bill_adjustments(world: World, method: str) -> Case:
    return _staff({"bill_id": _bill(world)}, {"kind": "discount", "amount_fen": 1000, "reason": "困难户减免"})


@resource(f"{F}/estates/{{estate_id}}/arrears", "get")
def arrears(world: World, method: str) -> Case:
    return _staff(_estate(world))


@resource(f"{F}/estates/{{estate_id}}/arrears/export", "get")
def arrears_export(world: World, method: str) -> Case:
    return _staff(_estate(world))


@resource(f"{F}/estates/{{estate_id}}/reminders", "post")
def reminders(world: World, method: str) -> Case:
    return _staff(_estate(world))


@resource(f"{F}/estates/{{estate_id}}/dashboard", "get")
def dashboard(world: World, method: str) -> Case:
    month = _period()
    year = utcnow().year
    return _staff(_estate(world), query={"from": f"{year}-01", "to": month})
