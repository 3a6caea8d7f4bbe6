"""Fault matrix, rate limits: SMS codes (per phone and per address), logins (SMS code, password, WeChat), locker pickup
codes (per cabinet), neighbours' posts and comments, uploads, complaints, vendor applications and the default limit.

For each: requests within the limit succeed, the next one is 429 with a machine code, a Chinese message and
``Retry-After``; another phone, address or account is not affected; and once the window has passed (moved in Redis
or in PostgreSQL, never slept through) requests succeed again. Limits kept by flask-limiter live in the real Redis
(the keys are read back); with Redis stopped they are counted in process memory and nothing answers 5xx.
"""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis as redis_lib
import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from app.sms import get_sender
from tests.community.fixtures import api, tree  # noqa: F401  (fixtures)
from tests.conftest import extra_app
from tests.marketplace.fixtures import M, market, pay, place  # noqa: F401  (fixtures)
from tests.marketplace.test_lockers import add_locker, cabinet, device_headers, dispatch, prepared  # noqa: F401

SEND = "/api/v1/auth/sms/send"
SMS_LOGIN = "/api/v1/auth/sms/login"
PASSWORD_LOGIN = "/api/v1/auth/password/login"
WECHAT_LOGIN = "/api/v1/auth/wechat/login"
POSTS = "/api/v1/neighbours/posts"
FILES = "/api/v1/files"
COMPLAINTS = "/api/v1/govservice/complaints"
VENDORS = "/api/v1/marketplace/vendors"
LIMITED = "请求过于频繁，请稍后再试"
PROXY = {"REMOTE_ADDR": "10.0.0.1"}  # the one trusted reverse proxy; X-Forwarded-For names the client
CLIENT_A, CLIENT_B = "203.0.113.7", "198.51.100.2"


@pytest.fixture(autouse=True)
def shared_extensions(app) -> Iterator[None]:
    """The limiter and the Redis client are process-wide: bind them back to the shared app after each test."""
    from app.extensions import limiter, redis_client

    yield
    redis_client.init_app(app)
    limiter.init_app(app)


@pytest.fixture
def limited(database_url, redis_url, redis) -> Callable:
    """``with limited(**settings) as app:`` an app with rate limits on, counting in this worker's Redis database,
    behind one trusted proxy, with the in-memory SMS backend."""

    @contextmanager
    def build(redis_at: str | None = None, **settings) -> Iterator:
        config = {"RATELIMIT_ENABLED": True, "TRUSTED_PROXY_HOPS": 1, "SMS_BACKEND": "memory", **settings}
        with extra_app(database_url, redis_at or redis_url, **config) as application:
            get_sender().clear()
            yield application

    return build


def call(client, method: str, path: str, *, ip: str = CLIENT_A, headers=None, **kwargs):
    """A request from client address ``ip`` through the trusted proxy."""
    headers = {"X-Forwarded-For": ip, **(headers or {})}
    return getattr(client, method)(path, headers=headers, environ_base=PROXY, **kwargs)


def assert_limited(response, *, code: str = "rate_limited", message: str = LIMITED, at_most: int) -> int:
    """429 with the code, the Chinese message and a Retry-After (whole seconds, 1..at_most) equal to the body's."""
    assert response.status_code == 429, response.json
    assert response.json["code"] == code
    assert response.json["message"] == message
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= at_most
    assert response.json["details"]["retry_after"] == retry_after
    return retry_after


def limit_keys(redis, who: str) -> dict[str, int]:
    """flask-limiter's counters in Redis for a key (``ip:…`` or ``user:…``): {key: hits}."""
    keys = [key.decode() for key in redis.keys(f"LIMITS:*/{who}/*")]
    return {key: int(redis.get(key) or 0) for key in keys}


def pass_window(redis, who: str, per: str) -> None:
    """The ``per`` (``minute``, ``hour`` …) windows of ``who`` end now: their counters expire as they would."""
    keys = [key for key in limit_keys(redis, who) if key.endswith(f"/{per}")]
    assert keys, f"no {per} counter in Redis for {who}"
    for key in keys:
        redis.pexpire(key, 1)
    deadline = time.monotonic() + 2
    while any(redis.exists(key) for key in keys):
        assert time.monotonic() < deadline, "expired counters still in Redis"
        time.sleep(0.005)


def token_for(user) -> dict[str, str]:
    """A bearer header for a new session of ``user``."""
    from app.auth import issue_access_token

    with atomic():
        return {"Authorization": f"Bearer {issue_access_token(user)}"}


@pytest.fixture
def resident_user(make_resident, join, tree) -> Callable:  # noqa: F811  (pytest injects the imported fixture)
    """``resident_user(room="101")`` → the account of a verified resident living in that room of 幸福家园."""
    counter = {"n": 0}

    def create(room: str = "101"):
        counter["n"] += 1
        user, resident = make_resident(f"居民{counter['n']}", sequence=f"8{counter['n']:02d}", verified=True)
        join(resident, tree.rooms_a[room])
        return user

    return create


# --- SMS codes ------------------------------------------------------------------------------------------------------


def test_sms_send_is_limited_per_client_address_in_redis(limited, redis, db):
    """10 a minute and 60 an hour per client address, whatever the phone: the other limit on SMS pumping."""
    with limited() as app:
        client = app.test_client()
        for n in range(10):
            assert call(client, "post", SEND, json={"phone": f"1390000{n:04d}"}).status_code == 202
        refused = call(client, "post", SEND, json={"phone": "13900009999"})
        assert_limited(refused, at_most=61)
        # Counted in the real Redis under the client address, by the minute and by the hour.
        counters = limit_keys(redis, f"ip:{CLIENT_A}")
        assert counters[f"LIMITS:LIMITER/ip:{CLIENT_A}/auth.SmsSend/10/1/minute"] == 11
        assert counters[f"LIMITS:LIMITER/ip:{CLIENT_A}/auth.SmsSend/60/1/hour"] >= 10
        # Another client behind the same proxy is not affected.
        assert call(client, "post", SEND, ip=CLIENT_B, json={"phone": "13900009998"}).status_code == 202
        # The minute passes: the address sends again (the hour still counts).
        pass_window(redis, f"ip:{CLIENT_A}", "minute")
        assert call(client, "post", SEND, json={"phone": "13900009997"}).status_code == 202
        assert limit_keys(redis, f"ip:{CLIENT_A}")[f"LIMITS:LIMITER/ip:{CLIENT_A}/auth.SmsSend/60/1/hour"] >= 11


def age_sms_codes(phone: str, seconds: int) -> None:
    """Move the phone's codes ``seconds`` into the past (PostgreSQL keeps the per-phone count)."""
    database.session.execute(
        sa.text("UPDATE auth_sms_codes SET sent_at = sent_at - make_interval(secs => :s) WHERE phone = :p"),
        {"s": seconds, "p": phone},
    )


def test_sms_send_is_limited_per_phone_whatever_the_address(limited, db):
    """One a minute and ten a Shanghai day per phone, counted in PostgreSQL: changing address does not help."""
    seconds_today = database.session.scalar(
        sa.text(
            "SELECT extract(epoch FROM now() - date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')"
            " AT TIME ZONE 'Asia/Shanghai')"
        )
    )
    if seconds_today < 62:
        pytest.skip("too close to midnight in Asia/Shanghai for a same-day count")
    with limited() as app:
        client = app.test_client()
        phone = {"phone": "13800138000"}
        assert call(client, "post", SEND, json=phone).status_code == 202
        again = call(client, "post", SEND, ip=CLIENT_B, json=phone)
        assert_limited(again, code="sms_too_frequent", message="验证码发送过于频繁，请稍后再试", at_most=61)
        # Another phone from the same address is not affected.
        assert call(client, "post", SEND, json={"phone": "13800138001"}).status_code == 202
        # The minute passes (moved in PostgreSQL): the phone gets a code again, up to ten a day.
        for n in range(9):
            age_sms_codes("+8613800138000", 61)
            assert call(client, "post", SEND, ip=f"192.0.2.{n + 1}", json=phone).status_code == 202
        age_sms_codes("+8613800138000", 61)
        eleventh = call(client, "post", SEND, ip="192.0.2.99", json=phone)
        assert_limited(
            eleventh,
            code="sms_daily_limit",
            message="该手机号今日获取验证码次数已达上限，请明天再试",
            at_most=86400,
        )
        assert len(get_sender().sent_to("+8613800138000")) == 10
        # The day passes: the phone gets codes again.
        age_sms_codes("+8613800138000", 86400)
        assert call(client, "post", SEND, json=phone).status_code == 202


# --- logins ---------------------------------------------------------------------------------------------------------


def test_sms_login_wrong_codes_kill_the_code_and_the_address_is_limited(limited, redis, db):
    """Five tries per code (then even the right code is refused: 5 of a million per code, at most ten codes a
    phone a day), and 20 tries a minute per address across phones."""
    with limited() as app:
        client = app.test_client()
        sms = get_sender()
        assert call(client, "post", SEND, json={"phone": "13800138000"}).status_code == 202
        code = sms.last_code("+8613800138000")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [call(client, "post", SMS_LOGIN, json={"phone": "13800138000", "code": wrong}).json for _ in range(5)]
        assert [a["details"].get("remaining_attempts") for a in answers[:4]] == [4, 3, 2, 1]
        assert {a["code"] for a in answers[:4]} == {"sms_code_invalid"}
        assert answers[4]["code"] == "sms_code_expired"
        assert answers[4]["details"] == {"reason": "too_many_attempts"}
        dead = call(client, "post", SMS_LOGIN, json={"phone": "13800138000", "code": code})
        assert (dead.status_code, dead.json["code"]) == (400, "sms_code_expired")
        # Another phone signs in normally (from another address: this one has spent 6 of its 20).
        assert call(client, "post", SEND, ip=CLIENT_B, json={"phone": "13800138001"}).status_code == 202
        other = {"phone": "13800138001", "code": sms.last_code("+8613800138001")}
        assert call(client, "post", SMS_LOGIN, ip=CLIENT_B, json=other).status_code == 200
        # A new code (a minute later) works for the first phone.
        age_sms_codes("+8613800138000", 61)
        assert call(client, "post", SEND, json={"phone": "13800138000"}).status_code == 202
        fresh = {"phone": "13800138000", "code": sms.last_code("+8613800138000")}
        assert call(client, "post", SMS_LOGIN, json=fresh).status_code == 200

        # Per address: 20 tries a minute, whichever phones they name.
        for n in range(13):  # 7 so far from this address
            tried = call(client, "post", SMS_LOGIN, json={"phone": f"1370000{n:04d}", "code": "000000"})
            assert tried.status_code == 400
        assert_limited(call(client, "post", SMS_LOGIN, json={"phone": "13700009999", "code": "000000"}), at_most=61)
        other_address = call(client, "post", SMS_LOGIN, ip=CLIENT_B, json={"phone": "13700009999", "code": "000000"})
        assert other_address.status_code == 400
        pass_window(redis, f"ip:{CLIENT_A}", "minute")
        assert call(client, "post", SMS_LOGIN, json={"phone": "13700009999", "code": "000000"}).status_code == 400


def test_password_login_locks_the_username_and_limits_the_address(limited, redis, db):
    from app.auth import passwords
    from app.auth.models import PasswordFailure

    passwords.set_password("staff01", "correct horse 9", display_name="社区工作人员", reason="test")
    passwords.set_password("staff02", "battery staple 7", display_name="另一位工作人员", reason="test")
    with limited() as app:
        client = app.test_client()

        def attempt(username, password, ip=CLIENT_A):
            return call(client, "post", PASSWORD_LOGIN, ip=ip, json={"username": username, "password": password})

        remaining = [attempt("staff01", "wrong password 1").json["details"]["remaining_attempts"] for _ in range(4)]
        assert remaining == [4, 3, 2, 1]
        fifth = attempt("staff01", "wrong password 1", ip=CLIENT_B)
        assert_limited(fifth, code="login_locked", message="登录失败次数过多，请15分钟后再试", at_most=900)
        # Locked: even the right password waits, from any address.
        locked = attempt("staff01", "correct horse 9", ip="192.0.2.50")
        assert_limited(locked, code="login_locked", message="登录失败次数过多，请15分钟后再试", at_most=900)
        # Another username from the same address is not affected.
        assert attempt("staff02", "battery staple 7").status_code == 200
        # The 15 minutes pass (moved in PostgreSQL): the right password works.
        with atomic():
            database.session.execute(
                sa.update(PasswordFailure)
                .where(PasswordFailure.username == "staff01")
                .values(locked_until=utcnow() - timedelta(seconds=1), last_failed_at=utcnow() - timedelta(minutes=16))
            )
        assert attempt("staff01", "correct horse 9").status_code == 200

        # Per address: 20 a minute over any usernames (6 spent above from this address).
        for n in range(14):
            assert attempt(f"nobody{n}", "wrong password 1").status_code == 401
        assert_limited(attempt("nobody99", "wrong password 1"), at_most=61)
        assert attempt("staff02", "battery staple 7", ip=CLIENT_B).status_code == 200
        pass_window(redis, f"ip:{CLIENT_A}", "minute")
        assert attempt("staff02", "battery staple 7").status_code == 200


def test_wechat_login_is_limited_per_client_address(limited, redis, db):
    """A wx.login code is WeChat's, single use and unguessable; we limit how fast one address spends them."""
    from tests.fakes.wechat import FakeWeChat

    fake = FakeWeChat().start()
    try:
        with limited(
            WECHAT_MINI_APPID=fake.appid, WECHAT_MINI_SECRET=fake.secret, WECHAT_API_BASE=fake.base_url
        ) as app:
            client = app.test_client()
            for n in range(30):
                refused = call(client, "post", WECHAT_LOGIN, json={"code": f"bad-code-{n}"})
                assert (refused.status_code, refused.json["code"]) == (400, "wechat_code_invalid")
            fake.add_login_code("good-code-1", "openid-1")
            assert_limited(call(client, "post", WECHAT_LOGIN, json={"code": "good-code-1"}), at_most=61)
            assert call(client, "post", WECHAT_LOGIN, ip=CLIENT_B, json={"code": "good-code-1"}).status_code == 200
            fake.add_login_code("good-code-2", "openid-2")
            pass_window(redis, f"ip:{CLIENT_A}", "minute")
            assert call(client, "post", WECHAT_LOGIN, json={"code": "good-code-2"}).status_code == 200
    finally:
        fake.stop()


# --- neighbours, uploads, complaints, vendor applications: per account ----------------------------------------------


def test_posts_and_comments_are_limited_per_account_not_per_address(limited, redis, db, resident_user):
    author, neighbour = resident_user("101"), resident_user("102")
    with limited(NEIGHBOURS_POST_RATE_LIMIT="2 per minute", NEIGHBOURS_COMMENT_RATE_LIMIT="3 per minute") as app:
        client = app.test_client()
        mine, theirs = token_for(author), token_for(neighbour)

        def post(headers, ip=CLIENT_A, text="今天小区停水吗？"):
            return call(client, "post", POSTS, ip=ip, headers=headers, json={"topic": "help", "text": text})

        assert [post(mine).status_code for _ in range(2)] == [201, 201]
        assert_limited(post(mine), at_most=61)
        # Keyed by account: another address does not help the author, and a neighbour on the author's
        # address (one household's Wi-Fi, a NAT) is not limited by the author's posts.
        assert_limited(post(mine, ip=CLIENT_B), at_most=61)
        assert post(theirs).status_code == 201
        assert f"LIMITS:LIMITER/user:{author.id}/neighbours.Posts/2/1/minute" in limit_keys(redis, f"user:{author.id}")
        assert limit_keys(redis, f"ip:{CLIENT_A}") == {}

        post_id = call(client, "get", POSTS, headers=mine).json["items"][0]["id"]
        url = f"{POSTS}/{post_id}/comments"
        statuses = [call(client, "post", url, headers=mine, json={"text": f"评论{n}"}).status_code for n in range(3)]
        assert statuses == [201, 201, 201]
        assert_limited(call(client, "post", url, headers=mine, json={"text": "再说一句"}), at_most=61)
        assert call(client, "post", url, headers=theirs, json={"text": "我也想知道"}).status_code == 201

        # The minute passes: the author posts and comments again.
        pass_window(redis, f"user:{author.id}", "minute")
        assert post(mine).status_code == 201
        assert call(client, "post", url, headers=mine, json={"text": "停到下午三点"}).status_code == 201


def test_the_default_limit_counts_accounts_apart_and_anonymous_callers_by_address(limited, redis, db, tree, make_user):  # noqa: F811
    first, second = make_user("甲"), make_user("乙")
    categories = f"/api/v1/govservice/complaint-categories?community_id={tree.a.public_id}"
    with limited(RATELIMIT_DEFAULT="3 per minute") as app:
        client = app.test_client()
        one, two = token_for(first), token_for(second)
        assert [call(client, "get", "/api/v1/me", headers=one).status_code for _ in range(3)] == [200] * 3
        assert_limited(call(client, "get", "/api/v1/me", headers=one), at_most=61)
        assert call(client, "get", "/api/v1/me", headers=two).status_code == 200  # same address, another account
        # Anonymous callers by address.
        assert [call(client, "get", categories).status_code for _ in range(3)] == [200] * 3
        assert_limited(call(client, "get", categories), at_most=61)
        assert call(client, "get", categories, ip=CLIENT_B).status_code == 200
        # A bad token counts by address (each endpoint has its own default counter), refused 401 after the check.
        bad = {"Authorization": "Bearer nonsense"}
        assert [call(client, "get", "/api/v1/me", headers=bad).status_code for _ in range(3)] == [401] * 3
        assert_limited(call(client, "get", "/api/v1/me", headers=bad), at_most=61)
        assert any("/accounts." in key for key in limit_keys(redis, f"ip:{CLIENT_A}"))
        pass_window(redis, f"ip:{CLIENT_A}", "minute")
        pass_window(redis, f"user:{first.id}", "minute")
        assert call(client, "get", categories).status_code == 200
        assert call(client, "get", "/api/v1/me", headers=one).status_code == 200


def _png() -> bytes:
    from tests.core.test_files import PNG

    return PNG


def test_uploads_are_limited_per_account(limited, redis, db, make_user, tmp_path):
    import io

    uploader, other = make_user("上传者"), make_user("另一位")
    with limited(FILES_UPLOAD_RATE_LIMIT="2 per minute; 100 per day", FILES_ROOT=str(tmp_path)) as app:
        client = app.test_client()

        def upload(headers):
            body = {"file": (io.BytesIO(_png()), "photo.png"), "visibility": "private"}
            return call(client, "post", FILES, headers=headers, data=body, content_type="multipart/form-data")

        mine = token_for(uploader)
        assert [upload(mine).status_code for _ in range(2)] == [201, 201]
        assert_limited(upload(mine), at_most=61)
        assert upload(token_for(other)).status_code == 201
        pass_window(redis, f"user:{uploader.id}", "minute")
        assert upload(mine).status_code == 201
        # The refused upload did not spend the day's budget.
        assert limit_keys(redis, f"user:{uploader.id}")[f"LIMITS:LIMITER/user:{uploader.id}/files.Files/100/1/day"] == 3


def test_complaints_are_limited_per_account(limited, redis, db, tree, make_resident):  # noqa: F811
    from govservice.complaint_models import ComplaintCategory

    with atomic():
        database.session.add(
            ComplaintCategory(
                region_id=tree.street.id, code="noise", name="噪音扰民", group="市容环境", time_limit_days=3
            )
        )
    author, _ = make_resident("李四", community=tree.a)
    other, _ = make_resident("王五", community=tree.a, sequence="992")
    body = {"community_id": tree.a.public_id, "category": "noise", "description": "楼下广场舞音响太响"}
    with limited(GOVSERVICE_COMPLAINT_RATE_LIMIT="1 per minute; 30 per day") as app:
        client = app.test_client()
        mine = token_for(author)
        assert call(client, "post", COMPLAINTS, headers=mine, json=body).status_code == 201
        assert_limited(call(client, "post", COMPLAINTS, headers=mine, json=body), at_most=61)
        assert call(client, "post", COMPLAINTS, headers=token_for(other), json=body).status_code == 201
        # A request that fails validation is not counted; a replay of the same Idempotency-Key is not either.
        pass_window(redis, f"user:{author.id}", "minute")
        assert call(client, "post", COMPLAINTS, headers=mine, json={"category": "noise"}).status_code == 422
        keyed = {**mine, "Idempotency-Key": "complaint-1"}
        first = call(client, "post", COMPLAINTS, headers=keyed, json=body)
        assert first.status_code == 201
        replay = call(client, "post", COMPLAINTS, headers=keyed, json=body)
        assert (replay.status_code, replay.headers.get("Idempotent-Replayed")) == (201, "true")
        assert_limited(call(client, "post", COMPLAINTS, headers=mine, json=body), at_most=61)


def test_vendor_applications_are_limited_per_account(limited, redis, db, tree, make_user):  # noqa: F811
    applicant, other = make_user("王老板"), make_user("李老板")
    body = {
        "name": "绿园生鲜",
        "kind": "grocery",
        "licence_no": "91110101MA00000001",
        "food_licence_no": "JY11101010000001",
        "contact_name": "王老板",
        "contact_phone": "13800138000",
        "opening_hours": "07:00-21:00",
        "community_ids": [tree.a.public_id],
    }
    with limited(MARKETPLACE_VENDOR_APPLY_RATE_LIMIT="1 per day") as app:
        client = app.test_client()
        mine = token_for(applicant)
        assert call(client, "post", VENDORS, headers=mine, json=body).status_code == 201
        assert_limited(call(client, "post", VENDORS, headers=mine, json={**body, "name": "绿园二店"}), at_most=86401)
        assert call(client, "post", VENDORS, headers=token_for(other), json={**body, "name": "李记"}).status_code == 201
        pass_window(redis, f"user:{applicant.id}", "day")
        assert call(client, "post", VENDORS, headers=mine, json={**body, "name": "绿园二店"}).status_code == 201


# --- locker pickup codes: per cabinet, in PostgreSQL ----------------------------------------------------------------


def test_pickup_code_guessing_throttles_the_cabinet_not_its_neighbours(
    limited,
    redis,
    db,
    market,  # noqa: F811  (pytest injects the imported fixtures)
    prepared,  # noqa: F811
    cabinet,  # noqa: F811
    api,  # noqa: F811
    tree,  # noqa: F811
):
    """Ten wrong codes in 15 minutes and the cabinet takes no code, not even the right one, until the window ends:
    at most 960 guesses a day at a cabinet against a million codes. Counted in PostgreSQL, so no Redis flush (or
    outage) resets it. Another cabinet keeps working."""
    from marketplace.locker_models import Locker
    from marketplace.models import Order, OrderStatus

    locker, secret = cabinet
    order_id = prepared()
    sent = dispatch(api, market.owner, order_id).json
    other, other_secret = add_locker(tree.estate_a, [{"size": "S", "zone": "ambient", "count": 1}], name="2号柜")
    with limited() as limited_app:
        client = limited_app.test_client()

        def device(cabinet_row, cabinet_secret, action, payload, ip=CLIENT_A):
            path = f"/api/v1/marketplace/devices/lockers/{cabinet_row.public_id}/{action}"
            body = jsonlib.dumps(payload).encode()
            headers = {"X-Forwarded-For": ip, **device_headers(cabinet_secret, "POST", path, body)}
            return client.post(path, data=body, headers=headers, environ_base=PROXY)

        deposit = {"order_id": order_id, "courier_code": sent["courier_code"]}
        assert device(locker, secret, "deposit", deposit).status_code == 200
        code = api(market.user, "get", f"/api/v1/marketplace/orders/{order_id}/locker").json["pickup_code"]
        assert len(code) == 6
        assert code.isdigit()
        guesses = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 11)]
        answers = [
            device(locker, secret, "open", {"code": guess}, ip=f"192.0.2.{n}") for n, guess in enumerate(guesses)
        ]
        assert {(a.status_code, a.json["code"]) for a in answers} == {(422, "locker_code_invalid")}
        assert [a.json["details"]["remaining_attempts"] for a in answers] == list(range(9, -1, -1))

        refused = device(locker, secret, "open", {"code": code})  # the right code, from anywhere
        assert_limited(refused, message="错误次数过多，该智能柜暂停验码，请稍后再试", at_most=901)
        assert refused.json["details"]["reason"] == "locker_wrong_codes"
        redis.flushdb()  # nothing of it lives in Redis
        assert device(locker, secret, "open", {"code": code}, ip=CLIENT_B).status_code == 429
        status = database.session.scalar(
            sa.select(Order.status).where(Order.public_id == order_id).execution_options(populate_existing=True)
        )
        assert status is OrderStatus.ready
        # Another cabinet is not throttled.
        wrong_there = device(other, other_secret, "open", {"code": guesses[0]})
        assert (wrong_there.status_code, wrong_there.json["details"]["remaining_attempts"]) == (422, 9)

        # The 15 minutes pass (moved in PostgreSQL): the right code opens the cells.
        with atomic():
            database.session.execute(
                sa.update(Locker)
                .where(Locker.id == locker.id)
                .values(wrong_codes_since=utcnow() - timedelta(seconds=901))
            )
        opened = device(locker, secret, "open", {"code": code})
        assert opened.status_code == 200, opened.json


# --- Redis down -----------------------------------------------------------------------------------------------------


def test_with_redis_stopped_limits_count_in_memory_and_return_to_redis(limited, private_redis, db, resident_user):
    """Fails closed at the same limit, counted afresh in each process's memory (N processes: up to N times the
    limit), never 5xx; limits counted in PostgreSQL (SMS per phone) are unchanged; when Redis answers again (the
    limiter probes it with a growing back-off, 1 s, 2 s, 4 s …) counting moves back there."""
    author = resident_user("101")
    server = redis_lib.Redis.from_url(private_redis.url)
    with limited(redis_at=private_redis.url, NEIGHBOURS_POST_RATE_LIMIT="2 per minute") as app:
        client = app.test_client()
        mine = token_for(author)

        def post():
            started = time.perf_counter()
            response = call(client, "post", POSTS, headers=mine, json={"topic": "help", "text": "电梯又坏了"})
            assert time.perf_counter() - started < 1.0, "a request waited on the stopped Redis"
            return response

        assert post().status_code == 201
        assert limit_keys(server, f"user:{author.id}")  # counted in Redis while it runs

        private_redis.stop()
        statuses = [post().status_code for _ in range(3)]
        assert statuses == [201, 201, 429]  # memory counts afresh: two more, then refused
        limited_now = post()
        assert_limited(limited_now, at_most=61)
        # SMS per phone is counted in PostgreSQL: unchanged by the outage.
        assert call(client, "post", SEND, json={"phone": "13800138000"}).status_code == 202
        again = call(client, "post", SEND, ip=CLIENT_B, json={"phone": "13800138000"})
        assert_limited(again, code="sms_too_frequent", message="验证码发送过于频繁，请稍后再试", at_most=61)

        private_redis.start()
        deadline = time.monotonic() + 20
        while not limit_keys(server, f"user:{author.id}"):
            assert time.monotonic() < deadline, "the limiter never went back to Redis"
            assert call(client, "get", "/api/v1/neighbours/topics", headers=mine).status_code == 200
            time.sleep(0.25)
        # Back in Redis, which restarted empty: the author's minute starts afresh there.
        assert post().status_code == 201
        counters = limit_keys(server, f"user:{author.id}")
        assert counters[f"LIMITS:LIMITER/user:{author.id}/neighbours.Posts/2/1/minute"] == 1
    server.close()


def test_a_limit_setting_that_does_not_parse_stops_the_service():
    from app.config import Config, ConfigError

    assert Config.from_env({"FILES_UPLOAD_RATE_LIMIT": "3 per minute; 9 per day"}).FILES_UPLOAD_RATE_LIMIT == (
        "3 per minute; 9 per day"
    )
    with pytest.raises(ConfigError, match="NEIGHBOURS_POST_RATE_LIMIT"):
        Config.from_env({"NEIGHBOURS_POST_RATE_LIMIT": "10 per fortnight"})


def test_catalogue_pages_count_the_default_limit_in_their_one_redis_round_trip(limited, redis, db, market, monkeypatch):  # noqa: F811
    """A repeat browse is answered before flask-limiter's hook: it counts the same per-account counter in the same
    fixed window, in the Redis round trip that reads the catalogue version (one, not two)."""
    from tests.marketplace.test_catalogue_cache import redis_round_trips

    products, cabbage = f"{M}/products?limit=20", f"{M}/products/{market.cabbage.public_id}"
    with limited(RATELIMIT_DEFAULT="4 per minute") as app:
        client = app.test_client()
        mine, other = token_for(market.user), token_for(market.owner)
        assert call(client, "get", products, headers=mine).status_code == 200  # through the view, which keeps it
        with redis_round_trips(monkeypatch) as trips:
            assert call(client, "get", products, headers=mine).status_code == 200
        assert len(trips) == 1
        assert [call(client, "get", products, headers=mine).status_code for _ in range(2)] == [200, 200]
        assert_limited(call(client, "get", products, headers=mine), at_most=61)
        key = f"LIMITS:LIMITER/user:{market.user.id}/marketplace.Products/4/1/minute"
        assert limit_keys(redis, f"user:{market.user.id}") == {key: 5}
        assert 55 <= redis.ttl(key) <= 60
        # Each endpoint has its own counter, each account its own.
        assert call(client, "get", cabbage, headers=mine).status_code == 200
        assert call(client, "get", products, headers=other).status_code == 200
        pass_window(redis, f"user:{market.user.id}", "minute")
        assert call(client, "get", products, headers=mine).status_code == 200
        assert limit_keys(redis, f"user:{market.user.id}")[key] == 1
