"""WeChat subscribe messages: one-time grants spent once, fields checked before the call, retries recorded."""

import queue

import pytest
import sqlalchemy as sa

from app import outbox, push
from app.db import atomic
from app.extensions import db as database
from app.outbox import OutboxRow
from app.push.models import Delivery, InboxItem, Message, MessageStatus, SubscriptionGrant, outbox_key
from tests.conftest import race
from tests.push.conftest import NOTICE_TEMPLATE, PICKUP_TEMPLATE, delivery_of, fan_out_now

pytestmark = pytest.mark.usefixtures("both_paths")


NOTICE = {"title": "关于冬季供暖的通知", "summary": "11月15日起供暖", "published_at": "2026-11-23 09:00"}


def _remaining(user) -> int:
    return database.session.scalar(
        sa.select(SubscriptionGrant.remaining).where(
            SubscriptionGrant.user_id == user.id, SubscriptionGrant.template_id == NOTICE_TEMPLATE
        )
    )


def test_the_client_reports_accepted_templates_and_each_counts_one_grant(db, person, api):
    user, _resident = person("订阅", openid="o_sub")
    templates = api(user, "get", "/api/v1/push/templates").json
    assert {"template_id": NOTICE_TEMPLATE, "events": [{"name": "test.notice", "title": "社区通知"}]} in templates
    for _ in range(2):
        answer = api(user, "post", "/api/v1/me/subscriptions", json={"template_ids": [NOTICE_TEMPLATE]})
        assert answer.status_code == 200, answer.json
    answer = api(user, "post", "/api/v1/me/subscriptions", json={"template_ids": [PICKUP_TEMPLATE, NOTICE_TEMPLATE]})
    assert sorted(answer.json, key=lambda g: g["template_id"]) == [
        {"template_id": NOTICE_TEMPLATE, "remaining": 3},
        {"template_id": PICKUP_TEMPLATE, "remaining": 1},
    ]
    assert api(user, "get", "/api/v1/me/subscriptions").json == answer.json
    unknown = api(user, "post", "/api/v1/me/subscriptions", json={"template_ids": ["TPL_NOBODY_USES"]})
    assert (unknown.status_code, unknown.json["code"]) == (422, "unknown_template")
    too_many = api(user, "post", "/api/v1/me/subscriptions", json={"template_ids": ["a", "b", "c", "d"]})
    assert too_many.status_code == 422


def test_a_message_spends_a_grant_and_without_one_only_the_inbox_row_is_written(
    db, person, grant, fake_wechat, run_jobs
):
    user, resident = person("订阅", openid="o_one")
    grant(user)
    for n in range(2):
        with atomic():
            push.send("test.notice", [resident.id], NOTICE, source=("notice", f"n{n}"))
        run_jobs()
    assert len(fake_wechat.subscribe_messages) == 1
    sent = fake_wechat.subscribe_messages[0]
    assert sent["touser"] == "o_one"
    assert sent["template_id"] == NOTICE_TEMPLATE
    assert sent["data"] == {"thing1": {"value": "关于冬季供暖的通知"}, "time2": {"value": "2026-11-23 09:00"}}
    assert _remaining(user) == 0
    assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 2
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 1


def test_grants_are_spent_once_under_twenty_concurrent_sends(app, committed_db, person, grant, fake_wechat):
    user, resident = person("并发", openid="o_race")
    grant(user, n=5)
    for n in range(20):
        with atomic():
            receipt = push.send("test.notice", [resident.id], NOTICE, source=("notice", f"race{n}"))
        fan_out_now(receipt)
    rows = queue.SimpleQueue()
    for row_id in committed_db.session.scalars(sa.select(OutboxRow.id).where(OutboxRow.key.like("push:wechat:%"))):
        rows.put(row_id)
    committed_db.session.remove()

    results = race(app, 20, lambda: outbox.execute_row(rows.get_nowait(), 1))

    assert sorted(results) == ["done"] * 20
    assert len(fake_wechat.subscribe_messages) == 5
    outcomes = committed_db.session.execute(sa.select(Message.status, Message.reason)).all()
    assert sorted(outcomes, key=str) == sorted(
        [(MessageStatus.sent, None)] * 5 + [(MessageStatus.skipped, "no_grant")] * 15, key=str
    )
    assert _remaining(user) == 0


def test_a_thing_over_its_limit_is_shortened_before_the_call(db, person, grant, fake_wechat, run_jobs):
    user, resident = person("长标题", openid="o_long")
    grant(user)
    title = "关于幸福社区一号楼二单元明日上午停水检修的紧急通知"
    with atomic():
        push.send("test.notice", [resident.id], {**NOTICE, "title": title}, source=("notice", "long"))
    run_jobs()
    [sent] = fake_wechat.subscribe_messages
    assert sent["data"]["thing1"]["value"] == title[:19] + "…"
    assert database.session.scalar(sa.select(Message.status)) is MessageStatus.sent


def test_a_field_that_cannot_be_shortened_is_refused_before_the_call_and_the_inbox_still_gets_it(
    db, person, grant, fake_wechat, run_jobs
):
    user, resident = person("长取件码", openid="o_code")
    grant(user, PICKUP_TEMPLATE)
    with atomic():
        receipt = push.send("test.pickup", [resident.id], {"locker": "3号柜", "code": "X" * 40}, source=("order", "o"))
    assert receipt.wechat_refused.startswith("character_string2")
    run_jobs()
    assert fake_wechat.calls("/cgi-bin/message/subscribe/send") == []
    assert delivery_of(receipt).wechat_refused.startswith("character_string2")
    assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 1
    assert database.session.scalar(sa.select(Message.channel).where(Message.channel == "wechat")) is None


def test_the_fake_refuses_a_field_over_its_limit_with_47003_as_wechat_does(db, person, grant, fake_wechat, run_jobs):
    """Were a value to slip past the formatting (edited by hand here), WeChat's 47003 fails it for good."""
    user, resident = person("手改", openid="o_47003")
    grant(user)
    with atomic():
        receipt = push.send("test.notice", [resident.id], NOTICE, source=("notice", "hand"))
        database.session.execute(
            sa.update(Delivery)
            .where(Delivery.public_id == receipt.delivery_id)
            .values(wechat_data={"thing1": {"value": "一" * 21}, "time2": {"value": "2026-11-23 09:00"}})
        )
    run_jobs()
    message = database.session.scalar(sa.select(Message))
    assert (message.status, message.reason) == (MessageStatus.failed, "wechat_47003")
    assert "thing1" in message.error
    assert fake_wechat.subscribe_messages == []
    assert _remaining(user) == 1  # WeChat sent nothing: the grant is given back


def test_a_user_who_refused_in_wechat_loses_the_grants_we_counted(db, person, grant, fake_wechat, run_jobs):
    user, resident = person("拒收", openid="o_refused")
    grant(user, n=3)
    fake_wechat.refused_openids.add("o_refused")
    with atomic():
        push.send("test.notice", [resident.id], NOTICE, source=("notice", "refused"))
    run_jobs()
    assert database.session.scalar(sa.select(Message.reason)) == "wechat_43101"
    assert _remaining(user) == 0


def test_a_failed_wechat_call_is_retried_and_its_record_shows_the_attempts(
    db, person, grant, fake_wechat, run_jobs, make_user, api
):
    user, resident = person("重试", openid="o_retry")
    grant(user)
    fake_wechat.subscribe_errors.append((-1, "system error"))
    with atomic():
        push.send("test.notice", [resident.id], NOTICE, source=("notice", "retry"))
    run_jobs()
    assert fake_wechat.subscribe_messages == []
    assert _remaining(user) == 1  # the failed attempt rolled back its spend
    admin = make_user("管理员", platform_roles=("admin",))
    records = api(admin, "get", "/api/v1/push/messages?source_kind=notice&source_id=retry")
    assert records.status_code == 200, records.json
    [record] = records.json["items"]
    assert (record["channel"], record["status"], record["attempts"]) == ("wechat", "retrying", 1)
    assert "WeChat answered -1: system error" in record["error"]

    message_id = database.session.scalar(sa.select(Message.id))
    with atomic():
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.key == outbox_key(message_id)).values(run_at=sa.func.now())
        )
    run_jobs()
    assert len(fake_wechat.subscribe_messages) == 1
    [record] = api(admin, "get", "/api/v1/push/messages?source_kind=notice&source_id=retry").json["items"]
    assert (record["status"], record["attempts"], record["error"]) == ("sent", 2, None)
    assert _remaining(user) == 0
    staff_answer = api(make_user("非管理员"), "get", "/api/v1/push/messages?source_kind=notice&source_id=retry")
    assert staff_answer.status_code == 403


def test_accounts_without_a_grant_or_an_openid_get_no_message_row(db, person, grant, fake_wechat):
    with_grant, r1 = person("有授权", openid="o_yes")
    grant(with_grant)
    _no_grant, r2 = person("无授权", openid="o_no")
    no_openid, r3 = person("无微信")
    grant(no_openid)
    with atomic():
        receipt = push.send("test.notice", [r1.id, r2.id, r3.id], NOTICE, source=("notice", "mixed"))
    fan_out_now(receipt)
    assert database.session.scalars(sa.select(Message.user_id)).all() == [with_grant.id]
