"""SMS: per-event preferences, quiet hours 22:00–07:00 Asia/Shanghai except urgent, a limit per phone, retries."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app import push
from app.db import atomic
from app.extensions import db as database
from app.outbox import OutboxRow
from app.push.channels import sms_due_at
from app.push.fanout import fan_out_batches
from app.push.models import Message, MessageStatus, outbox_key
from tests.push.conftest import delivery_of, fan_out_now

SHANGHAI = ZoneInfo("Asia/Shanghai")
PICKUP = {"locker": "3号柜", "code": "204518"}


def _at(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("now", "urgent", "due"),
    [
        (_at(23, 30), False, _at(7, 0, day=24)),
        (_at(22, 0), False, _at(7, 0, day=24)),
        (_at(3, 15), False, _at(7, 0)),
        (_at(7, 0), False, _at(7, 0)),
        (_at(21, 59), False, _at(21, 59)),
        (_at(23, 30), True, _at(23, 30)),
    ],
)
def test_quiet_hours(now, urgent, due):
    assert sms_due_at(now.astimezone(UTC), urgent=urgent) == due


def _sms_job(receipt) -> OutboxRow:
    message = database.session.scalar(
        sa.select(Message).where(Message.channel == "sms", Message.delivery_id == delivery_of(receipt).id)
    )
    return database.session.scalar(sa.select(OutboxRow).where(OutboxRow.key == outbox_key(message.id)))


@pytest.mark.parametrize("inline", [20, 0])
def test_a_non_urgent_sms_at_23_30_is_due_at_07_00_the_next_day(app, db, person, monkeypatch, inline):
    monkeypatch.setitem(app.config, "PUSH_INLINE_AUDIENCE", inline)  # fanned out as sent, or by its job
    monkeypatch.setattr("app.push.fanout.utcnow", lambda: _at(23, 30).astimezone(UTC))
    _user, resident = person("晚归", phone="+8613800000001")
    with atomic():
        receipt = push.send("test.pickup", [resident.id], PICKUP, source=("order", "late"))
        fan_out_batches(delivery_of(receipt))
    run_at = _sms_job(receipt).run_at
    assert run_at == _at(7, 0, day=24)
    assert run_at.astimezone(SHANGHAI).isoformat() == "2026-11-24T07:00:00+08:00"


@pytest.mark.parametrize("inline", [20, 0])
def test_an_urgent_sms_at_23_30_goes_at_once(app, db, person, monkeypatch, inline):
    monkeypatch.setitem(app.config, "PUSH_INLINE_AUDIENCE", inline)
    monkeypatch.setattr("app.push.fanout.utcnow", lambda: _at(23, 30).astimezone(UTC))
    _user, resident = person("值班", phone="+8613800000002")
    with atomic():
        receipt = push.send("test.outage", [resident.id], {"title": "今晚停水"}, source=("notice", "outage"))
        fan_out_batches(delivery_of(receipt))
    assert _sms_job(receipt).run_at == _at(23, 30)


def test_an_sms_goes_through_the_sender_and_is_recorded(db, person, sms, run_jobs, monkeypatch):
    monkeypatch.setattr("app.push.fanout.utcnow", lambda: _at(10, 0).astimezone(UTC))
    _user, resident = person("白天", phone="+8613800000003")
    with atomic():
        push.send("test.pickup", [resident.id], PICKUP, source=("order", "day"))
    run_jobs()
    assert [message.text for message in sms.sent_to("+8613800000003")] == ["您的包裹已存入3号柜，取件码204518。"]
    message = database.session.scalar(sa.select(Message).where(Message.channel == "sms"))
    assert (message.status, message.address) == (MessageStatus.sent, "+8613800000003")


def test_an_account_that_turned_an_events_sms_off_gets_none(db, person, sms, api, monkeypatch):
    user, resident = person("安静", phone="+8613800000004")
    listed = api(user, "get", "/api/v1/me/push-preferences")
    assert {"event": "test.pickup", "title": "取件通知", "sms": True} in listed.json
    assert "test.notice" not in {item["event"] for item in listed.json}  # sends no SMS: nothing to choose
    turned = api(user, "put", "/api/v1/me/push-preferences", json={"sms": {"test.pickup": False}})
    assert turned.status_code == 200, turned.json
    assert {"event": "test.pickup", "title": "取件通知", "sms": False} in turned.json
    unknown = api(user, "put", "/api/v1/me/push-preferences", json={"sms": {"test.notice": False}})
    assert (unknown.status_code, unknown.json["code"]) == (422, "unknown_push_event")

    with atomic():
        receipt = push.send("test.pickup", [resident.id], PICKUP, source=("order", "quiet"))
    fan_out_now(receipt)
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_sms_to_one_phone_are_limited_per_hour(db, person, sms, run_jobs, app, monkeypatch):
    monkeypatch.setattr("app.push.fanout.utcnow", lambda: _at(10, 0).astimezone(UTC))
    monkeypatch.setitem(app.config, "PUSH_SMS_PER_PHONE_HOUR", 2)
    _user, resident = person("频繁", phone="+8613800000005")
    for n in range(3):
        with atomic():
            push.send("test.pickup", [resident.id], {**PICKUP, "code": f"00000{n}"}, source=("order", f"o{n}"))
    run_jobs()
    assert len(sms.sent_to("+8613800000005")) == 2
    statuses = database.session.execute(sa.select(Message.status, Message.reason).order_by(Message.id)).all()
    assert sorted(statuses, key=str) == sorted(
        [(MessageStatus.sent, None), (MessageStatus.sent, None), (MessageStatus.skipped, "rate_limited")], key=str
    )


def test_a_failed_sms_is_retried_by_the_outbox(db, person, sms, run_jobs, monkeypatch):
    monkeypatch.setattr("app.push.fanout.utcnow", lambda: _at(10, 0).astimezone(UTC))
    _user, resident = person("重试", phone="+8613800000006")
    sms.fail_next = 1
    with atomic():
        receipt = push.send("test.pickup", [resident.id], PICKUP, source=("order", "retry"))
    run_jobs()
    job = _sms_job(receipt)
    assert (job.status.value, job.attempts) == ("pending", 1)
    assert "SMS not sent" in job.last_error
    with atomic():
        job.run_at = sa.func.now()
    run_jobs()
    assert len(sms.sent_to("+8613800000006")) == 1
    database.session.refresh(job)
    assert (job.status.value, job.attempts) == ("done", 2)
