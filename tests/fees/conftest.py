"""Fixtures for fee tests: the shared community tree, a payee, fee items, residents in households, paying helpers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.accounts.resident_models import DelegationStatus
from app.db import atomic
from app.extensions import db as database
from fees import billing
from fees.models import Bill, Cycle, FeeItem, FeeKind, Formula
from fees.money import shanghai_today
from payments.models import Payee, PayeeKind
from tests.community.fixtures import api, join, make_delegation, make_resident, make_staff, tree  # noqa: F401  (fixtures)

_sequences = itertools.count(100)


@pytest.fixture(autouse=True)
def shared_extensions(app) -> Iterator[None]:
    """A demo-mode app built by a test rebinds the process-wide Redis client and limiter; bind them back."""
    from app.extensions import limiter, redis_client

    yield
    redis_client.init_app(app)
    limiter.init_app(app)


def add_payee(name: str = "幸福物业") -> Payee:
    with atomic():
        payee = Payee(name=name, kind=PayeeKind.property_company)
        database.session.add(payee)
        database.session.flush()
    return payee


@pytest.fixture
def payee(app) -> Payee:
    return add_payee()


def add_item(
    estate,
    payee: Payee,
    name: str = "物业费",
    *,
    kind: str = "property",
    formula: str = "per_area",
    rate: int = 15000,
    cycle: str = "monthly",
    **extra,
) -> FeeItem:
    """A fee item straight in the database (the API is tested on its own)."""
    with atomic():
        item = FeeItem(
            estate_id=estate.id,
            community_id=estate.community_id,
            payee_id=payee.id,
            name=name,
            kind=FeeKind(kind),
            formula=Formula(formula),
            rate_centifen=rate,
            cycle=Cycle(cycle),
            **extra,
        )
        database.session.add(item)
        database.session.flush()
    return item


def generate(estate, period: date) -> dict:
    with atomic():
        return billing.generate(estate.id, period)


def bills_of(household, **where) -> list[Bill]:
    query = sa.select(Bill).where(Bill.household_id == household.id)
    for name, value in where.items():
        query = query.where(getattr(Bill, name) == value)
    return database.session.scalars(
        query.order_by(Bill.period, Bill.id).execution_options(populate_existing=True)
    ).all()


@pytest.fixture
def person(make_resident, join) -> Callable:  # noqa: F811  (fixtures imported above)
    """``person(household, name, role="head")`` → (user, resident), an active member with an account."""

    def create(household, name: str = "张三", *, role: str = "head", account: bool = True, born=date(1980, 1, 1)):
        user, resident = make_resident(name, sequence=f"{next(_sequences) % 900 + 100:03d}", born=born, account=account)
        join(resident, household, role)
        return user, resident

    return create


@pytest.fixture
def place(tree, payee) -> SimpleNamespace:  # noqa: F811  (fixture imported above)
    """Estate A (幸福家园, rooms 101, 102, 201 of 89.50 m²) with a 物业费 item: 1.50 元/m²·月, due on the 16th,
    late fee 万分之五 a day capped at 10 % of the principal."""
    item = add_item(tree.estate_a, payee, late_fee_bps_per_day=5, late_fee_cap_bps=1000, due_days=15)
    return SimpleNamespace(tree=tree, estate=tree.estate_a, rooms=tree.rooms_a, item=item, payee=payee)


def pay(call, user, order_id: str, channel: str = "sandbox"):
    """Open a payment for a fee order as ``user`` (the documented path)."""
    return call(
        user, "post", "/api/v1/payments", json={"kind": "fees.fee_order", "ids": [order_id], "channel": channel}
    )


def confirm(user, payment_id: str):
    """The sandbox's success notification, through the same paid path as a gateway callback."""
    from payments.paid import confirm_sandbox

    return confirm_sandbox(user, payment_id)


def move_out(resident, household, on: date = date(2026, 10, 31)) -> None:
    """End the resident's membership of the household (moved out on ``on``)."""
    from app.accounts.resident_models import HouseholdMembership, MembershipStatus

    with atomic():
        database.session.execute(
            sa.update(HouseholdMembership)
            .where(
                HouseholdMembership.resident_id == resident.id,
                HouseholdMembership.household_id == household.id,
                HouseholdMembership.status == MembershipStatus.active,
            )
            .values(status=MembershipStatus.ended, ends_on=on)
        )


def months_back(count: int) -> list[date]:
    """The first days of the ``count`` months before this one, oldest first."""
    first = shanghai_today().replace(day=1)
    periods = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        periods.append(first)
    return sorted(periods)


def billed(place, household, periods) -> list[Bill]:
    for period in periods:
        generate(place.estate, period)
    return bills_of(household)


def order(call, user, household, bills):
    """Make a fee order of ``bills`` for ``household`` as ``user``."""
    return call(
        user,
        "post",
        "/api/v1/fees/orders",
        json={"household_id": household.public_id, "bill_ids": [b.public_id for b in bills]},
    )


def delegate(actor, subject, scopes=("bills",), status=DelegationStatus.active):
    return make_delegation(actor, subject, scopes, status=status)
