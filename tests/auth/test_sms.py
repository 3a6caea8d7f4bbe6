"""SMS code login: limits counted in PostgreSQL, hashed codes, tries, expiry, per-IP limits behind a proxy."""

import re
import threading

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.auth.models import SmsCode
from app.extensions import db as database
from tests.auth.conftest import bearer
from tests.conftest import extra_app

SEND = "/api/v1/auth/sms/send"
LOGIN = "/api/v1/auth/sms/login"
PHONE = "+8613800138000"


def send(client, phone="138 0013 8000", **kwargs):
    return client.post(SEND, json={"phone": phone}, **kwargs)


def login(client, code, phone="13800138000"):
    return client.post(LOGIN, json={"phone": phone, "code": code})


def age_codes(seconds: int, phone: str = PHONE) -> None:
    """Move this phone's codes ``seconds`` into the past (instead of sleeping)."""
    database.session.execute(
        sa.text("UPDATE auth_sms_codes SET sent_at = sent_at - make_interval(secs => :s) WHERE phone = :p"),
        {"s": seconds, "p": phone},
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_send_then_login_creates_the_account(client, db, sms):
    sent = send(client)
    assert sent.status_code == 202
    assert sent.json == {"expires_in": 300, "resend_after": 60}
    (message,) = sms.sent_to(PHONE)
    assert message.template == "login_code"
    assert re.fullmatch(r"\d{6}", message.params["code"])
    assert message.text.startswith(f"您的验证码为{message.params['code']}，5分钟内有效")

    response = login(client, sms.last_code(PHONE))

    assert response.status_code == 200
    body = response.json
    assert body["created"] is True
    assert body["user"]["phone"] == "138****8000"
    assert client.get("/api/v1/auth/sessions", headers=bearer(body["access_token"])).status_code == 200
    user = database.session.scalar(sa.select(User).where(User.phone == PHONE))
    assert user.public_id == body["user"]["id"]
    assert user.phone_verified_at is not None


def test_the_second_login_finds_the_same_account(client, db, sms):
    send(client)
    first = login(client, sms.last_code(PHONE)).json
    age_codes(61)
    send(client, phone="+86 138-0013-8000")
    again = login(client, sms.last_code(PHONE), phone="8613800138000").json
    assert again["created"] is False
    assert again["user"]["id"] == first["user"]["id"]


def test_the_code_is_stored_only_as_an_hmac(client, db, sms):
    send(client)
    code = sms.last_code(PHONE)
    row = database.session.scalar(sa.select(SmsCode).where(SmsCode.phone == PHONE))
    assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash)
    assert code not in row.code_hash
    assert (row.expires_at - row.sent_at).total_seconds() == 300


@pytest.mark.parametrize("phone", ["12345", "1380013800", "010-12345678", "+1 650 253 0000", "abc"])
def test_a_phone_that_is_not_a_mainland_mobile_is_422(client, db, sms, phone):
    response = send(client, phone=phone)
    assert response.status_code == 422
    assert response.json == {"code": "phone_invalid", "message": "请输入有效的中国大陆手机号", "details": {}}
    assert sms.messages == []


def test_one_send_per_60_seconds_per_phone(client, db, sms):
    assert send(client).status_code == 202
    again = send(client)
    assert again.status_code == 429
    assert again.json["code"] == "sms_too_frequent"
    assert again.json["message"] == "验证码发送过于频繁，请稍后再试"
    assert 1 <= again.json["details"]["retry_after"] <= 61
    assert again.headers["Retry-After"] == str(again.json["details"]["retry_after"])
    assert len(sms.messages) == 1
    assert send(client, phone="13900139000").status_code == 202  # another phone is not affected

    age_codes(61)
    assert send(client).status_code == 202


def test_ten_sends_per_day_per_phone(client, db, sms):
    seconds_today = database.session.scalar(
        sa.text(
            "SELECT extract(epoch FROM now() - date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')"
            " AT TIME ZONE 'Asia/Shanghai')"
        )
    )
    if seconds_today < 62:
        pytest.skip("too close to midnight in Asia/Shanghai for a same-day count")
    for _ in range(10):
        assert send(client).status_code == 202
        # Every earlier send moved to one minute ago: still today, no longer "too frequent".
        database.session.execute(
            sa.text("UPDATE auth_sms_codes SET sent_at = now() - interval '61 seconds' WHERE phone = :p"),
            {"p": PHONE},
        )
    eleventh = send(client)
    assert eleventh.status_code == 429
    assert eleventh.json["code"] == "sms_daily_limit"
    assert eleventh.json["message"] == "该手机号今日获取验证码次数已达上限，请明天再试"
    assert 0 < eleventh.json["details"]["retry_after"] <= 86400
    assert len(sms.sent_to(PHONE)) == 10

    # Yesterday's sends do not count today.
    database.session.execute(
        sa.text("UPDATE auth_sms_codes SET sent_at = sent_at - interval '1 day' WHERE phone = :p"), {"p": PHONE}
    )
    assert send(client).status_code == 202


def test_a_failed_send_is_not_counted(client, db, sms):
    sms.fail_next = 1
    failed = send(client)
    assert failed.status_code == 503
    assert failed.json["code"] == "sms_unavailable"
    assert database.session.scalar(sa.select(sa.func.count()).select_from(SmsCode)) == 0
    assert send(client).status_code == 202


def test_a_wrong_code_tells_the_tries_left_and_the_fifth_kills_it(client, db, sms):
    send(client)
    code = sms.last_code(PHONE)
    for left in (4, 3, 2, 1):
        response = login(client, wrong(code))
        assert response.status_code == 400
        assert response.json == {
            "code": "sms_code_invalid",
            "message": "验证码错误",
            "details": {"remaining_attempts": left},
        }
    fifth = login(client, wrong(code))
    assert fifth.status_code == 400
    assert fifth.json["code"] == "sms_code_expired"
    assert fifth.json["details"] == {"reason": "too_many_attempts"}

    right_but_dead = login(client, code)
    assert right_but_dead.status_code == 400
    assert right_but_dead.json == {
        "code": "sms_code_expired",
        "message": "验证码已失效，请重新获取",
        "details": {"reason": "too_many_attempts"},
    }
    assert database.session.scalar(sa.select(User).where(User.phone == PHONE)) is None


def test_a_code_expires_after_five_minutes(client, db, sms):
    send(client)
    database.session.execute(
        sa.text(
            "UPDATE auth_sms_codes SET sent_at = now() - interval '301 seconds', "
            "expires_at = now() - interval '1 second'"
        )
    )
    response = login(client, sms.last_code(PHONE))
    assert response.status_code == 400
    assert response.json["details"] == {"reason": "expired"}


def test_a_code_works_once(client, db, sms):
    send(client)
    code = sms.last_code(PHONE)
    assert login(client, code).status_code == 200
    again = login(client, code)
    assert again.status_code == 400
    assert again.json["details"] == {"reason": "used"}


def test_a_new_code_replaces_the_previous_one(client, db, sms):
    send(client)
    old = sms.last_code(PHONE)
    age_codes(61)
    send(client)
    new = sms.last_code(PHONE)
    if new == old:
        pytest.skip("the two random codes happened to be equal")
    assert login(client, old).json["code"] == "sms_code_invalid"
    assert login(client, new).status_code == 200


def test_login_without_a_code_sent_is_refused(client, db, sms):
    response = login(client, "123456")
    assert response.status_code == 400
    assert response.json["details"] == {"reason": "not_sent"}


def test_a_code_that_is_not_six_digits_is_422(client, db, sms):
    response = login(client, "12ab")
    assert response.status_code == 422
    assert response.json["details"]["fields"]["json"]["code"] == ["验证码为6位数字"]


def test_sms_bind_links_a_phone_to_the_signed_in_account(client, db, sms, make_user, sign_in):
    me = make_user("微信用户", wechat_openid="openid-a")
    tokens = sign_in(me)
    send(client)
    response = client.post(
        "/api/v1/auth/sms/bind",
        json={"phone": "13800138000", "code": sms.last_code(PHONE)},
        headers=bearer(tokens.access_token),
    )
    assert response.status_code == 200
    assert response.json["user"] == {"id": me.public_id, "display_name": "微信用户", "phone": "138****8000"}
    # From now on the phone app's SMS login reaches the same account.
    age_codes(61)
    send(client)
    assert login(client, sms.last_code(PHONE)).json["user"]["id"] == me.public_id


@pytest.fixture
def limited_app(database_url, redis_url, redis):
    """Rate limits on, one trusted proxy in front (X-Forwarded-For gives the client address)."""
    with extra_app(
        database_url, redis_url, RATELIMIT_ENABLED=True, TRUSTED_PROXY_HOPS=1, SMS_BACKEND="memory"
    ) as application:
        yield application


def test_sms_send_is_limited_per_client_address_behind_the_proxy(limited_app, db):
    client = limited_app.test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.1"}

    def send_from(address, number):
        return client.post(
            SEND,
            json={"phone": f"1390000{number:04d}"},
            headers={"X-Forwarded-For": address},
            environ_base=proxy,
        )

    statuses = [send_from("203.0.113.7", n).status_code for n in range(11)]
    assert statuses == [202] * 10 + [429]
    limited = send_from("203.0.113.7", 99)
    assert limited.json["code"] == "rate_limited"
    # Another client behind the same proxy is not affected.
    assert send_from("198.51.100.2", 98).status_code == 202


def test_concurrent_sends_to_one_phone_send_one_code(app, committed_db, sms):
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    statuses: list[int] = []
    lock = threading.Lock()

    def race():
        client = app.test_client()
        barrier.wait()
        response = send(client)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=race) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [202] + [429] * (threads_count - 1)
    assert len(sms.sent_to(PHONE)) == 1
    assert committed_db.session.scalar(sa.select(sa.func.count()).select_from(SmsCode)) == 1
