"""Eligibility rules as data, the price/subsidy/copay computation, and the per-elder monthly subsidy ledger.

The balance of a month is ``quota_fen - held_fen - claimed_fen`` on the elder's ``eldercare_subsidy_quotas`` row.
A hold locks that row (``SELECT … FOR UPDATE``), takes ``min(wanted, remaining)`` and writes the ledger row and the
new ``held_fen`` while the lock is held, so two orders for one elder never both spend the same remaining fen; the
CHECK ``held_fen + claimed_fen <= quota_fen`` backs that up in the database. Every movement is a ledger row with a
unique idempotency key (``hold:<order>``, ``release:<order>``, ``claim:<order>``), so a release asked for twice
happens once; a delivered visit turns its hold into a claim (``claim``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from app.accounts.profile import ResidentProfile
from app.accounts.resident_models import HukouStatus
from app.api import SHANGHAI
from app.community.models import Region, RegionKind
from app.community.scope import region_ancestors
from app.db import atomic
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from eldercare.models import EligibilityRule, LedgerKind, SubsidyLedgerEntry, SubsidyQuota

log = logging.getLogger(__name__)

BPS = 10_000


# --- rules ---------------------------------------------------------------------------------------------------------


def create_rule(user, data: dict[str, Any]) -> dict[str, Any]:
    """Add an eligibility rule (platform admins; the rules are the government's policy as data); its view."""
    with atomic():
        district_id = None
        if data.get("district_id"):
            district_id = db.session.scalar(
                sa.select(Region.id).where(Region.public_id == data["district_id"], Region.kind == RegionKind.district)
            )
            if district_id is None:
                raise ValidationFailed(details={"fields": {"district_id": ["区不存在"]}})
        if data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            raise ValidationFailed(details={"fields": {"valid_to": ["结束日期须不早于开始日期"]}})
        rule = EligibilityRule(
            name=data["name"],
            district_id=district_id,
            min_age=data.get("min_age"),
            hukou=HukouStatus(data["hukou"]) if data.get("hukou") else None,
            tag_code=data.get("tag_code"),
            copay_bps=data["copay_bps"],
            monthly_quota_fen=data["monthly_quota_fen"],
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            priority=data.get("priority", 100),
            created_by_user_id=user.id,
        )
        db.session.add(rule)
        db.session.flush()
        log.info("eligibility rule %s created by user %s", rule.id, user.id)
        return rule_view(rule, data["district_id"] if district_id is not None else None)


def list_rules() -> list[dict[str, Any]]:
    """Every rule in the order they are tried, each district read with the rules (one statement for the list)."""
    rows = db.session.execute(
        sa.select(EligibilityRule, Region.public_id)
        .outerjoin(Region, Region.id == EligibilityRule.district_id)
        .order_by(EligibilityRule.priority, EligibilityRule.id)
    ).all()
    return [rule_view(rule, district) for rule, district in rows]


def district_public_id(rule: EligibilityRule) -> str | None:
    if rule.district_id is None:
        return None
    return db.session.scalar(sa.select(Region.public_id).where(Region.id == rule.district_id))


def rule_view(rule: EligibilityRule, district_public_id: str | None) -> dict[str, Any]:
    """The rule as shown (``EligibilityRuleSchema``). ``district_public_id``: the public id of ``rule.district_id``,
    read by the caller (with the rules, for a list)."""
    return {
        "id": rule.public_id,
        "name": rule.name,
        "district_id": district_public_id,
        "min_age": rule.min_age,
        "hukou": rule.hukou.value if rule.hukou else None,
        "tag_code": rule.tag_code,
        "copay_bps": rule.copay_bps,
        "monthly_quota_fen": rule.monthly_quota_fen,
        "valid_from": rule.valid_from,
        "valid_to": rule.valid_to,
        "priority": rule.priority,
    }


def snapshot(rule: EligibilityRule) -> dict[str, Any]:
    """The rule as it is now, stored on each order so a later edit of the rule does not rewrite history."""
    return {
        **rule_view(rule, district_public_id(rule)),
        "valid_from": rule.valid_from.isoformat(),
        "valid_to": rule.valid_to.isoformat() if rule.valid_to else None,
    }


def _matches(rule: EligibilityRule, profile: ResidentProfile, regions: set[int], on: date) -> bool:
    if rule.district_id is not None and rule.district_id not in regions:
        return False
    if rule.min_age is not None:
        from app.accounts.residents import age_on

        age = age_on(profile.birth_date, on)
        if age is None or age < rule.min_age:
            return False
    if rule.hukou is not None and profile.hukou_status is not rule.hukou:
        return False
    return rule.tag_code is None or rule.tag_code in profile.tag_codes


def match_rule(profile: ResidentProfile, community_id: int, on: date) -> EligibilityRule | None:
    """The first rule (by priority, then id) valid on ``on`` that covers the elder; None: not eligible.

    ``profile`` must include sensitive tags (低保, 特困 are sensitive); it is never shown to anyone from here.
    """
    rules = db.session.scalars(
        sa.select(EligibilityRule)
        .where(
            EligibilityRule.valid_from <= on,
            sa.or_(EligibilityRule.valid_to.is_(None), EligibilityRule.valid_to >= on),
        )
        .order_by(EligibilityRule.priority, EligibilityRule.id)
    ).all()
    regions = region_ancestors([community_id])
    return next((rule for rule in rules if _matches(rule, profile, regions, on)), None)


# --- pricing -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    price_fen: int
    subsidy_fen: int
    copay_fen: int
    month: date
    remaining_fen: int
    rule: EligibilityRule | None


def month_of(at: datetime) -> date:
    local = at.astimezone(SHANGHAI)
    return date(local.year, local.month, 1)


def wanted_subsidy(price_fen: int, copay_bps: int) -> int:
    """``price × (1 − copay rate)``, rounded down to the fen (the family's copay takes the odd fen)."""
    return price_fen * (BPS - copay_bps) // BPS


def remaining_fen(resident_id: int, month: date, rule: EligibilityRule | None) -> int:
    """What is left of the month's quota (the rule's full quota when nothing was held yet this month)."""
    row = db.session.execute(
        sa.select(SubsidyQuota.quota_fen, SubsidyQuota.held_fen, SubsidyQuota.claimed_fen).where(
            SubsidyQuota.resident_id == resident_id, SubsidyQuota.month == month
        )
    ).one_or_none()
    if row is not None:
        return row.quota_fen - row.held_fen - row.claimed_fen
    return rule.monthly_quota_fen if rule is not None else 0


def quote(price_fen: int, resident_id: int, month: date, rule: EligibilityRule | None) -> Quote:
    """Price, subsidy and copay as they would be now (nothing held): for the confirmation screen."""
    left = remaining_fen(resident_id, month, rule)
    subsidy = min(wanted_subsidy(price_fen, rule.copay_bps), left) if rule is not None else 0
    return Quote(price_fen, subsidy, price_fen - subsidy, month, left, rule)


def hold(price_fen: int, resident_id: int, month: date, rule: EligibilityRule | None) -> Quote:
    """Compute the subsidy under the quota row's lock and hold it (flush only; call ``record_hold`` with the order).

    The quota row is created on the month's first order with the matching rule's quota, then locked FOR UPDATE:
    a concurrent order for the same elder waits here until this transaction ends and then reads what is left.
    """
    if rule is None or rule.monthly_quota_fen == 0 or rule.copay_bps == BPS:
        return Quote(price_fen, 0, price_fen, month, 0, rule)
    db.session.execute(
        insert(SubsidyQuota)
        .values(resident_id=resident_id, month=month, quota_fen=rule.monthly_quota_fen, rule_id=rule.id)
        .on_conflict_do_nothing(index_elements=["resident_id", "month"])
    )
    row = db.session.execute(
        sa.select(SubsidyQuota.quota_fen, SubsidyQuota.held_fen, SubsidyQuota.claimed_fen)
        .where(SubsidyQuota.resident_id == resident_id, SubsidyQuota.month == month)
        .with_for_update()
    ).one()
    left = row.quota_fen - row.held_fen - row.claimed_fen
    subsidy = max(0, min(wanted_subsidy(price_fen, rule.copay_bps), left))
    if subsidy:
        db.session.execute(
            sa.update(SubsidyQuota)
            .where(SubsidyQuota.resident_id == resident_id, SubsidyQuota.month == month)
            .values(held_fen=SubsidyQuota.held_fen + subsidy)
            .execution_options(synchronize_session=False)
        )
    return Quote(price_fen, subsidy, price_fen - subsidy, month, left - subsidy, rule)


def _ledger(kind: LedgerKind, resident_id: int, month: date, order_id: int, amount: int, key: str) -> bool:
    """Insert a ledger row unless its key exists; whether this call inserted it."""
    inserted = db.session.execute(
        insert(SubsidyLedgerEntry)
        .values(
            resident_id=resident_id, month=month, order_id=order_id, kind=kind, amount_fen=amount, idempotency_key=key
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(SubsidyLedgerEntry.id)
    ).scalar()
    return inserted is not None


def record_hold(order) -> None:
    if order.subsidy_fen:
        _ledger(
            LedgerKind.hold,
            order.resident_id,
            order.subsidy_month,
            order.id,
            order.subsidy_fen,
            f"hold:{order.public_id}",
        )


def release(order) -> bool:
    """Give an order's held subsidy back to the month, at most once (the ledger key decides).

    :return: whether this call released it.
    """
    if not order.subsidy_fen:
        return False
    if not _ledger(
        LedgerKind.release,
        order.resident_id,
        order.subsidy_month,
        order.id,
        order.subsidy_fen,
        f"release:{order.public_id}",
    ):
        return False
    db.session.execute(
        sa.update(SubsidyQuota)
        .where(SubsidyQuota.resident_id == order.resident_id, SubsidyQuota.month == order.subsidy_month)
        .values(held_fen=SubsidyQuota.held_fen - order.subsidy_fen)
        .execution_options(synchronize_session=False)
    )
    log.info("care order %s released %s fen of subsidy", order.id, order.subsidy_fen)
    return True


def claim(order) -> bool:
    """The visit was delivered: the order's hold becomes a claim (one ledger row ``claim:<order>``, at most once).

    One conditional UPDATE moves the amount from ``held_fen`` to ``claimed_fen`` and only while that much is held,
    so the month can never go below zero (the CHECKs back it up). Callers hold the order's lock, so a release and a
    claim of one order never both happen.

    :return: whether this call claimed it.
    :raises RuntimeError: the hold is not there to claim (it was released): a bug, the transaction rolls back.
    """
    if not order.subsidy_fen:
        return False
    if not _ledger(
        LedgerKind.claim,
        order.resident_id,
        order.subsidy_month,
        order.id,
        order.subsidy_fen,
        f"claim:{order.public_id}",
    ):
        return False
    moved = db.session.execute(
        sa.update(SubsidyQuota)
        .where(
            SubsidyQuota.resident_id == order.resident_id,
            SubsidyQuota.month == order.subsidy_month,
            SubsidyQuota.held_fen >= order.subsidy_fen,
        )
        .values(
            held_fen=SubsidyQuota.held_fen - order.subsidy_fen,
            claimed_fen=SubsidyQuota.claimed_fen + order.subsidy_fen,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        raise RuntimeError(f"care order {order.id}: no hold of {order.subsidy_fen} fen left to claim")
    log.info("care order %s claimed %s fen of subsidy", order.id, order.subsidy_fen)
    return True


def balance(resident_id: int, month: date) -> dict[str, int]:
    row = db.session.get(SubsidyQuota, (resident_id, month))
    if row is None:
        raise NotFound("本月尚无补贴额度记录")
    return {
        "quota_fen": row.quota_fen,
        "held_fen": row.held_fen,
        "claimed_fen": row.claimed_fen,
        "remaining_fen": row.quota_fen - row.held_fen - row.claimed_fen,
    }
