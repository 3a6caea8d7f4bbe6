"""Builders and fixtures for marketplace tests: an approved grocer serving 幸福社区 with products, a resident, and
helpers to place and pay orders (collected by conftest.py, beside the shared community fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.auth.models import RoleAssignment
from app.db import atomic, utcnow
from app.extensions import db as database
from marketplace.models import Product, ProductUnit, StorageZone, Vendor, VendorCommunity, VendorKind, VendorStatus
from payments.models import Payee, PayeeKind
from tests.community.fixtures import build_tree

M = "/api/v1/marketplace"


def add_vendor(owner, communities, *, name="绿园生鲜", status=VendorStatus.approved, kind=VendorKind.grocery) -> Vendor:
    """A vendor (approved by default, with a vendor payee) owned by ``owner``, serving ``communities``."""
    with atomic():
        payee = Payee(name=name, kind=PayeeKind.vendor)
        database.session.add(payee)
        database.session.flush()
        vendor = Vendor(
            name=name,
            kind=kind,
            licence_no="91110101MA00000001",
            food_licence_no="JY11101010000001" if kind is VendorKind.grocery else None,
            contact_name="王老板",
            contact_phone="13800138000",
            opening_hours="07:00-21:00",
            payee_id=payee.id,
            status=status,
            applicant_user_id=owner.id,
        )
        database.session.add(vendor)
        database.session.flush()
        database.session.add_all(VendorCommunity(vendor_id=vendor.id, community_id=c.id) for c in communities)
        database.session.add(RoleAssignment(user_id=owner.id, role="owner", scope_kind="vendor", scope_id=vendor.id))
    return vendor


def add_role(vendor, user, role: str) -> None:
    with atomic():
        database.session.add(RoleAssignment(user_id=user.id, role=role, scope_kind="vendor", scope_id=vendor.id))


def add_product(vendor, name="小白菜", *, price_fen=300, stock=20, category="蔬菜", **columns) -> Product:
    with atomic():
        product = Product(
            vendor_id=vendor.id,
            name=name,
            category=category,
            unit=columns.pop("unit", ProductUnit.jin),
            price_fen=price_fen,
            stock=stock,
            on_shelf=columns.pop("on_shelf", True),
            storage_zone=columns.pop("storage_zone", StorageZone.chilled),
            **columns,
        )
        database.session.add(product)
        database.session.flush()
    return product


def stock_of(product) -> int:
    return database.session.scalar(sa.select(Product.stock).where(Product.id == product.id))


def build_market(make_user, make_resident, join, tree) -> SimpleNamespace:
    owner = make_user("王老板")
    vendor = add_vendor(owner, [tree.a])
    cabbage = add_product(vendor, "小白菜", price_fen=300, stock=20)
    pork = add_product(
        vendor,
        "五花肉",
        price_fen=1800,
        stock=5,
        category="肉类",
        weighed=True,
        estimated_weight_g=600,
        storage_zone=StorageZone.frozen,
    )
    user, resident = make_resident("李四")
    join(resident, tree.rooms_a["101"])
    return SimpleNamespace(owner=owner, vendor=vendor, cabbage=cabbage, pork=pork, user=user, resident=resident)


@pytest.fixture
def market(tree, make_user, make_resident, join) -> SimpleNamespace:
    return build_market(make_user, make_resident, join, tree)


@pytest.fixture
def place(api) -> Callable:
    """``place(user, vendor, [(product, quantity)], **extra)`` → response of POST /orders."""

    def call(user, vendor, lines, **extra):
        body = {
            "vendor_id": vendor.public_id,
            "lines": [{"product_id": p.public_id, "quantity": q} for p, q in lines],
            **extra,
        }
        return api(user, "post", f"{M}/orders", json=body)

    return call


@pytest.fixture
def pay(api) -> Callable:
    """``pay(user, order_id)``: open a sandbox payment and confirm it as the channel's callback would."""
    from payments import mark_paid
    from payments.models import Payment

    def call(user, order_id: str) -> str:
        opened = api(
            user,
            "post",
            "/api/v1/payments",
            json={"kind": "marketplace.market_order", "ids": [order_id], "channel": "sandbox"},
        )
        assert opened.status_code == 201, opened.json
        payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == opened.json["id"]))
        with atomic():
            mark_paid(
                payment.out_trade_no, payment.amount_fen, f"T{payment.id}", utcnow(), {"test": True}, channel="sandbox"
            )
        return payment.public_id

    return call


__all__ = ["M", "add_product", "add_role", "add_vendor", "build_market", "build_tree", "stock_of"]
