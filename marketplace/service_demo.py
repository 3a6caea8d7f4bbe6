"""Demo data: a repair shop (维修) serving 幸福社区, with its owner, two technicians and a few services.

Sign in with dev-login as the owner (+8619900000030) to dispatch bookings, as a technician (+8619900000031,
+8619900000032) to work them; the demo daughter books a service for her mother through her delegation.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.auth.models import RoleAssignment
from app.community.models import Region, RegionKind
from app.db import utcnow
from app.demo import seeder
from app.extensions import db
from marketplace.models import Vendor, VendorCommunity, VendorKind, VendorStatus
from marketplace.service_models import ServiceKind, ServiceListing

OWNER_PHONE = "+8619900000030"
TECHNICIAN_PHONES = ("+8619900000031", "+8619900000032")

SERVICES = (
    # name, kind, call-out fee (fen), price notes, typical duration (minutes)
    ("水管漏水维修", ServiceKind.plumbing, 3000, "换阀门 50 元起，材料按实价另计", 60),
    ("电路跳闸检修", ServiceKind.electrical, 3000, "更换开关插座 30 元/个起", 60),
    ("洗衣机、空调维修", ServiceKind.appliances, 5000, "检测后报价，配件另计", 90),
    ("开锁换锁", ServiceKind.locks, 5000, "开锁需核验身份；换锁芯 120 元起", 30),
)


@seeder("marketplace.services", order=71)
def seed_repair_shop() -> None:
    from payments.models import Payee, PayeeKind

    community = db.session.scalar(
        sa.select(Region).where(Region.name == "幸福社区", Region.kind == RegionKind.community)
    )
    if community is None:
        return  # the identity seeder did not run (a test seeding only some domains)
    now = utcnow()
    owner = User(display_name="安心维修 刘师傅（演示）", phone=OWNER_PHONE, phone_verified_at=now)
    technicians = [
        User(display_name=f"维修师傅 {name}（演示）", phone=phone, phone_verified_at=now)
        for name, phone in zip(("张建国", "孙志强"), TECHNICIAN_PHONES, strict=True)
    ]
    payee = Payee(name="安心维修", kind=PayeeKind.vendor)
    db.session.add_all([owner, *technicians, payee])
    db.session.flush()
    vendor = Vendor(
        name="安心维修",
        kind=VendorKind.repair,
        licence_no="91110101MA00DEMO02",
        contact_name="刘师傅",
        contact_phone="010-60000001",
        opening_hours="08:00-20:00",
        payee_id=payee.id,
        status=VendorStatus.approved,
        applicant_user_id=owner.id,
        decided_at=now,
    )
    db.session.add(vendor)
    db.session.flush()
    db.session.add(VendorCommunity(vendor_id=vendor.id, community_id=community.id))
    db.session.add(RoleAssignment(user_id=owner.id, role="owner", scope_kind="vendor", scope_id=vendor.id))
    db.session.add_all(
        RoleAssignment(user_id=t.id, role="courier", scope_kind="vendor", scope_id=vendor.id) for t in technicians
    )
    for name, kind, fee, notes, minutes in SERVICES:
        db.session.add(
            ServiceListing(
                vendor_id=vendor.id,
                name=name,
                kind=kind,
                callout_fee_fen=fee,
                price_notes=notes,
                duration_minutes=minutes,
                on_shelf=True,
            )
        )
    db.session.flush()
