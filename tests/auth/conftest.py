"""Fixtures for login and tokens: the fake WeChat server, the in-memory SMS backend, signed-in sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fakes.wechat import FakeWeChat


@pytest.fixture(autouse=True)
def shared_extensions(app) -> Iterator[None]:
    """``redis_client`` and ``limiter`` are process-wide; a test that built another app (another Redis, rate limits
    on) leaves them bound to it. Bind them back to the shared app around every test here."""
    from app.extensions import limiter, redis_client

    redis_client.init_app(app)
    limiter.init_app(app)
    yield
    redis_client.init_app(app)
    limiter.init_app(app)


@pytest.fixture
def fake_wechat(app, redis, monkeypatch) -> Iterator[FakeWeChat]:
    """A fake WeChat API on 127.0.0.1, and the app configured with a mini-program pointing at it."""
    fake = FakeWeChat().start()
    monkeypatch.setitem(app.config, "WECHAT_MINI_APPID", fake.appid)
    monkeypatch.setitem(app.config, "WECHAT_MINI_SECRET", fake.secret)
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", fake.base_url)
    yield fake
    fake.stop()


@pytest.fixture
def sms(app, monkeypatch):
    """The in-memory SMS backend: ``sms.last_code(phone)`` is the code a user would read on their phone."""
    from app.sms import get_sender

    monkeypatch.setitem(app.config, "SMS_BACKEND", "memory")
    sender = get_sender()
    sender.clear()
    yield sender
    sender.clear()


@pytest.fixture
def sign_in(app) -> Callable:
    """``sign_in(user)`` → ``Tokens`` of a new session (as a login would give)."""
    from app.auth.models import LoginMethod
    from app.auth.sessions import login
    from app.db import atomic

    def create(user, method=LoginMethod.sms):
        with atomic():
            return login(user, method)

    return create


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
