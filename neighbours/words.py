"""The sensitive-word list staff edit: platform-wide words (platform admins) and words kept at a district, street or
community (its staff), each ``mask`` or ``reject``; ``moderation.filter_words`` applies them. Every change audited."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import audit
from app.api import keyset_page
from app.auth.core import has_platform_role
from app.auth.scopes import authorize
from app.community.models import Region
from app.db import atomic
from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from neighbours.errors import WordExists, WordNotFound
from neighbours.models import SensitiveWord


def _word_region(staff, region_public_id: str | None) -> Region | None:
    """Platform-wide words are for platform admins; a region's words for staff over it."""
    if region_public_id is None:
        if not has_platform_role(staff, "admin"):
            raise Forbidden("只有平台管理员可以维护全平台敏感词")
        return None
    region = db.session.scalar(sa.select(Region).where(Region.public_id == region_public_id))
    if region is None:
        raise NotFound("区域不存在")
    authorize(staff, "neighbours.moderate", region)
    return region


def _word_view(word: SensitiveWord, regions: dict[int, str]) -> dict:
    return {
        "id": word.public_id,
        "word": word.word,
        "action": word.action,
        "region_id": regions.get(word.region_id) if word.region_id else None,
        "created_at": word.created_at,
    }


def add_word(staff, data: dict[str, Any]) -> dict:
    with atomic():
        region = _word_region(staff, data.get("region_id"))
        text = data["word"].strip().lower()
        if not text:
            raise ValidationFailed(details={"fields": {"json": {"word": ["敏感词不能为空"]}}})
        word = SensitiveWord(
            region_id=region.id if region else None,
            word=text,
            action=data["action"],
            created_by_user_id=staff.id,
        )
        try:
            with atomic(savepoint=True):
                db.session.add(word)
                db.session.flush()
        except IntegrityError as error:
            if (getattr(getattr(error.orig, "diag", None), "constraint_name", None) or "").startswith("uq_"):
                raise WordExists() from None
            raise ValidationFailed(details={"fields": {"json": {"word": ["敏感词格式无效"]}}}) from None
        audit.record(
            "neighbours.word.add",
            actor=staff,
            target=("neighbours_word", word.public_id),
            after={"word": word.word, "action": word.action.value},
        )
        return _word_view(word, {region.id: region.public_id} if region else {})


def remove_word(staff, public_id: str) -> None:
    with atomic():
        word = db.session.scalar(sa.select(SensitiveWord).where(SensitiveWord.public_id == public_id))
        if word is None:
            raise WordNotFound()
        region = db.session.get(Region, word.region_id) if word.region_id else None
        _word_region(staff, region.public_id if region else None)
        db.session.delete(word)
        audit.record(
            "neighbours.word.remove",
            actor=staff,
            target=("neighbours_word", public_id),
            before={"word": word.word, "action": word.action.value},
        )


def list_words(staff, region_public_id: str | None, *, cursor: str | None, limit: int) -> dict:
    """Platform-wide words, or those kept at one region (staff over it)."""
    region = None
    if region_public_id is not None:
        region = db.session.scalar(sa.select(Region).where(Region.public_id == region_public_id))
        if region is None:
            raise NotFound("区域不存在")
        authorize(staff, "neighbours.read", region)
    query = sa.select(SensitiveWord).where(
        SensitiveWord.region_id == region.id if region else SensitiveWord.region_id.is_(None)
    )
    page = keyset_page(
        db.session, query, [SensitiveWord.created_at, SensitiveWord.public_id], cursor=cursor, limit=limit
    )
    regions = {region.id: region.public_id} if region else {}
    return {"items": [_word_view(word, regions) for word in page["items"]], "next_cursor": page["next_cursor"]}
