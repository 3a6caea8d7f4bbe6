"""The residents' feed: published, unexpired notices that reached the caller (themselves or for someone who
delegated ``notices`` to them), pinned first, then newest; cursor pages; a constant number of statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.api import decode_cursor, keyset_page
from app.community.models import Region
from app.db import atomic
from app.errors import ValidationFailed
from app.extensions import db
from app.push.inbox import own_rows
from app.push.models import Delivery
from notices import markdown
from notices.models import CHANNEL_NAMES, Notice, NoticeChannel, NoticeStatus
from notices.services import SOURCE_KIND


def _check_cursor(cursor: str) -> None:
    """A cursor is (pinned, published_at, public id): anything else is a 422, never a failed SQL comparison.

    :raises ValidationFailed: a cursor this feed did not make.
    """
    values = decode_cursor(cursor)
    if not (
        len(values) == 3
        and isinstance(values[0], bool)
        and isinstance(values[1], datetime)
        and values[1].tzinfo is not None
        and isinstance(values[2], str)
    ):
        raise ValidationFailed("分页游标无效", details={"fields": {"query": {"cursor": ["无效的游标"]}}})


def feed_page(user, *, cursor: str | None, limit: int, channel: NoticeChannel | None = None) -> dict[str, Any]:
    """Notices sent to the caller's inbox, pinned first then newest (``read`` tells whether any of the caller's
    inbox rows for it is read). Three statements whatever the page size: the page, read states, regions."""
    if cursor is not None:
        _check_cursor(cursor)
    with atomic():
        mine = own_rows(user.id)
        received = sa.select(Delivery.source_id).join(mine, mine.c.delivery_id == Delivery.id)
        received = received.where(Delivery.source_kind == SOURCE_KIND)
        query = sa.select(Notice).where(
            Notice.public_id.in_(received),
            Notice.status == NoticeStatus.published,
            sa.or_(Notice.expires_at.is_(None), Notice.expires_at > sa.func.now()),
        )
        if channel is not None:
            query = query.where(Notice.channel == channel)
        page = keyset_page(
            db.session, query, [Notice.pinned, Notice.published_at, Notice.public_id], cursor=cursor, limit=limit
        )
        notices: list[Notice] = page["items"]
        if not notices:
            return page
        mine = own_rows(user.id)
        read = dict(
            db.session.execute(
                sa.select(Delivery.source_id, sa.func.bool_or(mine.c.read_at.is_not(None)))
                .join(mine, mine.c.delivery_id == Delivery.id)
                .where(
                    Delivery.source_kind == SOURCE_KIND,
                    Delivery.source_id.in_([notice.public_id for notice in notices]),
                )
                .group_by(Delivery.source_id)
            ).all()
        )
        regions = {
            region.id: region
            for region in db.session.scalars(
                sa.select(Region).where(Region.id.in_({notice.region_id for notice in notices}))
            )
        }
        page["items"] = [
            {
                "id": notice.public_id,
                "region": {
                    "id": regions[notice.region_id].public_id,
                    "name": regions[notice.region_id].name,
                    "kind": regions[notice.region_id].kind.value,
                },
                "channel": notice.channel.value,
                "channel_name": CHANNEL_NAMES[notice.channel],
                "title": notice.title,
                "summary": markdown.summary(notice.body),
                "urgent": notice.urgent,
                "pinned": notice.pinned,
                "status": notice.status.value,
                "published_at": notice.published_at,
                "expires_at": notice.expires_at,
                "read": bool(read.get(notice.public_id)),
            }
            for notice in notices
        ]
        return page
