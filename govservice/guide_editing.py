"""Staff editing of service guides: items with a draft and a published version, publishing and withdrawing.

Staff edit a draft; publishing it retires the previous publication in the same transaction, so residents always
read exactly one published version while the next one is being written. Version changes of one item are
serialised by locking the item row.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app import audit
from app.accounts.profile import FACTS
from app.auth.scopes import authorize
from app.community.integrity import refusals
from app.db import atomic, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from govservice import centres
from govservice.errors import CategoryNotFound, CodeTaken, GuideNotFound, NoDraft, NotPublished
from govservice.guides import CONTENT_FIELDS, MATERIAL_FIELDS, full_view, get_item, version_of, windows_of
from govservice.models import Category, Centre, GuideItem, GuideMaterial, GuideVersion, ItemKind, VersionStatus
from govservice.permissions import MANAGE
from govservice.search import query_pattern, search_key

log = logging.getLogger(__name__)


def staff_guides(user, centre_public_id: str, *, q: str | None, status: str | None, pagination) -> list[dict]:
    """Every item of a centre with its draft and published state (page pagination with totals)."""
    centre = centres.staff_centre(user, centre_public_id)
    draft, published = aliased(GuideVersion), aliased(GuideVersion)
    query = (
        sa.select(GuideItem, draft, published)
        .outerjoin(draft, sa.and_(draft.item_id == GuideItem.id, draft.status == VersionStatus.draft))
        .outerjoin(published, sa.and_(published.item_id == GuideItem.id, published.status == VersionStatus.published))
        .where(GuideItem.centre_id == centre.id)
    )
    if q is not None:
        pattern = query_pattern(q)
        if pattern is None:
            pagination.item_count = 0
            return []
        query = query.where(sa.or_(draft.search.ilike(pattern), published.search.ilike(pattern)))
    if status == "draft":
        query = query.where(draft.id.is_not(None))
    elif status == "published":
        query = query.where(published.id.is_not(None))
    elif status == "unpublished":
        query = query.where(published.id.is_(None))
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(GuideItem.code, GuideItem.id).offset(pagination.first_item).limit(pagination.page_size)
    ).all()
    return [
        {
            "id": item.public_id,
            "code": item.code,
            "name": (d or p).name if (d or p) else "",
            "has_draft": d is not None,
            "published_version": p.number if p else None,
            "published_at": p.published_at if p else None,
            "updated_at": (d or p).updated_at if (d or p) else item.created_at,
        }
        for item, d, p in rows
    ]


def staff_guide(user, item_public_id: str) -> dict[str, Any]:
    item = _staffget_item(user, item_public_id)
    return _staff_view(item)


def _staffget_item(user, public_id: str, *, lock: bool = False) -> GuideItem:
    item = get_item(public_id)
    authorize(user, MANAGE, db.session.get(Centre, item.centre_id), not_found=GuideNotFound)
    if lock:
        db.session.execute(sa.select(GuideItem.id).where(GuideItem.id == item.id).with_for_update())
    return item


def _staff_view(item: GuideItem) -> dict[str, Any]:
    draft = version_of(item, VersionStatus.draft)
    published = version_of(item, VersionStatus.published)
    return {
        "id": item.public_id,
        "code": item.code,
        "draft": full_view(item, draft) if draft else None,
        "published": full_view(item, published) if published else None,
        "windows": windows_of(item),
    }


def create_guide(user, centre_public_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """A new item with its first draft (residents see nothing until it is published)."""
    with atomic():
        centre = centres.staff_centre(user, centre_public_id)
        item = GuideItem(centre_id=centre.id, code=data["code"], created_by_user_id=user.id)
        with refusals(unique=CodeTaken()):
            db.session.add(item)
        version = GuideVersion(item_id=item.id, centre_id=centre.id, number=1, status=VersionStatus.draft)
        _apply(version, item, centre, data, creating=True)
        version.edited_by_user_id = user.id
        db.session.add(version)
        db.session.flush()
        _replace_materials(version, data.get("materials") or [])
        audit.record(
            "govservice.guide.create",
            actor=user,
            target=("govservice_guide", item.public_id),
            after={"code": item.code},
        )
        return _staff_view(item)


def edit_draft(user, item_public_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Change the draft (made from the published version when there is none); ``materials`` replaces the list."""
    with atomic():
        item = _staffget_item(user, item_public_id, lock=True)
        centre = db.session.get(Centre, item.centre_id)
        draft = version_of(item, VersionStatus.draft)
        if draft is None:
            draft = _draft_from_published(item)
        _apply(draft, item, centre, data, creating=False)
        draft.edited_by_user_id = user.id
        db.session.flush()
        if data.get("materials") is not None:
            _replace_materials(draft, data["materials"])
        audit.record(
            "govservice.guide.edit",
            actor=user,
            target=("govservice_guide", item.public_id),
            after={"version": draft.number, "fields": ",".join(sorted(data))},
        )
        return _staff_view(item)


def _draft_from_published(item: GuideItem) -> GuideVersion:
    published = version_of(item, VersionStatus.published)
    if published is None:  # every item is created with a draft; an unpublished one without a draft was discarded
        latest = db.session.scalar(
            sa.select(GuideVersion).where(GuideVersion.item_id == item.id).order_by(GuideVersion.number.desc())
        )
        published = latest
    number = db.session.scalar(sa.select(sa.func.max(GuideVersion.number)).where(GuideVersion.item_id == item.id))
    draft = GuideVersion(
        item_id=item.id,
        centre_id=item.centre_id,
        number=(number or 0) + 1,
        status=VersionStatus.draft,
        category_id=published.category_id,
        search=published.search,
    )
    for field in CONTENT_FIELDS:
        setattr(draft, field, getattr(published, field))
    db.session.add(draft)
    db.session.flush()
    materials = db.session.scalars(
        sa.select(GuideMaterial).where(GuideMaterial.version_id == published.id).order_by(GuideMaterial.position)
    ).all()
    _replace_materials(draft, [{field: getattr(m, field) for field in MATERIAL_FIELDS} for m in materials])
    return draft


def publish(user, item_public_id: str) -> dict[str, Any]:
    """Publish the draft; the previous publication is retired in the same transaction."""
    with atomic():
        item = _staffget_item(user, item_public_id, lock=True)
        draft = version_of(item, VersionStatus.draft)
        if draft is None:
            raise NoDraft()
        db.session.execute(
            sa.update(GuideVersion)
            .where(GuideVersion.item_id == item.id, GuideVersion.status == VersionStatus.published)
            .values(status=VersionStatus.retired)
        )
        draft.status, draft.published_at, draft.published_by_user_id = VersionStatus.published, utcnow(), user.id
        db.session.flush()
        audit.record(
            "govservice.guide.publish",
            actor=user,
            target=("govservice_guide", item.public_id),
            after={"version": draft.number},
        )
        log.info("guide %s version %s published by user %s", item.id, draft.number, user.id)
        return _staff_view(item)


def unpublish(user, item_public_id: str, reason: str) -> dict[str, Any]:
    """Withdraw the published version: residents no longer see the guide (bookings made stay valid)."""
    with atomic():
        item = _staffget_item(user, item_public_id, lock=True)
        withdrawn = db.session.execute(
            sa.update(GuideVersion)
            .where(GuideVersion.item_id == item.id, GuideVersion.status == VersionStatus.published)
            .values(status=VersionStatus.retired)
            .returning(GuideVersion.number)
        ).scalar()
        if withdrawn is None:
            raise NotPublished()
        audit.record(
            "govservice.guide.unpublish",
            actor=user,
            target=("govservice_guide", item.public_id),
            after={"version": withdrawn},
            reason=reason,
        )
        return _staff_view(item)


def discard_draft(user, item_public_id: str) -> None:
    with atomic():
        item = _staffget_item(user, item_public_id, lock=True)
        draft = version_of(item, VersionStatus.draft)
        if draft is None:
            raise NoDraft()
        if not db.session.scalar(
            sa.select(sa.exists().where(GuideVersion.item_id == item.id, GuideVersion.id != draft.id))
        ):
            raise NoDraft("这是该事项唯一的版本，不能丢弃")
        db.session.delete(draft)
        db.session.flush()
        audit.record("govservice.guide.discard_draft", actor=user, target=("govservice_guide", item.public_id))


# --- helpers -------------------------------------------------------------------------------------------------------


def _apply(version: GuideVersion, item: GuideItem, centre: Centre, data: dict[str, Any], *, creating: bool) -> None:
    if "category_id" in data:
        category = db.session.scalar(
            sa.select(Category).where(Category.public_id == data["category_id"], Category.centre_id == centre.id)
        )
        if category is None:
            raise CategoryNotFound(details={"category_id": data["category_id"]})
        version.category_id = category.id
    elif creating:
        raise ValidationFailed(details={"fields": {"json": {"category_id": ["请选择事项分类"]}}})
    for field in CONTENT_FIELDS:
        if field in data:
            setattr(version, field, data[field])
    if creating:
        for field, default in (
            ("kind", ItemKind.immediate),
            ("promised_days", 0),
            ("visits", 1),
            ("online", False),
            ("bookable", False),
            ("fee_fen", 0),
            ("faq", []),
            ("keywords", ""),
        ):
            if getattr(version, field) is None:
                setattr(version, field, default)
    _check(version)
    version.search = search_key(version.name, item.code, version.keywords or "")


def _check(version: GuideVersion) -> None:
    """Readable 422s for what the CHECK constraints would refuse anyway."""
    problems: dict[str, list[str]] = {}
    if version.kind is ItemKind.immediate and version.promised_days != 0:
        problems["promised_days"] = ["即办件的承诺期限应为 0 个工作日"]
    if version.kind is ItemKind.promised and not version.promised_days:
        problems["promised_days"] = ["承诺件须填写承诺期限（工作日）"]
    if version.statutory_days is not None and version.statutory_days < (version.promised_days or 0):
        problems["statutory_days"] = ["法定期限不能短于承诺期限"]
    if version.visits == 0 and not version.online:
        problems["visits"] = ["零跑腿事项须可网上办理"]
    if problems:
        raise ValidationFailed(details={"fields": {"json": problems}})


def _replace_materials(version: GuideVersion, materials: list[dict[str, Any]]) -> None:
    codes = [material["code"] for material in materials]
    if len(set(codes)) != len(codes):
        raise ValidationFailed(details={"fields": {"json": {"materials": ["材料编码不能重复"]}}})
    for material in materials:
        fact = material.get("profile_fact")
        if fact is not None and fact not in FACTS:
            raise ValidationFailed(details={"fields": {"json": {"materials": [f"未知的个人信息项：{fact}"]}}})
    db.session.execute(sa.delete(GuideMaterial).where(GuideMaterial.version_id == version.id))
    db.session.add_all(
        GuideMaterial(version_id=version.id, position=index, **{f: m[f] for f in MATERIAL_FIELDS if f in m})
        for index, m in enumerate(materials)
    )
    db.session.flush()
