"""The repair-shop demo seeder: 安心维修 serves 幸福社区; the demo daughter books a plumber and the owner sends one
of the two technicians."""

from datetime import timedelta

import sqlalchemy as sa

from app.accounts.demo import seed_identity
from app.accounts.models import User
from app.db import atomic, utcnow
from app.demo import _seeders
from app.extensions import db as database
from marketplace import services_bookings, services_listings, services_steps
from marketplace.demo import seed_marketplace
from marketplace.service_demo import OWNER_PHONE, TECHNICIAN_PHONES, seed_repair_shop
from marketplace.vendors import my_vendors


def test_the_repair_shop_seeder_runs_after_the_marketplace_seeder():
    assert _seeders["marketplace.services"].order > _seeders["marketplace"].order


def test_the_demo_daughter_books_the_demo_repair_shop(db):
    with atomic():
        seed_identity()
        seed_marketplace()
        seed_repair_shop()
    daughter = database.session.scalar(sa.select(User).where(User.display_name == "王丽（演示）"))
    page = services_listings.browse_services(daughter, kind="plumbing", limit=10)
    [plumbing] = page["items"]
    assert (plumbing.vendor.name, plumbing.callout_fee_fen) == ("安心维修", 3000)
    owner = database.session.scalar(sa.select(User).where(User.phone == OWNER_PHONE))
    [(vendor, role)] = my_vendors(owner)
    assert (vendor.name, role) == ("安心维修", "owner")
    start = utcnow() + timedelta(hours=2)
    order = services_bookings.book_service(
        daughter,
        {
            "service_id": plumbing.public_id,
            "description": "卫生间水龙头漏水",
            "window_start": start,
            "window_end": start + timedelta(hours=2),
        },
    )
    assert order.address.endswith("502")
    technician = database.session.scalar(sa.select(User).where(User.phone == TECHNICIAN_PHONES[0]))
    accepted = services_steps.accept_booking(owner, order.public_id, technician_id=technician.public_id)
    assert accepted.technician_user_id == technician.id
    assert services_steps.visit_step(technician, order.public_id, "depart").status.value == "on_the_way"
