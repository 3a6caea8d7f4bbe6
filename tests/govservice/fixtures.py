"""Fixtures and helpers for govservice tests: a centre with published bookable items and windows, a clock, notices.

Imported by ``conftest.py`` (fixtures) and by the tests (helpers).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.api import SHANGHAI
from app.db import atomic, utcnow
from app.extensions import db as database
from app.push.models import AudienceChunk, Delivery, InboxItem, Unreachable
from govservice import clock
from govservice.models import (
    Category,
    Centre,
    GuideItem,
    GuideVersion,
    ItemKind,
    Session,
    VersionStatus,
    Window,
    WindowItem,
)
from govservice.search import search_key

#: Open every day, holidays included, so booking tests do not depend on the calendar of the day they run.
EVERY_DAY = [
    {
        "weekday": weekday,
        "starts_at": time(9),
        "ends_at": time(12),
        "slot_minutes": 30,
        "capacity": 2,
        "workday_only": False,
        "holiday_service": True,
    }
    for weekday in range(7)
]


def add(obj):
    database.session.add(obj)
    database.session.flush()
    return obj


def add_item(centre, category, code: str, name: str, *, bookable: bool = True, keywords: str = "") -> GuideItem:
    item = add(GuideItem(centre_id=centre.id, code=code))
    add(
        GuideVersion(
            item_id=item.id,
            centre_id=centre.id,
            number=1,
            status=VersionStatus.published,
            published_at=utcnow(),
            category_id=category.id,
            name=name,
            department="区人力资源和社会保障局",
            kind=ItemKind.immediate,
            visits=1,
            bookable=bookable,
            keywords=keywords,
            search=search_key(name, code, keywords),
        )
    )
    return item


def build_centre(community, *, sessions=None, capacity: int | None = None, **rules) -> SimpleNamespace:
    """A centre of ``community`` with category 社保卡, two published bookable items and window 1 serving both
    (sessions every day 9:00–12:00 in 30-minute slots unless given), plus window 2 serving the first item."""
    with atomic():
        centre = add(Centre(region_id=community.id, name=f"{community.name}服务中心", **{"latest_days": 14, **rules}))
        category = add(Category(centre_id=centre.id, name="社保卡", search=search_key("社保卡")))
        item = add_item(centre, category, "SK-001", "社会保障卡申领", keywords="社保卡")
        other = add_item(centre, category, "SK-002", "社会保障卡补换卡", keywords="社保卡")
        window = add(Window(centre_id=centre.id, number=1, name="社保综合", queue_prefix="A"))
        window2 = add(Window(centre_id=centre.id, number=2, name="综合受理", queue_prefix="B"))
        for target, items in ((window, (item, other)), (window2, (item,))):
            for served in items:
                add(WindowItem(window_id=target.id, item_id=served.id, centre_id=centre.id))
            for session in sessions if sessions is not None else EVERY_DAY:
                values = dict(session)
                if capacity is not None:
                    values["capacity"] = capacity
                add(Session(window_id=target.id, **values))
    return SimpleNamespace(centre=centre, category=category, item=item, other=other, window=window, window2=window2)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local (Asia/Shanghai) time on ``day``, aware."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def tomorrow() -> date:
    return clock.today() + timedelta(days=1)


def body(item, window, starts_at: datetime, **extra) -> dict:
    return {"item_id": item.public_id, "window_id": window.public_id, "starts_at": starts_at.isoformat(), **extra}


def notices(event: str | None = None) -> list[SimpleNamespace]:
    """Notices sent through ``app.push`` (oldest first): the delivery and the residents in its audience (read
    before the fan-out from ``push_audience_chunks``, after it from the inbox and the unreachable list)."""
    query = sa.select(Delivery).order_by(Delivery.id)
    if event is not None:
        query = query.where(Delivery.event == event)
    result = []
    for delivery in database.session.scalars(query):
        residents = set(
            database.session.scalars(
                sa.select(sa.func.unnest(AudienceChunk.resident_ids)).where(AudienceChunk.delivery_id == delivery.id)
            )
        )
        for model in (InboxItem, Unreachable):
            residents |= set(
                database.session.scalars(sa.select(model.resident_id).where(model.delivery_id == delivery.id))
            )
        result.append(
            SimpleNamespace(
                event=delivery.event,
                source=(delivery.source_kind, delivery.source_id),
                key=delivery.key,
                title=delivery.title,
                body=delivery.body,
                residents=sorted(residents),
            )
        )
    return result


@pytest.fixture
def setup(tree) -> SimpleNamespace:
    """Community A's centre (see ``build_centre``)."""
    return build_centre(tree.a)


@pytest.fixture
def freeze(monkeypatch) -> Callable[[datetime], None]:
    """``freeze(at(day, 9))``: govservice's clock reads that time (the outbox and the calendar are not affected)."""

    def set_clock(moment: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: moment)

    return set_clock


@pytest.fixture
def resident(make_resident, tree):
    """A resident of community A with an account: (user, resident)."""
    return make_resident("张三", community=tree.a)


@pytest.fixture
def staff_a(make_staff, tree):
    return make_staff(tree.a)


@pytest.fixture
def staff_b(make_staff, tree):
    return make_staff(tree.b)
