"""The marketplace demo seeder: a grocer serving 幸福社区 whose listings the demo daughter can browse and order."""

import sqlalchemy as sa

from app.accounts.demo import seed_identity
from app.accounts.models import User
from app.db import atomic
from app.extensions import db as database
from marketplace import catalogue, orders
from marketplace.demo import OWNER_PHONE, seed_marketplace
from marketplace.vendors import my_vendors


def test_the_demo_grocer_sells_to_the_demo_family(db):
    with atomic():
        seed_identity()
        seed_marketplace()
    daughter = database.session.scalar(sa.select(User).where(User.display_name == "王丽（演示）"))
    page = catalogue.browse_products(daughter, limit=10)
    assert {p.name for p in page["items"]} >= {"小白菜", "五花肉"}
    owner = database.session.scalar(sa.select(User).where(User.phone == OWNER_PHONE))
    [(vendor, role)] = my_vendors(owner)
    assert (vendor.name, role) == ("绿园生鲜", "owner")
    cabbage = next(p for p in page["items"] if p.name == "小白菜")
    order = orders.place_order(
        daughter, {"vendor_id": vendor.public_id, "lines": [{"product_id": cabbage.public_id, "quantity": 2}]}
    )
    assert order.total_fen == 600
