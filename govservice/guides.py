"""Service guides (办事指南): categories, published guides and their search; staff editing is in ``guide_editing``.

Residents read the published version of an item only; search matches Chinese, full pinyin and initials."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from app import audit
from app.api import decode_cursor, encode_cursor
from app.auth.scopes import authorize
from app.community.integrity import refusals
from app.db import atomic
from app.extensions import db
from govservice import centres
from govservice.errors import CategoryNotFound, GuideNotFound, NameTaken, NotPublished
from govservice.models import (
    Category,
    Centre,
    GuideItem,
    GuideMaterial,
    GuideVersion,
    VersionStatus,
    Window,
    WindowItem,
)
from govservice.permissions import MANAGE
from govservice.search import query_pattern, search_key

log = logging.getLogger(__name__)

#: Guide elements kept on a version (materials and the category are handled apart).
CONTENT_FIELDS = (
    "name",
    "department",
    "legal_basis",
    "conditions",
    "process",
    "fee_fen",
    "fee_standard",
    "fee_basis",
    "statutory_days",
    "promised_days",
    "kind",
    "place",
    "hours",
    "phone",
    "supervision_phone",
    "visits",
    "online",
    "bookable",
    "faq",
    "keywords",
)
MATERIAL_FIELDS = ("code", "name", "form", "copies", "required", "profile_fact", "reusable", "note")


# --- categories ----------------------------------------------------------------------------------------------------


def list_categories(centre_public_id: str) -> list[dict[str, Any]]:
    """A centre's categories with how many published items each holds (one query)."""
    centre = centres.get_centre(centre_public_id)
    published = (
        sa.select(GuideVersion.category_id, sa.func.count().label("n"))
        .where(GuideVersion.centre_id == centre.id, GuideVersion.status == VersionStatus.published)
        .group_by(GuideVersion.category_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Category, sa.func.coalesce(published.c.n, 0))
        .outerjoin(published, published.c.category_id == Category.id)
        .where(Category.centre_id == centre.id)
        .order_by(Category.position, Category.id)
    )
    return [{"id": c.public_id, "name": c.name, "position": c.position, "item_count": n} for c, n in rows]


def create_category(user, centre_public_id: str, data: dict[str, Any]) -> dict[str, Any]:
    with atomic():
        centre = centres.staff_centre(user, centre_public_id)
        category = Category(
            centre_id=centre.id, name=data["name"], position=data.get("position", 0), search=search_key(data["name"])
        )
        with refusals(unique=NameTaken("分类名称已被使用")):
            db.session.add(category)
        audit.record("govservice.category.create", actor=user, target=("govservice_category", category.public_id))
        return {"id": category.public_id, "name": category.name, "position": category.position, "item_count": 0}


def update_category(user, category_public_id: str, data: dict[str, Any]) -> dict[str, Any]:
    with atomic():
        category = _category(category_public_id)
        authorize(user, MANAGE, db.session.get(Centre, category.centre_id), not_found=CategoryNotFound)
        if "name" in data:
            category.name, category.search = data["name"], search_key(data["name"])
        if "position" in data:
            category.position = data["position"]
        with refusals(unique=NameTaken("分类名称已被使用")):
            pass
        audit.record("govservice.category.update", actor=user, target=("govservice_category", category.public_id))
        count = db.session.scalar(
            sa.select(sa.func.count()).where(
                GuideVersion.category_id == category.id, GuideVersion.status == VersionStatus.published
            )
        )
        return {"id": category.public_id, "name": category.name, "position": category.position, "item_count": count}


def _category(public_id: str) -> Category:
    category = db.session.scalar(sa.select(Category).where(Category.public_id == public_id))
    if category is None:
        raise CategoryNotFound()
    return category


# --- reading (residents: published versions only) -------------------------------------------------------------------


def search_guides(
    *,
    centre_public_id: str | None = None,
    category_public_id: str | None = None,
    q: str | None = None,
    online: bool | None = None,
    bookable: bool | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Published guides, by code (cursor pages). ``q`` matches name, code, keywords and category in Chinese, full
    pinyin or initials."""
    query = (
        sa.select(GuideVersion, GuideItem, Category)
        .join(GuideItem, GuideItem.id == GuideVersion.item_id)
        .join(Category, Category.id == GuideVersion.category_id)
        .where(GuideVersion.status == VersionStatus.published)
    )
    if centre_public_id:
        query = query.where(GuideItem.centre_id == centres.get_centre(centre_public_id).id)
    if category_public_id:
        query = query.where(GuideVersion.category_id == _category(category_public_id).id)
    if q is not None:
        pattern = query_pattern(q)
        if pattern is None:
            return {"items": [], "next_cursor": None}
        query = query.where(sa.or_(GuideVersion.search.ilike(pattern), Category.search.ilike(pattern)))
    if online is not None:
        query = query.where(GuideVersion.online.is_(online))
    if bookable is not None:
        query = query.where(GuideVersion.bookable.is_(bookable))
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 2 or not isinstance(values[0], str) or not isinstance(values[1], int):
            decode_cursor("!")
        query = query.where(
            sa.tuple_(GuideItem.code, GuideItem.id) > sa.tuple_(sa.literal(values[0]), sa.literal(values[1]))
        )
    rows = db.session.execute(query.order_by(GuideItem.code, GuideItem.id).limit(limit + 1)).all()
    page = rows[:limit]
    next_cursor = encode_cursor([page[-1][1].code, page[-1][1].id]) if len(rows) > limit else None
    return {"items": [_brief(version, item, category) for version, item, category in page], "next_cursor": next_cursor}


def _brief(version: GuideVersion, item: GuideItem, category: Category) -> dict[str, Any]:
    return {
        "id": item.public_id,
        "code": item.code,
        "name": version.name,
        "category": {"id": category.public_id, "name": category.name},
        "department": version.department,
        "kind": version.kind,
        "promised_days": version.promised_days,
        "visits": version.visits,
        "online": version.online,
        "bookable": version.bookable,
    }


def published_guide(item_public_id: str) -> dict[str, Any]:
    """A published guide with its materials and the windows serving it; 404 while it has never been published."""
    item = get_item(item_public_id)
    version = version_of(item, VersionStatus.published)
    if version is None:
        raise GuideNotFound()
    return {**full_view(item, version), "windows": windows_of(item)}


def published_version(item: GuideItem) -> GuideVersion:
    version = version_of(item, VersionStatus.published)
    if version is None:
        raise NotPublished()
    return version


def windows_of(item: GuideItem) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        sa.select(Window)
        .join(WindowItem, WindowItem.window_id == Window.id)
        .where(WindowItem.item_id == item.id, Window.is_active)
        .order_by(Window.number)
    )
    return [{"id": w.public_id, "number": w.number, "name": w.name} for w in rows]


def get_item(public_id: str) -> GuideItem:
    """An item by public id, published or not (callers decide what may be seen)."""
    item = db.session.scalar(sa.select(GuideItem).where(GuideItem.public_id == public_id))
    if item is None:
        raise GuideNotFound()
    return item


def version_of(item: GuideItem, status: VersionStatus) -> GuideVersion | None:
    return db.session.scalar(
        sa.select(GuideVersion).where(GuideVersion.item_id == item.id, GuideVersion.status == status)
    )


def full_view(item: GuideItem, version: GuideVersion) -> dict[str, Any]:
    category = db.session.get(Category, version.category_id)
    materials = db.session.scalars(
        sa.select(GuideMaterial).where(GuideMaterial.version_id == version.id).order_by(GuideMaterial.position)
    ).all()
    centre = db.session.get(Centre, item.centre_id)
    return {
        **_brief(version, item, category),
        "centre": {"id": centre.public_id, "name": centre.name},
        "version": version.number,
        "status": version.status,
        **{field: getattr(version, field) for field in CONTENT_FIELDS if field not in ("name",)},
        "materials": list(materials),
        "published_at": version.published_at,
        "updated_at": version.updated_at,
    }
