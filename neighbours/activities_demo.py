"""Demo activity in 幸福社区: a health talk next week, with the tenant signed up and 王丽 signing up her mother
王秀兰 (no account; delegation scope ``activities``)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.resident_models import Resident
from app.community.models import Region, RegionKind
from app.db import utcnow
from app.demo import seeder
from app.extensions import db
from neighbours import activities

STAFF_PHONE = "+8619900000001"
DAUGHTER_PHONE = "+8619900000003"
TENANT_PHONE = "+8619900000004"


@seeder("neighbours.activities", order=86)
def seed_activities() -> None:
    community = db.session.scalar(
        sa.select(Region).where(Region.kind == RegionKind.community, Region.name == "幸福社区")
    )
    staff = db.session.scalar(sa.select(User).where(User.phone == STAFF_PHONE))
    daughter = db.session.scalar(sa.select(User).where(User.phone == DAUGHTER_PHONE))
    tenant = db.session.scalar(sa.select(User).where(User.phone == TENANT_PHONE))
    elder = db.session.scalar(sa.select(Resident).where(Resident.real_name == "王秀兰"))
    if None in (community, staff, daughter, tenant, elder):
        return  # the identity seeder did not run
    starts = (utcnow() + timedelta(days=7)).replace(hour=1, minute=30, second=0, microsecond=0)  # 09:30 in Shanghai
    talk = activities.create_activity(
        staff,
        {
            "community_id": community.public_id,
            "title": "秋冬季老年人健康讲座",
            "description": "社区卫生服务中心医生讲解秋冬季常见病预防，现场免费测血压、血糖。",
            "place": "社区党群服务中心二楼多功能厅",
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=2),
            "signup_deadline": starts - timedelta(days=1),
            "capacity": 30,
            "publish": True,
        },
    )
    activities.sign_up(tenant, talk["id"])
    activities.sign_up(daughter, talk["id"], elder.public_id)
