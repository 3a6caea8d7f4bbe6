"""Demo notices in 幸福社区, one or more in each channel: a water cut to everyone (社区公告, pinned), a free health
check for 高龄 or 残疾 residents (社区信息; 王秀兰 has no account and is reached through her daughter), a
party branch notice (社区组织), a Double Ninth gathering (社区活动) and a scheduled meeting notice; and an open
anonymous survey about installing lifts."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.community.models import Region, RegionKind
from app.db import utcnow
from app.demo import seeder
from app.extensions import db
from notices import services, surveys

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
            "body": "因供水管网维修，**本周六 9:00–17:00** 幸福家园小区停水，请提前储水。",
            "urgent": True,
            "pinned": True,
            "expires_at": utcnow() + timedelta(days=7),
        },
    )
    services.publish_notice(staff, water.public_id)
    check = services.create_notice(
        staff,
        {
            "region_id": community.public_id,
            "channel": "information",
            "title": "高龄老人免费体检",
            "body": "社区卫生服务站为 80 岁以上老人和残疾居民提供免费体检，请带身份证到站登记。",
            "audience": {"expression": {"or": [{"tag": "elderly"}, {"tag": "disabled"}]}},
        },
    )
    services.publish_notice(staff, check.public_id)
    for channel, title, body in (
        ("organization", "党支部主题党日", "本月主题党日活动定于周五下午 3 点在社区党群服务中心举行，请党员准时参加。"),
        ("activity", "重阳节敬老茶话会", "重阳节上午 9:30 在社区活动室举办敬老茶话会，欢迎老人们和家属参加。"),
    ):
        notice = services.create_notice(
            staff, {"region_id": community.public_id, "channel": channel, "title": title, "body": body}
        )
        services.publish_notice(staff, notice.public_id)
    meeting = services.create_notice(
        staff,
        {
            "region_id": community.public_id,
            "title": "居民议事会",
            "body": "下周三晚 7 点在社区活动室召开居民议事会，讨论加装电梯事宜。",
        },
    )
    services.publish_notice(staff, meeting.public_id, publish_at=utcnow() + timedelta(days=1))
    lifts = surveys.create_survey(
        staff,
        {
            "region_id": community.public_id,
            "title": "加装电梯意愿调查",
            "description": "为了解居民对老旧楼栋加装电梯的意愿，请花 1 分钟填写（匿名）。",
            "anonymous": True,
            "closes_at": utcnow() + timedelta(days=14),
            "questions": [
                {"kind": "single", "title": "您是否支持本楼加装电梯？", "options": ["支持", "不支持", "无所谓"]},
                {
                    "kind": "multiple",
                    "title": "您最关心哪些方面？",
                    "options": ["费用分摊", "施工噪音", "采光", "维护"],
                },
                {"kind": "rating", "title": "您对目前上下楼的便利程度打几分？"},
                {"kind": "text", "title": "其他意见", "required": False},
            ],
        },
    )
    surveys.publish_survey(staff, lifts.public_id)
