"""WeChat subscribe messages leave the fan-out in batch jobs whose calls to WeChat run a bounded number at a time:
the bound holds, each message is sent once and spends one grant, and a call WeChat could not take now is retried
alone from its own outbox row."""

import threading
import time

import pytest
import sqlalchemy as sa

from app import push
from app.db import atomic
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from app.push.models import Message, MessageStatus, SubscriptionGrant, outbox_key
from app.wechat import mini_program_client
from tests.fakes.wechat import FakeWeChat
from tests.push.conftest import NOTICE_TEMPLATE

NOTICE = {"title": "关于冬季供暖的通知", "summary": "11月15日起供暖", "published_at": "2026-11-23 09:00"}
SEND = "/cgi-bin/message/subscribe/send"


class CountingWeChat(FakeWeChat):
    """The fake WeChat server holding each subscribe send 100 ms and counting how many are in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0
        self.gauge = threading.Lock()

    def answer(self, method, path, query, body):
        if path != SEND:
            return super().answer(method, path, query, body)
        with self.gauge:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(0.1)
            return super().answer(method, path, query, body)
        finally:
            with self.gauge:
                self.in_flight -= 1


@pytest.fixture
def wechat(app, redis, monkeypatch):
    """The counting fake; batches of 12 messages, 4 calls at a time."""
    fake = CountingWeChat().start()
    monkeypatch.setitem(app.config, "WECHAT_MINI_APPID", fake.appid)
    monkeypatch.setitem(app.config, "WECHAT_MINI_SECRET", fake.secret)
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", fake.base_url)
    monkeypatch.setitem(app.config, "PUSH_WECHAT_BATCH", 12)
    monkeypatch.setitem(app.config, "PUSH_SEND_CONCURRENCY", 4)
    mini_program_client()  # built (wechatpy imported on first use) before any test times the sends
    yield fake
    fake.stop()


def _remaining(user) -> int:
    return database.session.scalar(
        sa.select(SubscriptionGrant.remaining)
        .where(SubscriptionGrant.user_id == user.id, SubscriptionGrant.template_id == NOTICE_TEMPLATE)
        .execution_options(populate_existing=True)
    )


def test_twenty_messages_go_four_at_a_time_each_once_spending_one_grant(db, person, grant, wechat, run_jobs):
    holders = [person(f"订阅{n}", openid=f"o_batch_{n}") for n in range(20)]
    for user, _resident in holders:
        grant(user)
    grant(holders[0][0], n=2)  # three grants: one is spent, two are left
    others = [person(f"未订阅{n}", openid=f"o_none_{n}") for n in range(10)]
    with atomic():
        push.send("test.notice", [r.id for _u, r in holders + others], NOTICE, source=("notice", "batch"))

    run_jobs()

    sent = sorted(message["touser"] for message in wechat.subscribe_messages)
    assert sent == sorted(f"o_batch_{n}" for n in range(20))  # every holder once, nobody without a grant
    assert wechat.most_in_flight == 4  # four calls in flight at once: the bound is reached, never passed
    assert [_remaining(user) for user, _r in holders] == [2] + [0] * 19
    statuses = database.session.scalars(sa.select(Message.status).where(Message.channel == "wechat")).all()
    assert statuses == [MessageStatus.sent] * 20
    jobs = database.session.scalars(sa.select(OutboxRow.key).where(OutboxRow.key.like("push:%:%"))).all()
    assert sorted(key.rsplit(":", 1)[0] for key in jobs if not key.startswith("push:fan_out")) == ["push:wechat"] * 2


def test_a_call_wechat_could_not_take_is_retried_alone_and_a_refusal_is_final(db, person, grant, wechat, run_jobs):
    people = [person(f"重试{n}", openid=f"o_retry_{n}") for n in range(3)]
    refused, _resident = person("拒收", openid="o_refused")
    for user, _r in [*people, (refused, None)]:
        grant(user)
    wechat.refused_openids.add("o_refused")
    wechat.subscribe_errors.append((-1, "system error"))  # the first call to arrive
    with atomic():
        push.send("test.notice", [r.id for _u, r in people] + [_resident.id], NOTICE, source=("notice", "retry"))
    run_jobs()

    pending = database.session.scalars(sa.select(Message).where(Message.status == MessageStatus.pending)).all()
    assert len(pending) == 1
    assert len(wechat.subscribe_messages) == 2
    [waiting] = [user for user, _r in people if user.id == pending[0].user_id]
    assert _remaining(waiting) == 1  # given back until the retry spends it
    row = database.session.scalar(sa.select(OutboxRow).where(OutboxRow.key == outbox_key(pending[0].id)))
    assert (row.status, row.attempts) == (OutboxStatus.pending, 1)
    assert "WeChat answered -1: system error" in row.last_error
    failed = database.session.scalar(sa.select(Message).where(Message.user_id == refused.id))
    assert (failed.status, failed.reason, _remaining(refused)) == (MessageStatus.failed, "wechat_43101", 0)

    with atomic():
        database.session.execute(sa.update(OutboxRow).where(OutboxRow.id == row.id).values(run_at=sa.func.now()))
    run_jobs()
    assert sorted(m["touser"] for m in wechat.subscribe_messages) == [f"o_retry_{n}" for n in range(3)]
    assert [_remaining(user) for user, _r in people] == [0, 0, 0]
    database.session.refresh(row)
    assert (row.status, row.attempts) == (OutboxStatus.done, 2)
