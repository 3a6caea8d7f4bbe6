"""Meals: the daily cut-off (Shanghai time, per provider), dishes that conflict with the elder's diet notes needing
confirmation (and the consent rule for reading the notes), menus, and who may publish them.

Also the builders the other meal, series and balance tests share (``meal``, ``clock``, ``fund``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.accounts.resident_models import Consent, ConsentKind
from app.accounts.residents import set_health_notes
from app.api import SHANGHAI
from app.db import atomic, utcnow
from app.extensions import db as database
from eldercare import balances
from eldercare.meal_models import BalanceTopup, CareBalance, MealOrder
from eldercare.models import CareCategory, CareOrder
from tests.eldercare.fixtures import E, add_offer, add_provider

#: Modules whose clock the tests move (payments, the outbox and tokens keep real time).
CLOCKED = ("eldercare.meals", "eldercare.orders", "eldercare.recurring", "eldercare.balances")
MONDAY = date(2026, 10, 12)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def clock(monkeypatch):
    """``clock(at(day, 9, 59))``: eldercare reads that time as now."""

    def set_clock(moment: datetime) -> None:
        for module in CLOCKED:
            monkeypatch.setattr(f"{module}.utcnow", lambda: moment.astimezone(UTC))

    return set_clock


def consent(resident) -> None:
    with atomic():
        database.session.add(
            Consent(resident_id=resident.id, kind=ConsentKind.sensitive_data, policy_version="2026-11")
        )


def notes(actor, resident, text: str) -> None:
    with atomic():
        set_health_notes(actor, resident, text)


def fund(care_balance: CareBalance, amount_fen: int, user) -> None:
    """Credit a top-up as a paid payment would (the payment path itself is tested in test_balances)."""
    with atomic():
        topup = BalanceTopup(
            balance_id=care_balance.id, amount_fen=amount_fen, requested_by_user_id=user.id, expires_at=utcnow()
        )
        database.session.add(topup)
        database.session.flush()
        balances.credit_topup(topup, paid_at=utcnow(), payment_public_id="P" + topup.public_id[:12])


def issue(care) -> CareBalance:
    with atomic():
        card = CareBalance(resident_id=care.elder.id, provider_id=care.provider.id, issued_by_user_id=care.admin.id)
        database.session.add(card)
        database.session.flush()
    return card


@pytest.fixture
def meal(care, api) -> SimpleNamespace:
    """The care fixtures plus a 1500-fen lunch offer, three dishes and a menu for Monday 12 October 2026."""
    lunch = add_offer(care.provider, [care.tree.a], name="午餐送餐", category=CareCategory.meal, price_fen=1500)
    dishes = {}
    for name, tags, conflicts in (
        ("红烧肉", [], ["low_salt", "diabetic"]),
        ("清炒时蔬", ["low_salt", "diabetic_friendly"], []),
        ("清蒸鲈鱼", ["low_salt", "soft_food"], ["seafood_allergy"]),
    ):
        made = api(
            care.admin,
            "post",
            f"{E}/providers/{care.provider.public_id}/dishes",
            json={"name": name, "diet_tags": tags, "conflicts_with": conflicts},
        )
        assert made.status_code == 201, made.json
        dishes[name] = made.json["id"]
    return SimpleNamespace(care=care, lunch=lunch, dishes=dishes)


def publish(api, meal, day: date, names) -> dict[str, str]:
    published = api(
        meal.care.admin,
        "put",
        f"{E}/providers/{meal.care.provider.public_id}/menus/{day.isoformat()}",
        json={"offer_id": meal.lunch.public_id, "dish_ids": [meal.dishes[n] for n in names]},
    )
    assert published.status_code == 200, published.json
    return {entry["dish_name"]: entry["id"] for entry in published.json}


def order_meal(api, user, care, entry_id: str, **extra):
    return api(
        user, "post", f"{E}/meals/orders", json={"menu_entry_id": entry_id, "elder_id": care.elder.public_id, **extra}
    )


# --- cut-off -------------------------------------------------------------------------------------------------------


def test_lunch_can_be_ordered_until_ten_shanghai_time_that_day(api, meal, clock):
    clock(at(MONDAY, 8))
    menu = publish(api, meal, MONDAY, ["清炒时蔬"])

    clock(at(MONDAY, 9, 59))
    placed = order_meal(api, meal.care.daughter_user, meal.care, menu["清炒时蔬"])
    assert placed.status_code == 201, placed.json
    assert placed.json["scheduled_at"] == "2026-10-12T11:30:00+08:00"
    assert placed.json["category"] == "meal"
    assert placed.json["meal"] == {
        "day": "2026-10-12",
        "dish_name": "清炒时蔬",
        "diet_conflicts": [],
        "diet_conflicts_confirmed": False,
    }
    assert placed.json["price_fen"] == 1500

    clock(at(MONDAY, 10, 0))  # 02:00 UTC: the cut-off is Shanghai's 10:00, not the server's
    late = order_meal(api, meal.care.daughter_user, meal.care, menu["清炒时蔬"])
    assert late.status_code == 409
    assert late.json["code"] == "meal_cutoff_passed"
    assert late.json["details"] == {"day": "2026-10-12", "cutoff_at": "2026-10-12T10:00:00+08:00"}
    stored = database.session.scalars(sa.select(CareOrder.id).where(CareOrder.resident_id == meal.care.elder.id))
    assert len(list(stored)) == 1  # the late order left nothing behind


def test_a_providers_own_cutoff_applies_to_its_meals_and_to_the_generic_order_endpoint(api, meal, clock):
    clock(at(MONDAY, 7))
    menu = publish(api, meal, MONDAY, ["清炒时蔬"])
    settings = api(
        meal.care.admin,
        "put",
        f"{E}/providers/{meal.care.provider.public_id}/meal-settings",
        json={"cutoff": "09:00", "serve_at": "11:00"},
    )
    assert settings.status_code == 200, settings.json

    clock(at(MONDAY, 9, 30))
    late = order_meal(api, meal.care.daughter_user, meal.care, menu["清炒时蔬"])
    assert late.json["code"] == "meal_cutoff_passed"
    generic = api(
        meal.care.daughter_user,
        "post",
        f"{E}/orders",
        json={
            "offer_id": meal.lunch.public_id,
            "elder_id": meal.care.elder.public_id,
            "scheduled_at": at(MONDAY, 11).isoformat(),
        },
    )
    assert generic.status_code == 409
    assert generic.json["code"] == "meal_cutoff_passed"

    clock(at(date(2026, 10, 9), 15))  # the Friday before: open
    early = order_meal(api, meal.care.daughter_user, meal.care, menu["清炒时蔬"])
    assert early.status_code == 201, early.json
    assert early.json["scheduled_at"] == "2026-10-12T11:00:00+08:00"


def test_meal_settings_refuse_a_cutoff_after_serving(api, meal):
    refused = api(
        meal.care.admin,
        "put",
        f"{E}/providers/{meal.care.provider.public_id}/meal-settings",
        json={"cutoff": "12:00", "serve_at": "11:30"},
    )
    assert refused.status_code == 422
    assert "cutoff" in refused.json["details"]["fields"]


# --- diet ----------------------------------------------------------------------------------------------------------


def test_a_dish_conflicting_with_the_diet_notes_needs_explicit_confirmation(api, meal, clock):
    care = meal.care
    consent(care.elder)
    notes(care.daughter_user, care.elder, "高血压，需低盐饮食")
    clock(at(MONDAY, 8))
    menu = publish(api, meal, MONDAY, ["红烧肉", "清炒时蔬"])

    quoted = api(
        care.daughter_user,
        "post",
        f"{E}/meals/quote",
        json={"menu_entry_id": menu["红烧肉"], "elder_id": care.elder.public_id},
    )
    assert quoted.status_code == 200, quoted.json
    assert quoted.json["meal"]["diet_conflicts"] == ["low_salt"]
    assert quoted.json["meal"]["diet_conflict_labels"] == ["低盐"]
    assert quoted.json["meal"]["open"] is True

    refused = order_meal(api, care.daughter_user, care, menu["红烧肉"])
    assert refused.status_code == 409
    assert refused.json["code"] == "diet_conflict_unconfirmed"
    assert refused.json["details"]["conflicts"] == ["low_salt"]
    assert refused.json["details"]["dish"] == "红烧肉"
    assert database.session.scalar(sa.select(sa.func.count()).select_from(MealOrder)) == 0

    confirmed = order_meal(api, care.daughter_user, care, menu["红烧肉"], confirm_diet_conflict=True)
    assert confirmed.status_code == 201, confirmed.json
    assert confirmed.json["meal"]["diet_conflicts"] == ["low_salt"]
    assert confirmed.json["meal"]["diet_conflicts_confirmed"] is True
    kept = database.session.get(
        MealOrder, database.session.scalar(sa.select(CareOrder.id).where(CareOrder.public_id == confirmed.json["id"]))
    )
    assert kept.conflict_confirmed_by_user_id == care.daughter_user.id

    suitable = order_meal(api, care.daughter_user, care, menu["清炒时蔬"])
    assert suitable.status_code == 201, suitable.json  # tagged low-salt: nothing to confirm


def test_diet_notes_are_not_read_once_the_sensitive_data_consent_is_withdrawn(api, meal, clock):
    care = meal.care
    consent(care.elder)
    notes(care.daughter_user, care.elder, "糖尿病")
    clock(at(MONDAY, 8))
    menu = publish(api, meal, MONDAY, ["红烧肉"])
    assert order_meal(api, care.daughter_user, care, menu["红烧肉"]).json["code"] == "diet_conflict_unconfirmed"

    with atomic():
        database.session.execute(
            sa.update(Consent).where(Consent.resident_id == care.elder.id).values(withdrawn_at=utcnow())
        )
    placed = order_meal(api, care.daughter_user, care, menu["红烧肉"])
    assert placed.status_code == 201, placed.json
    assert placed.json["meal"]["diet_conflicts"] == []


def test_the_menu_shows_an_elders_conflicts_to_her_delegate_with_a_constant_number_of_queries(
    api, meal, clock, count_queries
):
    care = meal.care
    consent(care.elder)
    notes(care.daughter_user, care.elder, "对海鲜过敏；低盐")
    clock(at(MONDAY, 8))
    publish(api, meal, MONDAY, ["红烧肉", "清炒时蔬", "清蒸鲈鱼"])
    query = {"day": MONDAY.isoformat(), "elder_id": care.elder.public_id, "community_id": care.tree.a.public_id}

    page = api(care.daughter_user, "get", f"{E}/meals/menus", query_string=query)
    assert page.status_code == 200, page.json
    conflicts = {e["dish_name"]: e["diet_conflicts"] for e in page.json["items"]}
    assert conflicts == {"红烧肉": ["low_salt"], "清炒时蔬": [], "清蒸鲈鱼": ["seafood_allergy"]}
    assert {e["cutoff_at"] for e in page.json["items"]} == {"2026-10-12T10:00:00+08:00"}
    assert all(e["open"] for e in page.json["items"])

    anyone = api(care.caregiver, "get", f"{E}/meals/menus", query_string={"day": MONDAY.isoformat()})
    assert [e["diet_conflicts"] for e in anyone.json["items"]] == [None, None, None]

    with count_queries() as one:
        api(care.daughter_user, "get", f"{E}/meals/menus", query_string={**query, "limit": 1})
    with count_queries() as three:
        api(care.daughter_user, "get", f"{E}/meals/menus", query_string={**query, "limit": 3})
    assert len(three) == len(one)


def test_a_dish_off_the_days_menu_is_not_found(api, meal, clock):
    clock(at(MONDAY, 8))
    menu = publish(api, meal, MONDAY, ["红烧肉", "清炒时蔬"])
    publish(api, meal, MONDAY, ["清炒时蔬"])  # 红烧肉 taken off
    gone = order_meal(api, meal.care.daughter_user, meal.care, menu["红烧肉"])
    assert gone.status_code == 404
    assert gone.json["code"] == "menu_entry_not_found"


# --- who may -------------------------------------------------------------------------------------------------------


def test_another_providers_admin_cannot_publish_this_providers_menu(api, meal, make_user, clock):
    clock(at(MONDAY, 8))
    other_admin = make_user("别家管理员")
    add_provider(other_admin, [meal.care.tree.a], name="福寿护理站")
    refused = api(
        other_admin,
        "put",
        f"{E}/providers/{meal.care.provider.public_id}/menus/{MONDAY.isoformat()}",
        json={"offer_id": meal.lunch.public_id, "dish_ids": [meal.dishes["红烧肉"]]},
    )
    assert refused.status_code == 404
    caregiver = api(
        meal.care.caregiver,
        "post",
        f"{E}/providers/{meal.care.provider.public_id}/dishes",
        json={"name": "小炒肉"},
    )
    assert caregiver.status_code == 403  # inside the provider, but not its admin


def test_a_delegate_without_the_eldercare_scope_cannot_order_a_meal(api, meal, make_resident, clock):
    from tests.eldercare.fixtures import delegate

    clock(at(MONDAY, 8))
    menu = publish(api, meal, MONDAY, ["清炒时蔬"])
    son_user, son = make_resident("王强", born=date(1970, 2, 2), sequence="985")
    delegate(son, meal.care.elder, scopes=("bills",))
    refused = order_meal(api, son_user, meal.care, menu["清炒时蔬"])
    assert refused.status_code == 403
    assert refused.json["code"] == "delegation_denied"


@pytest.mark.parametrize("value", ["25:00", "10", "ten"])
def test_a_meal_cutoff_setting_that_does_not_parse_stops_the_service(value):
    from app.config import Config, ConfigError

    assert Config.from_env({"ELDERCARE_MEAL_CUTOFF": "09:30"}).ELDERCARE_MEAL_CUTOFF == "09:30"
    with pytest.raises(ConfigError, match="ELDERCARE_MEAL_CUTOFF"):
        Config.from_env({"ELDERCARE_MEAL_CUTOFF": value})


def test_a_providers_dishes_page_with_a_constant_number_of_queries_and_stay_inside_it(
    api, meal, make_user, count_queries
):
    path = f"{E}/providers/{meal.care.provider.public_id}/dishes"
    with count_queries() as one:
        first = api(meal.care.caregiver, "get", path, query_string={"limit": 1})
    with count_queries() as three:
        every = api(meal.care.caregiver, "get", path, query_string={"limit": 3})
    assert [d["name"] for d in first.json["items"]] == ["清蒸鲈鱼"]
    assert [d["name"] for d in every.json["items"]] == ["清蒸鲈鱼", "清炒时蔬", "红烧肉"]
    assert every.json["items"][2]["conflicts_with"] == ["diabetic", "low_salt"]
    assert len(three) == len(one)

    other_admin = make_user("别家管理员")
    add_provider(other_admin, [meal.care.tree.a], name="福寿护理站")
    assert api(other_admin, "get", path).status_code == 404
