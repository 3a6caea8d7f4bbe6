"""Demo notices in 幸福社区: a water cut to everyone (published), a free health check for 高龄 residents (published;
王秀兰 has no account and is reached through her daughter), and a scheduled meeting notice."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.community.models import Region, RegionKind
from app.db import utcnow
from app.demo import seeder
from app.extensions import db
from notices import services

STAFF_PHONE = "+8619900000001"


@seeder("notices", order=80)
def seed_notices() -> None:
    community = db.session.scalar(
        sa.select(Region).where(Region.kind == RegionKind.community, Region.name == "幸福社区")
    )
    staff = db.session.scalar(sa.select(User).where(User.phone == STAFF_PHONE))
    if community is None or staff is None:
        return  # the identity seeder did not run
    water = services.create_notice(
        staff,
        {
            "region_id": community.public_id,
            "title": "停水通知",
            "body": "因供水管网维修，本周六 9:00–17:00 幸福家园小区停水，请提前储水。",
            "urgent": True,
        },
    )
    services.publish_notice(staff, water.public_id)
    check = services.create_notice(
        staff,
        {
            "region_id": community.public_id,
            "title": "高龄老人免费体检",
            "body": "社区卫生服务站为 80 岁以上老人提供免费体检，请带身份证到站登记。",
            "audience": {"tags": ["elderly"]},
        },
    )
    services.publish_notice(staff, check.public_id)
    meeting = services.create_notice(
        staff,
        {
            "region_id": community.public_id,
            "title": "居民议事会",
            "body": "下周三晚 7 点在社区活动室召开居民议事会，讨论加装电梯事宜。",
        },
    )
    services.publish_notice(staff, meeting.public_id, publish_at=utcnow() + timedelta(days=1))
