"""Resident tags kept by staff at community or district level (低保, 残疾 … and custom); 高龄 computed on read."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from app import audit
from app.accounts.consent import has_consent
from app.accounts.errors import SensitiveConsentRequired, TagAlreadySet, TagNotFound, TagNotSet
from app.accounts.resident_models import ConsentKind, Resident, ResidentTag, Tag
from app.auth.scopes import authorize, can
from app.community.errors import NameTaken, RegionNotFound, WrongParentKind
from app.community.integrity import flush_checked
from app.community.models import Region, RegionKind
from app.community.scope import region_ancestors
from app.community.services import get_region
from app.db import atomic
from app.errors import Forbidden
from app.extensions import db

#: Built-in tags (code, name, sensitive); the migration inserts them. Sensitive ones reveal health or means.
BUILTIN_TAGS = (
    ("dibao", "低保", True),
    ("low_income", "低收入", True),
    ("tekun", "特困", True),
    ("disabled", "残疾", True),
    ("retired", "离退休", False),
    ("living_alone", "独居", False),
    ("youfu", "优抚", True),
    ("party_member", "党员", False),
)
ELDERLY_TAG = {"id": None, "code": "elderly", "name": "高龄", "sensitive": False, "computed": True}
#: Tags are kept at these levels (a street has none of its own).
TAG_LEVELS = (RegionKind.community, RegionKind.district)


def ensure_builtin_tags() -> None:
    """Insert the built-in tags that are missing (the migration inserts them; this repairs a truncated table)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    db.session.execute(
        pg_insert(Tag)
        .values(
            [{"public_id": f"tag-{code}", "code": code, "name": name, "sensitive": s} for code, name, s in BUILTIN_TAGS]
        )
        .on_conflict_do_nothing()
    )


def get_tag(public_id: str) -> Tag:
    tag = db.session.scalar(sa.select(Tag).where(Tag.public_id == public_id))
    if tag is None:
        raise TagNotFound()
    return tag


def list_tags(region_public_id: str | None = None) -> list[Tag]:
    """Built-in tags, plus custom tags usable in ``region`` (defined there or above it)."""
    condition = Tag.region_id.is_(None)
    if region_public_id:
        region = get_region(region_public_id)
        condition = sa.or_(condition, Tag.region_id.in_(region_ancestors([region.id])))
    return list(db.session.scalars(sa.select(Tag).where(condition).order_by(Tag.region_id.nulls_first(), Tag.id)))


def create_tag(staff, region_public_id: str, *, name: str, sensitive: bool) -> Tag:
    """A custom tag for a community or district, by staff there."""
    with atomic():
        region = get_region(region_public_id)
        if region.kind not in TAG_LEVELS:
            raise WrongParentKind("自定义标签只能建在社区或区一级")
        authorize(staff, "resident.tag", region, not_found=RegionNotFound)
        tag = Tag(name=name.strip(), sensitive=sensitive, region_id=region.id, created_by_user_id=staff.id)
        db.session.add(tag)
        flush_checked(unique=NameTaken("已有同名标签"))
        audit.record("tag.create", actor=staff, target=("tag", tag.public_id), after={"tag": tag.name})
        return tag


def _level_for(staff, resident: Resident, tag: Tag, level_public_id: str | None) -> Region:
    """The community or district the tag is kept at: given, or the tag's own region, or the resident's community."""
    resident_regions = region_ancestors(resident.scope_community_ids())
    if level_public_id:
        level = get_region(level_public_id)
    elif tag.region_id is not None:
        level = db.session.get(Region, tag.region_id)
    else:
        allowed = [
            region
            for region in db.session.scalars(
                sa.select(Region).where(Region.id.in_(resident_regions), Region.kind == RegionKind.community)
            )
            if can(staff, "resident.tag", region)
        ]
        if not allowed:
            raise Forbidden("请指定标签所属的社区或区")
        level = allowed[0]
    if level.kind not in TAG_LEVELS or level.id not in resident_regions:
        raise WrongParentKind("标签只能记在居民所在的社区或区一级")
    if not can(staff, "resident.tag", level):
        raise Forbidden(f"没有在该{'区' if level.kind is RegionKind.district else '社区'}维护标签的权限")
    return level


def add_resident_tag(
    staff, resident_public_id: str, tag_public_id: str, *, reason: str, level_public_id: str | None = None
) -> ResidentTag:
    """Tag a resident (audited with the reason)."""
    from app.accounts.residents import staff_resident

    with atomic():
        resident = staff_resident(staff, resident_public_id, "resident.tag")
        tag = get_tag(tag_public_id)
        if tag.region_id is not None and tag.region_id not in region_ancestors(resident.scope_community_ids()):
            raise TagNotFound("该标签不适用于此居民所在辖区")
        if tag.sensitive and not has_consent(resident, ConsentKind.sensitive_data):
            raise SensitiveConsentRequired("记录敏感标签前须取得本人对敏感个人信息的单独同意（可由工作人员当面记录）")
        level = _level_for(staff, resident, tag, level_public_id)
        item = ResidentTag(
            resident_id=resident.id, tag_id=tag.id, region_id=level.id, assigned_by_user_id=staff.id, reason=reason
        )
        db.session.add(item)
        flush_checked(unique=TagAlreadySet())
        audit.record(
            "resident.tag.add",
            actor=staff,
            target=("resident", resident.public_id),
            after={"tag": tag.name, "level": level.name},
            reason=reason,
        )
        return item


def remove_resident_tag(staff, resident_public_id: str, tag_public_id: str, *, reason: str) -> None:
    """Remove a tag (audited with the reason); only staff over the level it is kept at (a district's tag stays
    unless district staff remove it)."""
    from app.accounts.residents import staff_resident

    with atomic():
        resident = staff_resident(staff, resident_public_id, "resident.tag")
        tag = get_tag(tag_public_id)
        item = db.session.scalar(
            sa.select(ResidentTag).where(ResidentTag.resident_id == resident.id, ResidentTag.tag_id == tag.id)
        )
        if item is None:
            raise TagNotSet()
        level = db.session.get(Region, item.region_id)
        if not can(staff, "resident.tag", level):
            raise Forbidden(f"该标签由{level.name}维护，没有删除的权限")
        db.session.delete(item)
        db.session.flush()
        audit.record(
            "resident.tag.remove",
            actor=staff,
            target=("resident", resident.public_id),
            before={"tag": tag.name, "level": level.name},
            reason=reason,
        )


def tags_of(resident: Resident, *, include_sensitive: bool, on: date | None = None) -> list[dict[str, Any]]:
    """The resident's tags as plain dicts, sensitive ones only when asked, plus 高龄 when it applies today."""
    from app.accounts.residents import is_elderly

    query = (
        sa.select(Tag, ResidentTag, Region.name)
        .join(ResidentTag, ResidentTag.tag_id == Tag.id)
        .join(Region, Region.id == ResidentTag.region_id)
        .where(ResidentTag.resident_id == resident.id)
        .order_by(Tag.id)
    )
    if not include_sensitive:
        query = query.where(Tag.sensitive.is_(False))
    result = [
        {
            "id": tag.public_id,
            "code": tag.code,
            "name": tag.name,
            "sensitive": tag.sensitive,
            "computed": False,
            "level": level_name,
            "reason": item.reason,
            "since": item.created_at,
        }
        for tag, item, level_name in db.session.execute(query)
    ]
    if is_elderly(resident, on):
        result.append(dict(ELDERLY_TAG))
    return result
