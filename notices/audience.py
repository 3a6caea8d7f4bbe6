"""Audiences as data, compiled to one SQL query of resident ids (never a Python list).

An audience is ``{"communities": [...], "estates": [...], "buildings": [...], "tags": [...], "tag_match": ...}``:

- **places** (communities, estates, buildings, by public id) are combined by **union**: a resident with an active
  household membership in any of them is in. No place at all means every community under the notice's region.
  Every place must lie under the notice's region. Ended and pending memberships do not count.
- **tags** (codes: ``low_income`` 低收入, ``disabled`` 残疾, ``retired`` 离退休, ``dibao`` 低保, ``elderly`` 高龄
  and the other built-in codes) narrow the places: ``tag_match="any"`` keeps residents holding at least one of them
  (union), ``"all"`` those holding every one (intersection). No tag keeps everyone in the places.
- 高龄 is computed, never stored: born on or before ``residents.elderly_cutoff()`` (age ≥ 80 today, Asia/Shanghai).

So ``{"buildings": [b3], "tags": ["elderly", "dibao"], "tag_match": "any"}`` is "building 3, residents who are 高龄
or 低保". Erased residents are left out by ``push.send``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa

from app.accounts.resident_models import HouseholdMembership, MembershipStatus, Resident, ResidentTag, Tag
from app.accounts.residents import elderly_cutoff
from app.accounts.tags import BUILTIN_TAGS, ELDERLY_TAG
from app.community.models import Building, Estate, Household, Region, RegionKind
from app.community.scope import community_ids_under
from app.extensions import db
from notices.errors import AudienceInvalid

TAG_CODES = (*(code for code, _name, _sensitive in BUILTIN_TAGS), ELDERLY_TAG["code"])
TAG_NAMES = {code: name for code, name, _sensitive in BUILTIN_TAGS} | {ELDERLY_TAG["code"]: ELDERLY_TAG["name"]}
PLACE_KINDS = ("communities", "estates", "buildings")


def normalize(region: Region, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check an audience against the notice's region and return it in stored form (sorted, duplicates out).

    :raises AudienceInvalid: an unknown place or tag, or a place outside the region.
    """
    raw = raw or {}
    spec: dict[str, Any] = {kind: sorted(set(raw.get(kind) or ())) for kind in PLACE_KINDS}
    spec["tags"] = sorted(set(raw.get("tags") or ()))
    spec["tag_match"] = raw.get("tag_match") or "any"
    unknown_tags = [code for code in spec["tags"] if code not in TAG_CODES]
    if unknown_tags:
        raise AudienceInvalid("未知的居民标签", details={"tags": unknown_tags, "known": list(TAG_CODES)})
    if spec["tag_match"] not in ("any", "all"):
        raise AudienceInvalid("tag_match 只能是 any 或 all", details={"tag_match": spec["tag_match"]})
    _place_ids(region.id, spec)  # raises on an unknown place or one outside the region
    return spec


def _place_ids(region_id: int, spec: Mapping[str, Any]) -> dict[str, list[int]]:
    """Internal ids of the audience's places (one query per kind named), each checked to lie under the region."""
    allowed = community_ids_under(region_id)
    models = {
        "communities": (Region, Region.id, sa.and_(Region.kind == RegionKind.community)),
        "estates": (Estate, Estate.community_id, sa.true()),
        "buildings": (Building, Building.community_id, sa.true()),
    }
    result: dict[str, list[int]] = {}
    for kind, (model, community_column, condition) in models.items():
        wanted = spec.get(kind) or []
        if not wanted:
            result[kind] = []
            continue
        rows = db.session.execute(
            sa.select(model.public_id, model.id, community_column).where(model.public_id.in_(wanted), condition)
        ).all()
        found = {row[0]: row for row in rows}
        bad = [pid for pid in wanted if pid not in found or found[pid][2] not in allowed]
        if bad:
            raise AudienceInvalid("通知对象中有不存在或不在本辖区的地点", details={kind: bad})
        result[kind] = sorted(row[1] for row in rows)
    return result


def describe(spec: Mapping[str, Any]) -> str:
    """A short Chinese description of the tag filter, for staff lists."""
    if not spec.get("tags"):
        return "全体居民"
    joiner = "或" if spec.get("tag_match", "any") == "any" else "且"
    return joiner.join(TAG_NAMES.get(code, code) for code in spec["tags"])


def resident_ids(region_id: int, spec: Mapping[str, Any], *, on: date | None = None) -> sa.Select:
    """The audience as ``SELECT accounts_residents.id …`` (one column), for ``push.send`` to run inside its
    ``INSERT … SELECT``.

    :param on: the business date 高龄 is judged on (today by default).
    """
    places = _place_ids(region_id, spec)
    if not any(places.values()):
        in_place = Household.community_id.in_(community_ids_under(region_id))
    else:
        in_place = sa.or_(
            Household.community_id.in_(places["communities"]),
            Household.building_id.in_(places["buildings"]),
            Household.building_id.in_(sa.select(Building.id).where(Building.estate_id.in_(places["estates"]))),
        )
    members = (
        sa.select(HouseholdMembership.resident_id)
        .join(Household, Household.id == HouseholdMembership.household_id)
        .where(HouseholdMembership.status == MembershipStatus.active, in_place)
    )
    query = sa.select(Resident.id).where(Resident.id.in_(members), Resident.erased_at.is_(None))
    tags = list(spec.get("tags") or ())
    if tags:
        conditions = [_has_tag(code, on) for code in tags]
        query = query.where(sa.or_(*conditions) if spec.get("tag_match", "any") == "any" else sa.and_(*conditions))
    return query


def _has_tag(code: str, on: date | None):
    if code == ELDERLY_TAG["code"]:
        return Resident.birth_date <= elderly_cutoff(on)
    return (
        sa.select(ResidentTag.id)
        .join(Tag, Tag.id == ResidentTag.tag_id)
        .where(ResidentTag.resident_id == Resident.id, Tag.code == code)
        .exists()
    )
