"""Demo 邻里圈 in 幸福社区: a few posts by the tenant and 王丽 (one building-only), comments with a reply, likes, and
an open interest group with a post."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.demo import seeder
from app.extensions import db
from neighbours import comments, groups, posts
from neighbours.models import Topic

DAUGHTER_PHONE = "+8619900000003"
TENANT_PHONE = "+8619900000004"


@seeder("neighbours", order=85)
def seed_neighbours() -> None:
    daughter = db.session.scalar(sa.select(User).where(User.phone == DAUGHTER_PHONE))
    tenant = db.session.scalar(sa.select(User).where(User.phone == TENANT_PHONE))
    if daughter is None or tenant is None:
        return  # the identity seeder did not run
    lost = posts.create_post(
        daughter,
        {"topic": Topic.pets, "text": "今早在 1 号楼门口捡到一只橘猫，戴蓝色项圈，谁家的请联系我。"},
    )
    posts.create_post(
        tenant,
        {"topic": Topic.carpool, "text": "工作日早 8 点从小区去地铁站，可以顺路带两位邻居。"},
    )
    posts.create_post(
        daughter,
        {"topic": Topic.help, "text": "本楼有没有会修水龙头的邻居？周末请教一下。", "building_only": True},
    )
    first = comments.create_comment(tenant, lost.public_id, {"text": "好像是 2 号楼张阿姨家的，我去问问。"})
    comments.create_comment(daughter, lost.public_id, {"text": "太感谢了！", "reply_to": first.public_id})
    posts.like_post(tenant, lost.public_id)
    runners = groups.create_group(
        daughter, {"name": "晨跑小组", "description": "每天早上 6:30 小区北门集合", "closed": False}
    )
    groups.join_group(tenant, runners["id"])
    posts.create_post(
        tenant,
        {"topic": Topic.sports, "text": "明早 6:30 北门见，绕公园两圈。", "group_id": runners["id"]},
    )
