"""Demo data: a fresh-vegetable grocer serving 幸福社区, with its owner's account and a few listings, and a fresh-food
cabinet in each of the community's courtyards."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.auth.models import RoleAssignment
from app.community.models import Region, RegionKind
from app.db import utcnow
from app.demo import seeder
from app.extensions import db
from marketplace.models import (
    Product,
    ProductUnit,
    StorageZone,
    Vendor,
    VendorCommunity,
    VendorKind,
    VendorStatus,
)

OWNER_PHONE = "+8619900000010"

PRODUCTS = (
    # name, category, unit, price_fen, stock, zone, shelf life (days), estimated weight (g) for weighed goods
    ("小白菜", "蔬菜", ProductUnit.jin, 300, 40, StorageZone.chilled, 3, None),
    ("西红柿", "蔬菜", ProductUnit.jin, 450, 30, StorageZone.ambient, 5, None),
    ("土鸡蛋（10枚）", "蛋类", ProductUnit.box, 1800, 20, StorageZone.chilled, 20, None),
    ("五花肉", "肉类", ProductUnit.jin, 1800, 15, StorageZone.frozen, 90, 600),
    ("豆腐", "豆制品", ProductUnit.portion, 350, 25, StorageZone.chilled, 2, None),
)


@seeder("marketplace", order=70)
def seed_marketplace() -> None:
    from payments.models import Payee, PayeeKind

    community = db.session.scalar(
        sa.select(Region).where(Region.name == "幸福社区", Region.kind == RegionKind.community)
    )
    if community is None:
        return  # the identity seeder did not run (a test seeding only some domains)
    owner = User(display_name="绿园生鲜 王老板", phone=OWNER_PHONE, phone_verified_at=utcnow())
    payee = Payee(name="绿园生鲜", kind=PayeeKind.vendor)
    db.session.add_all([owner, payee])
    db.session.flush()
    vendor = Vendor(
        name="绿园生鲜",
        kind=VendorKind.grocery,
        licence_no="91110101MA00DEMO01",
        food_licence_no="JY11101010DEMO01",
        contact_name="王老板",
        contact_phone="010-60000000",
        opening_hours="07:00-21:00",
        payee_id=payee.id,
        status=VendorStatus.approved,
        applicant_user_id=owner.id,
        decided_at=utcnow(),
    )
    db.session.add(vendor)
    db.session.flush()
    db.session.add(VendorCommunity(vendor_id=vendor.id, community_id=community.id))
    db.session.add(RoleAssignment(user_id=owner.id, role="owner", scope_kind="vendor", scope_id=vendor.id))
    for name, category, unit, price, stock, zone, shelf_life, weight in PRODUCTS:
        db.session.add(
            Product(
                vendor_id=vendor.id,
                name=name,
                category=category,
                unit=unit,
                price_fen=price,
                stock=stock,
                on_shelf=True,
                storage_zone=zone,
                shelf_life_days=shelf_life,
                weighed=weight is not None,
                estimated_weight_g=weight,
            )
        )
    db.session.flush()
    seed_lockers(community.id)


#: The demo cabinets' device secret, so a device simulator can sign requests in demo mode (never outside it).
DEMO_LOCKER_SECRET = "linli-demo-locker-secret"  # noqa: S105  (demo mode only, documented in the README)
#: One cabinet per courtyard: (size, zone, count) groups, cells numbered in this order.
DEMO_CELLS = (
    {"size": "M", "zone": "chilled", "count": 8},
    {"size": "L", "zone": "chilled", "count": 2},
    {"size": "M", "zone": "frozen", "count": 4},
    {"size": "M", "zone": "ambient", "count": 6},
)


def seed_lockers(community_id: int) -> None:
    """A fresh-food cabinet in every courtyard and estate of the community."""
    from app.accounts.crypto import encrypt
    from app.community.models import Estate
    from marketplace.locker_models import Locker
    from marketplace.lockers import SECRET_PURPOSE, add_cells

    for estate in db.session.scalars(sa.select(Estate).where(Estate.community_id == community_id).order_by(Estate.id)):
        locker = Locker(
            estate_id=estate.id,
            community_id=community_id,
            name=f"{estate.name}生鲜柜",
            secret_encrypted=encrypt(DEMO_LOCKER_SECRET, purpose=SECRET_PURPOSE),
        )
        db.session.add(locker)
        db.session.flush()
        add_cells(locker, list(DEMO_CELLS))
    db.session.flush()
