"""Fixtures for notices: the community tree, staff, residents with tags and births, delegations, a notice maker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
import sqlalchemy as sa

from app.accounts.resident_models import ResidentTag, Tag
from app.db import atomic
from app.extensions import db as database
from tests.community.fixtures import api, join, make_resident, make_staff, tree  # noqa: F401  (fixtures)
from tests.push.conftest import delegate  # noqa: F401  (fixture)


@pytest.fixture
def tag() -> Callable:
    """``tag(resident, code, region)``: the resident holds the built-in tag ``code``, kept at ``region``."""

    def add(resident, code: str, region) -> None:
        with atomic():
            tag_id = database.session.scalar(sa.select(Tag.id).where(Tag.code == code))
            database.session.add(
                ResidentTag(resident_id=resident.id, tag_id=tag_id, region_id=region.id, reason="测试")
            )
            database.session.flush()

    return add


@pytest.fixture
def draft(api) -> Callable:  # noqa: F811  (pytest injects the imported ``api`` fixture)
    """``draft(staff, region, audience=None, **fields)`` → the created notice's JSON (asserts 201)."""

    def create(staff, region, audience: dict | None = None, **fields):
        body = {"region_id": region.public_id, "title": "停水通知", "body": "明日 9:00–17:00 停水。", **fields}
        if audience is not None:
            body["audience"] = audience
        response = api(staff, "post", "/api/v1/notices", json=body)
        assert response.status_code == 201, response.json
        return response.json

    return create


@pytest.fixture
def people(tree, make_staff, make_resident, join, delegate):  # noqa: F811  (pytest injects imported fixtures)
    """Community A: two residents with accounts, an elder (85, no account) whose daughter (in community B) holds a
    ``notices`` delegation, a resident with no account and no delegate; community B: one resident with an account."""
    staff = make_staff(tree.a)
    own1, r1 = make_resident("甲", sequence="911")
    own2, r2 = make_resident("乙", sequence="912")
    _none, elder = make_resident("老张", born=date(1940, 1, 1), sequence="913", account=False)
    daughter_user, daughter = make_resident("张女", sequence="914")
    _none, alone = make_resident("独居", sequence="915", account=False)
    outsider_user, outsider = make_resident("丙", sequence="916")
    for resident, room in ((r1, "101"), (r2, "102"), (elder, "201"), (alone, "201")):
        join(resident, tree.rooms_a[room])
    join(daughter, tree.rooms_b["101"])
    join(outsider, tree.rooms_b["102"])
    delegate(daughter, elder)
    return type(
        "People",
        (),
        {
            "staff": staff,
            "own1": own1,
            "own2": own2,
            "elder": elder,
            "daughter": daughter_user,
            "alone": alone,
            "outsider": outsider_user,
        },
    )
