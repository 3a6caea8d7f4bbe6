"""Fixtures for 邻里圈: the community tree, verified residents living in buildings, staff, a post maker, the fake
WeChat server (content security) and a message-push token."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.auth.conftest import fake_wechat  # noqa: F401  (fixture)
from tests.community.fixtures import api, join, make_resident, make_staff, tree  # noqa: F401  (fixtures)

POSTS = "/api/v1/neighbours/posts"
MESSAGE_TOKEN = "test-message-push-token"


@pytest.fixture(autouse=True)
def shared_extensions(app) -> Iterator[None]:
    """A test that built another app (rate limits on) leaves the process-wide limiter bound to it: bind it back."""
    from app.extensions import limiter, redis_client

    yield
    redis_client.init_app(app)
    limiter.init_app(app)


@pytest.fixture
def neighbour(make_resident, join) -> Callable:  # noqa: F811  (pytest injects the imported fixtures)
    """``neighbour(household, name=…, verified=True, openid=None)`` → the user of a resident living there."""
    from app.db import atomic
    from app.extensions import db

    counter = {"n": 0}

    def create(household, name: str | None = None, *, verified: bool = True, openid: str | None = None):
        counter["n"] += 1
        number = counter["n"]
        user, resident = make_resident(
            name or f"邻居{number}", sequence=f"9{number:02d}"[-3:], verified=verified, community=None
        )
        if openid:
            with atomic():
                user.wechat_openid = openid
                db.session.add(user)
        join(resident, household)
        return user

    return create


@pytest.fixture
def write_post(api) -> Callable:  # noqa: F811
    """``write_post(user, text=…, **fields)`` → the created post's JSON (asserts 201)."""

    def create(user, text: str = "谁家的猫在楼下？", *, expect: int = 201, **fields):
        body = {"topic": fields.pop("topic", "pets"), "text": text, **fields}
        response = api(user, "post", POSTS, json=body)
        assert response.status_code == expect, response.json
        return response.json

    return create


@pytest.fixture
def wechat_on(app, fake_wechat, monkeypatch):  # noqa: F811
    """The mini-program configured against the fake, with a message-push token and a public base URL."""
    monkeypatch.setitem(app.config, "WECHAT_MESSAGE_TOKEN", MESSAGE_TOKEN)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://linli.example.com")
    return fake_wechat
