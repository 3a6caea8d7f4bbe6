"""Meals (助餐): providers' dishes and daily menus, the daily ordering cut-off, and the diet check against the elder's
health notes.

A meal is a care order for a meal-category offer: price, subsidy and copay come from ``orders`` as for any order.
What meals add, checked in ``orders.place_order`` / ``quote_order`` (the block marked *care-meals*):

- **cut-off**: lunch on day D can be ordered until the provider's cut-off on D (``eldercare_meal_settings.cutoff``,
  default ``ELDERCARE_MEAL_CUTOFF``, 10:00 Asia/Shanghai); later → 409 ``meal_cutoff_passed``.
- **diet**: the elder's health notes are read (only while the elder's separate consent to sensitive data is in force,
  the rule ``app.accounts`` applies to health notes) and turned into diet needs by keyword (低盐/高血压 → low_salt,
  糖尿病 → diabetic, 软食/吞咽 → soft_food, 海鲜/花生/鸡蛋/牛奶 allergies). A dish conflicts with a need when it lists
  the need in ``conflicts_with``, or when the need asks for a diet (low_salt, diabetic, soft_food) the dish is not
  tagged for. Ordering a conflicting dish needs ``confirm_diet_conflict: true``, else 409
  ``diet_conflict_unconfirmed`` listing the conflicts; the confirmation is recorded with who gave it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert

from app.accounts import crypto
from app.accounts.resident_models import ConsentKind, Resident
from app.api import SHANGHAI, keyset_page
from app.auth.scopes import acting_for
from app.community.integrity import refusals
from app.community.models import Region
from app.db import atomic, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from eldercare.meal_models import DIET_NEEDS, Dish, MealOrder, MealSettings, MenuEntry
from eldercare.meals_errors import (
    DietConflictUnconfirmed,
    DishNameTaken,
    DishNotFound,
    MealCutoffPassed,
    MenuEntryNotFound,
    NotAMealOffer,
)
from eldercare.models import CareCategory, CareItem, CareOffer, CareOfferCommunity, Provider, ProviderStatus
from eldercare.providers import provider_for

log = logging.getLogger(__name__)

DEFAULT_CUTOFF = "10:00"
DEFAULT_SERVE_AT = time(11, 30)

#: Diet needs read from health notes: a need applies when any of its words appears in the notes.
NEED_WORDS: dict[str, tuple[str, ...]] = {
    "low_salt": ("低盐", "少盐", "低钠", "高血压", "限盐"),
    "diabetic": ("糖尿病", "控糖", "低糖", "血糖高", "无糖"),
    "soft_food": ("软食", "软烂", "流食", "吞咽", "咀嚼", "牙口不好", "假牙"),
    "seafood_allergy": ("海鲜", "鱼虾", "虾过敏", "蟹过敏"),
    "peanut_allergy": ("花生",),
    "egg_allergy": ("蛋过敏", "蛋类过敏"),
    "milk_allergy": ("奶过敏", "乳糖不耐", "乳制品过敏"),
}
#: A need that asks for a diet is met only by a dish tagged for it.
NEED_TAGS = {"low_salt": "low_salt", "diabetic": "diabetic_friendly", "soft_food": "soft_food"}
NEED_LABELS = {
    "low_salt": "低盐",
    "diabetic": "糖尿病饮食",
    "soft_food": "软食",
    "seafood_allergy": "海鲜过敏",
    "peanut_allergy": "花生过敏",
    "egg_allergy": "鸡蛋过敏",
    "milk_allergy": "牛奶过敏",
}
assert set(NEED_WORDS) == set(DIET_NEEDS) == set(NEED_LABELS)  # noqa: S101  (a table edited in two places)


@dataclass(frozen=True)
class MealRequest:
    """What a meal order adds to a care order: the dish chosen from a day's menu, and the diet confirmation."""

    menu_entry_id: int | None = None
    confirm_diet_conflict: bool = False


@dataclass(frozen=True)
class MealCheck:
    day: date
    cutoff_at: datetime
    menu_entry_id: int | None
    conflicts: list[str] = field(default_factory=list)
    confirmed: bool = False


# --- settings and the cut-off --------------------------------------------------------------------------------------


def default_cutoff() -> time:
    return time.fromisoformat(current_app.config.get("ELDERCARE_MEAL_CUTOFF") or DEFAULT_CUTOFF)


def settings_of(provider_id: int) -> tuple[time, time]:
    """``(cutoff, serve_at)`` of a provider (the defaults when it set none)."""
    row = db.session.get(MealSettings, provider_id)
    if row is None:
        return default_cutoff(), DEFAULT_SERVE_AT
    return row.cutoff, row.serve_at


def set_settings(user, provider_public_id: str, *, cutoff: time, serve_at: time) -> dict[str, Any]:
    """The provider admin sets the daily cut-off and the serving time (the cut-off must come first)."""
    with atomic():
        provider = provider_for(user, provider_public_id, "eldercare.provider.manage")
        if cutoff >= serve_at:
            raise ValidationFailed(details={"fields": {"cutoff": ["截止时间须早于送餐时间"]}})
        db.session.execute(
            insert(MealSettings)
            .values(provider_id=provider.id, cutoff=cutoff, serve_at=serve_at)
            .on_conflict_do_update(index_elements=["provider_id"], set_={"cutoff": cutoff, "serve_at": serve_at})
        )
        log.info("meal settings of provider %s set by user %s: cutoff %s", provider.id, user.id, cutoff)
        return {"cutoff": cutoff.strftime("%H:%M"), "serve_at": serve_at.strftime("%H:%M")}


def local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def cutoff_at(provider_id: int, day: date) -> datetime:
    return local(day, settings_of(provider_id)[0])


def serve_time(provider_id: int, day: date) -> datetime:
    return local(day, settings_of(provider_id)[1])


def shanghai_today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


# --- diet ----------------------------------------------------------------------------------------------------------


def diet_needs(resident_id: int) -> set[str]:
    """The diet needs in the elder's health notes; none while the separate consent to sensitive data is not in force
    (the notes are then not read at all)."""
    from app.accounts.consent import has_consent
    from app.accounts.residents import HEALTH_PURPOSE

    resident = db.session.get(Resident, resident_id)
    if resident is None or resident.health_notes_ciphertext is None:
        return set()
    if not has_consent(resident, ConsentKind.sensitive_data):
        return set()
    notes = crypto.decrypt(resident.health_notes_ciphertext, purpose=HEALTH_PURPOSE)
    return {need for need, words in NEED_WORDS.items() if any(word in notes for word in words)}


def conflicts_of(dish: Dish, needs: set[str]) -> list[str]:
    """The needs ``dish`` conflicts with: listed in its ``conflicts_with``, or a diet it is not tagged for."""
    found = {need for need in needs if need in dish.conflicts_with}
    found |= {need for need in needs if need in NEED_TAGS and NEED_TAGS[need] not in dish.diet_tags}
    return sorted(found, key=DIET_NEEDS.index)


# --- the check inside orders ---------------------------------------------------------------------------------------


def check_meal(
    user,
    subject: Resident,
    provider: Provider,
    offer: CareOffer,
    item: CareItem,
    scheduled_at: datetime,
    meal: MealRequest | None,
    *,
    enforce: bool,
) -> MealCheck | None:
    """Check a meal order (None for other categories): the day's cut-off, and the chosen dish against the diet.

    With ``enforce`` (placing) a passed cut-off or an unconfirmed conflict raises; without (quoting) it is reported.

    :raises NotAMealOffer: a dish chosen for an offer that is not a meal.
    :raises MenuEntryNotFound: the dish is not on this offer's menu that day (or was taken off).
    :raises MealCutoffPassed: ordered after the provider's cut-off for that day.
    :raises DietConflictUnconfirmed: the dish conflicts with the elder's diet and no confirmation was given.
    """
    if item.category is not CareCategory.meal:
        if meal is not None and meal.menu_entry_id is not None:
            raise NotAMealOffer()
        return None
    day = scheduled_at.astimezone(SHANGHAI).date()
    closes = cutoff_at(provider.id, day)
    if enforce and utcnow() >= closes:
        raise MealCutoffPassed(details={"day": day.isoformat(), "cutoff_at": closes.isoformat()})
    if meal is None or meal.menu_entry_id is None:
        return MealCheck(day, closes, None)
    entry = db.session.get(MenuEntry, meal.menu_entry_id)
    if entry is None or entry.offer_id != offer.id or entry.day != day or entry.withdrawn_at is not None:
        raise MenuEntryNotFound()
    dish = db.session.get(Dish, entry.dish_id)
    conflicts = conflicts_of(dish, diet_needs(subject.id))
    if enforce and conflicts and not meal.confirm_diet_conflict:
        raise DietConflictUnconfirmed(
            details={"dish": dish.name, "conflicts": conflicts, "labels": [NEED_LABELS[c] for c in conflicts]}
        )
    return MealCheck(day, closes, entry.id, conflicts, bool(conflicts and meal.confirm_diet_conflict))


def quote_view(check: MealCheck | None) -> dict[str, Any] | None:
    """What a quote shows of a meal: its day, the cut-off, whether it is still open, the dish's diet conflicts."""
    if check is None:
        return None
    return {
        "day": check.day,
        "cutoff_at": check.cutoff_at,
        "open": utcnow() < check.cutoff_at,
        "diet_conflicts": check.conflicts,
        "diet_conflict_labels": [NEED_LABELS[c] for c in check.conflicts],
    }


def record_meal(order, check: MealCheck | None, user) -> None:
    """Keep the meal side of a placed order (flush only)."""
    if check is None:
        return
    db.session.add(
        MealOrder(
            order_id=order.id,
            day=check.day,
            menu_entry_id=check.menu_entry_id,
            diet_conflicts=check.conflicts,
            conflict_confirmed_by_user_id=user.id if check.confirmed else None,
        )
    )
    db.session.flush()
    if check.confirmed:
        log.info("care order %s: diet conflicts %s confirmed by user %s", order.id, check.conflicts, user.id)


def meal_of(order_id: int) -> dict[str, Any] | None:
    row = db.session.execute(
        sa.select(MealOrder, Dish.name)
        .outerjoin(MenuEntry, MenuEntry.id == MealOrder.menu_entry_id)
        .outerjoin(Dish, Dish.id == MenuEntry.dish_id)
        .where(MealOrder.order_id == order_id)
    ).one_or_none()
    if row is None:
        return None
    meal, dish_name = row
    return {
        "day": meal.day,
        "dish_name": dish_name,
        "diet_conflicts": list(meal.diet_conflicts),
        "diet_conflicts_confirmed": meal.conflict_confirmed_by_user_id is not None,
    }


# --- placing a meal from a menu ------------------------------------------------------------------------------------


def _entry(public_id: str) -> MenuEntry:
    entry = db.session.scalar(
        sa.select(MenuEntry).where(MenuEntry.public_id == public_id, MenuEntry.withdrawn_at.is_(None))
    )
    if entry is None:
        raise MenuEntryNotFound()
    return entry


def _order_data(entry: MenuEntry, data: dict[str, Any]) -> dict[str, Any]:
    offer_public_id = db.session.scalar(sa.select(CareOffer.public_id).where(CareOffer.id == entry.offer_id))
    return {
        "offer_id": offer_public_id,
        "elder_id": data.get("elder_id"),
        "scheduled_at": serve_time(entry.provider_id, entry.day),
        "notes": data.get("notes"),
        "reason": data.get("reason"),
    }


def quote_meal(user, data: dict[str, Any]) -> dict[str, Any]:
    """Price, subsidy, copay, the cut-off and the dish's diet conflicts, before confirming (nothing is held)."""
    from eldercare import orders

    with atomic():
        entry = _entry(data["menu_entry_id"])
        request = MealRequest(entry.id, data.get("confirm_diet_conflict", False))
        quoted = orders.quote_order(user, _order_data(entry, data), meal=request)
        return quoted


def place_meal_order(user, data: dict[str, Any]):
    """Order a dish from a day's menu for an elder (a care order in the 助餐 category; see ``orders.place_order``)."""
    from eldercare import orders

    with atomic():
        entry = _entry(data["menu_entry_id"])
        request = MealRequest(entry.id, data.get("confirm_diet_conflict", False))
        return orders.place_order(user, _order_data(entry, data), meal=request)


# --- dishes and menus ----------------------------------------------------------------------------------------------


def create_dish(user, provider_public_id: str, data: dict[str, Any]) -> Dish:
    with atomic():
        provider = provider_for(user, provider_public_id, "eldercare.provider.manage")
        dish = Dish(
            provider_id=provider.id,
            name=data["name"],
            description=data.get("description"),
            diet_tags=sorted(set(data.get("diet_tags") or [])),
            conflicts_with=sorted(set(data.get("conflicts_with") or [])),
        )
        with refusals(unique=DishNameTaken()):
            db.session.add(dish)
        log.info("dish %s created by user %s", dish.id, user.id)
        return dish


def list_dishes(user, provider_public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """A provider's dishes, newest first, for its people."""
    with atomic():
        provider = provider_for(user, provider_public_id, "eldercare.provider.read")
        query = sa.select(Dish).where(Dish.provider_id == provider.id)
        return keyset_page(db.session, query, [Dish.id], cursor=cursor, limit=limit)


def publish_menu(user, provider_public_id: str, day: date, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Set a day's menu for one meal offer: the listed dishes are on it, the others of that day are taken off (kept
    for the orders that name them).

    :raises ValidationFailed: a day in the past, or dishes of another provider.
    :raises NotAMealOffer: the offer is not a 助餐 offer of this provider.
    """
    with atomic():
        provider = provider_for(user, provider_public_id, "eldercare.provider.manage")
        if day < shanghai_today():
            raise ValidationFailed(details={"fields": {"day": ["不能发布过去日期的菜单"]}})
        offer = db.session.execute(
            sa.select(CareOffer)
            .join(CareItem, CareItem.id == CareOffer.item_id)
            .where(
                CareOffer.public_id == data["offer_id"],
                CareOffer.provider_id == provider.id,
                CareItem.category == CareCategory.meal,
            )
        ).scalar_one_or_none()
        if offer is None:
            raise NotAMealOffer()
        wanted = set(data["dish_ids"])
        dishes = dict(
            db.session.execute(
                sa.select(Dish.public_id, Dish.id).where(Dish.provider_id == provider.id, Dish.public_id.in_(wanted))
            ).all()
        )
        if set(dishes) != wanted:
            raise DishNotFound(details={"dish_ids": sorted(wanted - set(dishes))})
        for dish_id in dishes.values():
            db.session.execute(
                insert(MenuEntry)
                .values(provider_id=provider.id, offer_id=offer.id, day=day, dish_id=dish_id)
                .on_conflict_do_update(index_elements=["offer_id", "day", "dish_id"], set_={"withdrawn_at": None})
            )
        db.session.execute(
            sa.update(MenuEntry)
            .where(
                MenuEntry.offer_id == offer.id,
                MenuEntry.day == day,
                MenuEntry.dish_id.not_in(list(dishes.values())),
                MenuEntry.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        log.info("menu of provider %s for %s (offer %s) published by user %s", provider.id, day, offer.id, user.id)
        query = sa.select(MenuEntry).where(
            MenuEntry.offer_id == offer.id, MenuEntry.day == day, MenuEntry.withdrawn_at.is_(None)
        )
        return entry_views(list(db.session.scalars(query.order_by(MenuEntry.id))), needs=None)


def browse_menu(user, *, day: date, community_public_id: str | None, elder_id: str | None, cursor, limit: int):
    """A day's menu entries of approved providers (optionally in one community), newest first; with ``elder_id``
    (the elder, or an ``eldercare`` delegate) each entry carries its diet conflicts for that elder."""
    with atomic():
        needs = None
        if elder_id:
            subject = acting_for(user, elder_id, "eldercare", reason="查看助餐菜单")
            needs = diet_needs(subject.id)
        query = (
            sa.select(MenuEntry)
            .join(Provider, Provider.id == MenuEntry.provider_id)
            .join(CareOffer, CareOffer.id == MenuEntry.offer_id)
            .where(
                MenuEntry.day == day,
                MenuEntry.withdrawn_at.is_(None),
                CareOffer.active,
                Provider.status == ProviderStatus.approved,
            )
        )
        if community_public_id:
            in_community = (
                sa.select(CareOfferCommunity.offer_id)
                .join(Region, Region.id == CareOfferCommunity.community_id)
                .where(Region.public_id == community_public_id)
            )
            query = query.where(MenuEntry.offer_id.in_(in_community))
        page = keyset_page(db.session, query, [MenuEntry.id], cursor=cursor, limit=limit)
        page["items"] = entry_views(page["items"], needs=needs)
        return page


def entry_views(entries: list[MenuEntry], *, needs: set[str] | None) -> list[dict[str, Any]]:
    """Menu entries as shown: dish, diet tags, price, the cut-off and whether ordering is still open (two queries)."""
    if not entries:
        return []
    rows = db.session.execute(
        sa.select(MenuEntry.id, Dish, CareOffer, Provider, MealSettings)
        .join(Dish, Dish.id == MenuEntry.dish_id)
        .join(CareOffer, CareOffer.id == MenuEntry.offer_id)
        .join(Provider, Provider.id == MenuEntry.provider_id)
        .outerjoin(MealSettings, MealSettings.provider_id == Provider.id)
        .where(MenuEntry.id.in_([e.id for e in entries]))
    ).all()
    by_id = {row[0]: row[1:] for row in rows}
    now = utcnow()
    default = default_cutoff()
    views = []
    for entry in entries:
        dish, offer, provider, settings = by_id[entry.id]
        closes = local(entry.day, settings.cutoff if settings else default)
        views.append(
            {
                "id": entry.public_id,
                "day": entry.day,
                "dish_id": dish.public_id,
                "dish_name": dish.name,
                "description": dish.description,
                "diet_tags": list(dish.diet_tags),
                "conflicts_with": list(dish.conflicts_with),
                "offer_id": offer.public_id,
                "provider_id": provider.public_id,
                "provider_name": provider.name,
                "price_fen": offer.price_fen,
                "cutoff_at": closes,
                "open": now < closes,
                "diet_conflicts": conflicts_of(dish, needs) if needs is not None else None,
            }
        )
    return views
