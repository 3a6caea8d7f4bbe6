"""Fixtures for push: test events, people with accounts (WeChat, phone) or none, delegations, the fake WeChat server
and the in-memory SMS backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
import sqlalchemy as sa

from app import push
from app.accounts.resident_models import Delegation, DelegationStatus, Relationship, Resident
from app.db import atomic, utcnow
from app.extensions import db as database
from app.push.models import Delivery
from tests.auth.conftest import fake_wechat, sms  # noqa: F401  (fixtures)
from tests.community.fixtures import api, join, make_resident, make_staff, tree  # noqa: F401  (fixtures)

NOTICE_TEMPLATE = "TPL_TEST_NOTICE"
PICKUP_TEMPLATE = "TPL_TEST_PICKUP"

push.register_event(
    "test.notice",
    "社区通知",
    channels=("inbox", "wechat"),
    template_id=NOTICE_TEMPLATE,
    fields={"thing1": "title", "time2": "published_at"},
    title="{title}",
    body="{summary}",
)
push.register_event(
    "test.pickup",
    "取件通知",
    channels=("inbox", "wechat", "sms"),
    template_id=PICKUP_TEMPLATE,
    fields={"thing1": "locker", "character_string2": "code"},
    scope="marketplace",
    body="您的包裹已存入{locker}，取件码{code}。",
    sms="您的包裹已存入{locker}，取件码{code}。",
)
push.register_event(
    "test.outage",
    "紧急通知",
    channels=("inbox", "sms"),
    urgent=True,
    title="{title}",
    body="{title}",
    sms="【紧急】{title}",
)


@pytest.fixture(params=[20, 0], ids=["inline", "by_job"])
def both_paths(request, app, monkeypatch) -> None:
    """Run a test with sends to a few residents fanned out in the sender's statement (the default) and, with
    ``PUSH_INLINE_AUDIENCE`` at 0, by their fan-out job: the two statements share the rules being tested."""
    monkeypatch.setitem(app.config, "PUSH_INLINE_AUDIENCE", request.param)


@pytest.fixture
def person(make_user) -> Callable:
    """``person(name, account=True, openid=None, phone=None, community=None)`` → (user or None, resident)."""

    def create(
        name: str = "居民", *, account: bool = True, openid: str | None = None, phone: str | None = None, community=None
    ):
        columns = {}
        if openid:
            columns["wechat_openid"] = openid
        if phone:
            columns.update(phone=phone, phone_verified_at=utcnow())
        user = make_user(name, **columns) if account else None
        with atomic():
            resident = Resident(
                real_name=name,
                user_id=user.id if user else None,
                registered_community_id=community.id if community is not None else None,
            )
            database.session.add(resident)
            database.session.flush()
        return user, resident

    return create


@pytest.fixture
def delegate() -> Callable:
    """``delegate(actor, subject, scopes=("notices",), status="active", expires_at=None)``: a delegation row as the
    approval flow leaves it."""

    def create(
        actor: Resident,
        subject: Resident,
        scopes=("notices",),
        *,
        status: str = "active",
        expires_at: datetime | None = None,
    ) -> Delegation:
        with atomic():
            delegation = Delegation(
                actor_resident_id=actor.id,
                subject_resident_id=subject.id,
                relationship=Relationship.child,
                scopes=list(scopes),
                status=DelegationStatus(status),
                expires_at=expires_at,
                decided_at=utcnow() if status == "active" else None,
            )
            database.session.add(delegation)
            database.session.flush()
        return delegation

    return create


@pytest.fixture
def grant(app) -> Callable:
    """``grant(user, template_id, n=1)``: the user accepted the template ``n`` times."""
    from app.push.subscriptions import record_grants

    def create(user, template_id: str = NOTICE_TEMPLATE, n: int = 1) -> None:
        for _ in range(n):
            record_grants(user, [template_id])

    return create


def delivery_of(receipt) -> Delivery:
    return database.session.scalar(sa.select(Delivery).where(Delivery.public_id == receipt.delivery_id))


def fan_out_now(receipt) -> Delivery:
    """Run a delivery's fan-out in this process (the job's body), leaving its outside messages queued."""
    from app.push.fanout import fan_out

    delivery = delivery_of(receipt)
    with atomic():
        fan_out(delivery.id)
    database.session.refresh(delivery)
    return delivery
