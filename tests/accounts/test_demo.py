"""The identity demo seeder: an 82-year-old elder without a phone whose daughter acts for her, a tenant, staff, tags."""

import sqlalchemy as sa

from app.accounts.demo import seed_identity
from app.accounts.models import User
from app.accounts.profile import get_profile
from app.accounts.resident_models import HouseholdMembership, MembershipRole, Resident
from app.auth.scopes import acting_for, can
from app.db import atomic
from app.extensions import db as database


def test_the_demo_seeder_builds_the_story(db):
    with atomic():
        seed_identity()
    elder = database.session.scalar(sa.select(Resident).where(Resident.real_name == "王秀兰"))
    profile = get_profile(elder.id, include_sensitive_tags=True)
    assert (profile.age, profile.has_account, profile.has_phone, profile.elderly) == (82, False, False, True)
    assert {"living_alone", "dibao"} <= profile.tag_codes

    daughter_user = database.session.scalar(sa.select(User).where(User.display_name == "王丽（演示）"))
    with atomic():
        assert acting_for(daughter_user, elder.public_id, "eldercare").id == elder.id

    tenant = database.session.scalar(sa.select(Resident).where(Resident.real_name == "陈晨"))
    role = database.session.scalar(
        sa.select(HouseholdMembership.role).where(HouseholdMembership.resident_id == tenant.id)
    )
    assert role is MembershipRole.tenant
    staff = database.session.scalar(sa.select(User).where(User.display_name.like("社区工作人员%")))
    assert can(staff, "resident.verify", elder)
