"""The eldercare demo seeder: the catalogue, two providers with caregivers and offers, a week of lunch menus, the
elder's care balance and her recurring lunch, as the daughter sees them; seeding again adds nothing."""

from __future__ import annotations

import sqlalchemy as sa

from app import calendar
from app.accounts.demo import seed_identity
from app.accounts.models import User
from app.auth.models import RoleAssignment
from app.db import atomic
from app.extensions import db as database
from eldercare import balances, meals, recurring
from eldercare.demo import seed_eldercare
from eldercare.meal_models import MenuEntry, Series, SeriesOccurrence
from eldercare.models import CareItem, CareOffer, CareOrder, EligibilityRule, Provider, ProviderStatus

DAUGHTER_PHONE = "+8619900000003"


def counts() -> dict[str, int]:
    tables = (CareItem, Provider, CareOffer, EligibilityRule, MenuEntry, Series, SeriesOccurrence, CareOrder)
    return {t.__tablename__: database.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables}


def test_the_demo_seeds_the_care_story_and_seeding_again_adds_nothing(db):
    with atomic():
        seed_identity()
        seed_eldercare()
    first = counts()
    with atomic():
        seed_eldercare()
    assert counts() == first

    items = database.session.scalars(sa.select(CareItem)).all()
    assert len(items) == 20
    assert len({i.category for i in items}) == 6
    providers = database.session.scalars(sa.select(Provider)).all()
    assert len(providers) == 2
    assert all(p.status is ProviderStatus.approved and p.payee_id for p in providers)
    roles = database.session.scalars(sa.select(RoleAssignment.role).where(RoleAssignment.scope_kind == "provider"))
    assert sorted(roles) == ["caregiver", "caregiver", "provider_admin", "provider_admin"]
    assert first["eldercare_offers"] == 14
    assert first["eldercare_menu_entries"] == 7 * 4

    daughter = database.session.scalar(sa.select(User).where(User.phone == DAUGHTER_PHONE))
    series = database.session.scalar(sa.select(Series))
    elder_id = recurring.series_view(series)["elder_id"]
    with atomic():
        listed = recurring.elder_series(daughter, elder_id, cursor=None, limit=10)["items"]
    assert [s["pattern"] for s in listed] == ["workdays"]
    days = database.session.scalars(sa.select(SeriesOccurrence.day)).all()
    assert days  # today's lunch is skipped once the 10:00 cut-off has passed, the coming working days are not
    assert all(calendar.is_workday(day) for day in days)
    assert all(day >= meals.shanghai_today() for day in days)

    [card] = balances.elder_balances(daughter, elder_id)
    assert card["balance_fen"] == 30000 - sum(
        database.session.scalars(sa.select(CareOrder.copay_fen).where(CareOrder.status.in_(("submitted", "accepted"))))
    )


def test_the_demo_menu_shows_the_mothers_diet_conflicts_to_her_daughter(db):
    with atomic():
        seed_identity()
        seed_eldercare()
    daughter = database.session.scalar(sa.select(User).where(User.phone == DAUGHTER_PHONE))
    elder_id = recurring.series_view(database.session.scalar(sa.select(Series)))["elder_id"]
    page = meals.browse_menu(
        daughter, day=meals.shanghai_today(), community_public_id=None, elder_id=elder_id, cursor=None, limit=20
    )
    conflicts = {e["dish_name"]: e["diet_conflicts"] for e in page["items"]}
    # Her notes say 高血压 (low salt) and 牙口不好 (soft food); today's four dishes, as the daughter sees them:
    assert conflicts == {
        "清蒸鲈鱼": [],
        "番茄炒蛋": ["low_salt"],
        "红烧肉": ["low_salt", "soft_food"],
        "冬瓜排骨汤": ["soft_food"],
    }
