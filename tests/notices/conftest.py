"""Fixtures for notices: the community tree, staff, residents with tags and births, delegations, a notice maker."""

from __future__ import annotations

from collections.abc import Callable

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
