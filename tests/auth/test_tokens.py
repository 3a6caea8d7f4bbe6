"""Access and refresh tokens: claims, rotation, reuse detection, logout, my sessions, the revocation delay."""

import threading
import time
from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.auth.models import AuthSession, RotatedRefreshToken
from app.auth.revocation import cache, revoked_key
from app.auth.sessions import hash_refresh_token
from app.db import utcnow
from app.extensions import db as database
from tests.auth.conftest import bearer
from tests.conftest import TEST_SECRETS

REFRESH = "/api/v1/auth/refresh"
SESSIONS = "/api/v1/auth/sessions"


def refresh(client, token):
    return client.post(REFRESH, json={"refresh_token": token})


def session_row(public_id: str) -> AuthSession:
    return database.session.scalar(
        sa.select(AuthSession).where(AuthSession.public_id == public_id).execution_options(populate_existing=True)
    )


def test_the_access_token_names_user_and_session_and_lives_ten_minutes(db, make_user, sign_in):
    user = make_user()
    tokens = sign_in(user)
    claims = jwt.decode(tokens.access_token, TEST_SECRETS["SECRET_KEY"], algorithms=["HS256"])
    assert claims["sub"] == user.public_id
    assert claims["sid"] == tokens.session.public_id
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 600
    assert jwt.get_unverified_header(tokens.access_token)["alg"] == "HS256"


def test_the_refresh_token_is_stored_only_as_a_hash(db, make_user, sign_in):
    tokens = sign_in(make_user())
    row = session_row(tokens.session.public_id)
    assert row.refresh_hash == hash_refresh_token(tokens.refresh_token)
    assert tokens.refresh_token not in row.refresh_hash
    assert timedelta(days=29, hours=23) < row.expires_at - row.created_at <= timedelta(days=30, minutes=1)


def test_refresh_rotates_the_refresh_token(client, db, make_user, sign_in):
    tokens = sign_in(make_user())
    first = refresh(client, tokens.refresh_token)
    assert first.status_code == 200
    body = first.json
    assert body["refresh_token"] != tokens.refresh_token
    assert body["session_id"] == tokens.session.public_id
    assert body["created"] is False
    assert client.get(SESSIONS, headers=bearer(body["access_token"])).status_code == 200

    second = refresh(client, body["refresh_token"])
    assert second.status_code == 200
    row = session_row(tokens.session.public_id)
    assert row.generation == 3
    assert row.refresh_hash == hash_refresh_token(second.json["refresh_token"])


def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(client, db, make_user, sign_in):
    tokens = sign_in(make_user())
    rotated = refresh(client, tokens.refresh_token).json

    replay = refresh(client, tokens.refresh_token)

    assert replay.status_code == 401
    assert replay.json == {
        "code": "refresh_token_reused",
        "message": "检测到登录凭证被重复使用，已退出该设备的登录，请重新登录",
        "details": {},
    }
    row = session_row(tokens.session.public_id)
    assert row.revoked_at is not None
    assert row.revoke_reason == "refresh_reused"
    # Everything of that session is dead: the newest refresh token and the access tokens.
    assert refresh(client, rotated["refresh_token"]).json["code"] == "refresh_token_invalid"
    denied = client.get(SESSIONS, headers=bearer(rotated["access_token"]))
    assert denied.status_code == 401
    assert denied.json["details"] == {"reason": "session_revoked"}
    assert client.get(SESSIONS, headers=bearer(tokens.access_token)).status_code == 401


def test_an_unknown_refresh_token_is_401(client, db):
    response = refresh(client, "not-a-token")
    assert response.status_code == 401
    assert response.json["code"] == "refresh_token_invalid"
    assert response.json["message"] == "登录已失效，请重新登录"


def test_an_expired_session_cannot_be_refreshed(client, db, make_user, sign_in):
    tokens = sign_in(make_user())
    database.session.execute(
        sa.update(AuthSession).where(AuthSession.id == tokens.session.id).values(expires_at=utcnow() - timedelta(1))
    )
    assert refresh(client, tokens.refresh_token).json["code"] == "refresh_token_invalid"


def test_a_disabled_account_cannot_refresh(client, db, make_user, sign_in):
    user = make_user()
    tokens = sign_in(user)
    database.session.execute(sa.update(User).where(User.id == user.id).values(is_active=False))
    response = refresh(client, tokens.refresh_token)
    assert response.status_code == 403
    assert response.json["code"] == "account_disabled"
    assert session_row(tokens.session.public_id).revoked_at is not None


def test_logout_stops_the_access_token_at_once_in_this_process(client, db, make_user, sign_in, redis):
    tokens = sign_in(make_user())
    headers = bearer(tokens.access_token)
    assert client.get(SESSIONS, headers=headers).status_code == 200

    assert client.post("/api/v1/auth/logout", json={}, headers=headers).status_code == 204

    denied = client.get(SESSIONS, headers=headers)
    assert denied.status_code == 401
    assert denied.json == {
        "code": "unauthenticated",
        "message": "登录已失效，请重新登录",
        "details": {"reason": "session_revoked"},
    }
    assert redis.exists(revoked_key(tokens.session.public_id))
    assert 600 < redis.ttl(revoked_key(tokens.session.public_id)) <= 660
    assert refresh(client, tokens.refresh_token).json["code"] == "refresh_token_invalid"


def test_logout_reaches_other_processes_within_the_cache_lifetime(client, db, make_user, sign_in, redis, monkeypatch):
    """Another process revokes the session (row and Redis key, not our cache): refused here within the delay."""
    monkeypatch.setitem(client.application.config, "AUTH_REVOCATION_CACHE_SECONDS", 0.3)
    tokens = sign_in(make_user())
    headers = bearer(tokens.access_token)
    assert client.get(SESSIONS, headers=headers).status_code == 200  # "not revoked" now cached for 0.3 s

    database.session.execute(
        sa.update(AuthSession).where(AuthSession.id == tokens.session.id).values(revoked_at=utcnow())
    )
    redis.set(revoked_key(tokens.session.public_id), "1", ex=660)
    revoked_at = time.monotonic()

    while client.get(SESSIONS, headers=headers).status_code == 200:
        assert time.monotonic() - revoked_at < 0.3 + 0.2, "still accepted after the stated delay"
        time.sleep(0.02)
    assert time.monotonic() - revoked_at <= 0.5


def test_logout_everywhere_revokes_all_my_sessions_only(client, db, make_user, sign_in):
    me, other = make_user(), make_user()
    phone, laptop, theirs = sign_in(me), sign_in(me), sign_in(other)
    response = client.post("/api/v1/auth/logout", json={"everywhere": True}, headers=bearer(phone.access_token))
    assert response.status_code == 204
    assert client.get(SESSIONS, headers=bearer(laptop.access_token)).status_code == 401
    assert client.get(SESSIONS, headers=bearer(theirs.access_token)).status_code == 200


def test_logout_needs_no_body(client, db, make_user, sign_in):
    tokens = sign_in(make_user())
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens.access_token)).status_code == 204


def test_my_sessions_list_and_revoke_one(client, db, make_user, sign_in):
    me = make_user()
    phone, laptop = sign_in(me), sign_in(me)
    listed = client.get(SESSIONS, headers=bearer(phone.access_token), environ_base={"HTTP_USER_AGENT": "x"})
    assert listed.status_code == 200
    items = {item["id"]: item for item in listed.json["items"]}
    assert set(items) == {phone.session.public_id, laptop.session.public_id}
    assert items[phone.session.public_id]["current"] is True
    assert items[laptop.session.public_id]["current"] is False
    assert items[laptop.session.public_id]["method"] == "sms"
    assert items[laptop.session.public_id]["created_at"].endswith("+08:00")
    assert listed.json["next_cursor"] is None

    response = client.delete(f"{SESSIONS}/{laptop.session.public_id}", headers=bearer(phone.access_token))
    assert response.status_code == 204
    assert client.get(SESSIONS, headers=bearer(laptop.access_token)).status_code == 401
    left = client.get(SESSIONS, headers=bearer(phone.access_token)).json["items"]
    assert [item["id"] for item in left] == [phone.session.public_id]


def test_my_sessions_are_paged_by_cursor(client, db, make_user, sign_in):
    me = make_user()
    all_tokens = [sign_in(me) for _ in range(3)]
    page = client.get(f"{SESSIONS}?limit=2", headers=bearer(all_tokens[0].access_token)).json
    assert len(page["items"]) == 2
    rest = client.get(
        f"{SESSIONS}?limit=2&cursor={page['next_cursor']}", headers=bearer(all_tokens[0].access_token)
    ).json
    ids = [item["id"] for item in page["items"] + rest["items"]]
    assert sorted(ids) == sorted(t.session.public_id for t in all_tokens)


def test_revoking_someone_elses_session_is_404(client, db, make_user, sign_in):
    mine, theirs = sign_in(make_user()), sign_in(make_user())
    response = client.delete(f"{SESSIONS}/{theirs.session.public_id}", headers=bearer(mine.access_token))
    assert response.status_code == 404
    assert response.json["code"] == "session_not_found"
    assert client.get(SESSIONS, headers=bearer(theirs.access_token)).status_code == 200
    assert client.delete(f"{SESSIONS}/no-such-session", headers=bearer(mine.access_token)).status_code == 404


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": -60}, "token_expired"),
        ({"typ": "refresh"}, "token_invalid"),
        ({"sid": None}, "token_invalid"),
    ],
)
def test_bad_access_tokens_are_401(client, db, make_user, sign_in, claims, reason):
    user = make_user()
    tokens = sign_in(user)
    now = int(time.time())
    payload = {"sub": user.public_id, "sid": tokens.session.public_id, "typ": "access", "iat": now, "exp": now + 60}
    for key, value in claims.items():
        if value is None:
            payload.pop(key)
        elif key == "exp":
            payload[key] = now + value
        else:
            payload[key] = value
    token = jwt.encode(payload, TEST_SECRETS["SECRET_KEY"], algorithm="HS256")
    response = client.get(SESSIONS, headers=bearer(token))
    assert response.status_code == 401
    assert response.json["details"] == {"reason": reason}


def test_a_token_signed_with_another_key_is_401(client, db, make_user, sign_in):
    user = make_user()
    tokens = sign_in(user)
    now = int(time.time())
    forged = jwt.encode(
        {"sub": user.public_id, "sid": tokens.session.public_id, "typ": "access", "iat": now, "exp": now + 60},
        "another-key-of-at-least-32-bytes-long!!",
        algorithm="HS256",
    )
    assert client.get(SESSIONS, headers=bearer(forged)).json["details"] == {"reason": "token_invalid"}


def test_two_concurrent_refreshes_with_one_token_exactly_one_wins(app, committed_db, make_user, sign_in):
    from app.db import atomic

    with atomic():
        user = make_user()
    tokens = sign_in(user)
    committed_db.session.remove()
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def race():
        client = app.test_client()
        barrier.wait()
        response = client.post(REFRESH, json={"refresh_token": tokens.refresh_token})
        with lock:
            results.append((response.status_code, response.json.get("code")))

    threads = [threading.Thread(target=race) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * (threads_count - 1)
    assert {code for status, code in results if status == 401} == {"refresh_token_reused"}
    with app.app_context():
        session = committed_db.session.scalar(sa.select(AuthSession).where(AuthSession.id == tokens.session.id))
        # The winner rotated once (generation 2); the losers count as a replay, which revoked the session.
        assert session.generation == 2
        assert session.revoke_reason == "refresh_reused"
        rotated = committed_db.session.scalar(sa.select(sa.func.count()).select_from(RotatedRefreshToken))
        assert rotated == 1
    cache().clear()


def test_pruning_deletes_long_ended_sessions_and_old_codes_only(db, make_user, sign_in):
    from app.auth.models import SmsCode
    from app.auth.sessions import prune_login_records

    user = make_user()
    old, recent, live = sign_in(user), sign_in(user), sign_in(user)
    database.session.execute(
        sa.update(AuthSession).where(AuthSession.id == old.session.id).values(revoked_at=utcnow() - timedelta(31))
    )
    database.session.execute(
        sa.update(AuthSession).where(AuthSession.id == recent.session.id).values(revoked_at=utcnow() - timedelta(2))
    )
    for days in (3, 0):
        database.session.add(
            SmsCode(phone="+8613800138000", code_hash="0" * 64, sent_at=utcnow() - timedelta(days), expires_at=utcnow())
        )
    database.session.flush()

    assert prune_login_records() == {"sessions": 1, "sms_codes": 1, "password_failures": 0}
    left = database.session.scalars(sa.select(AuthSession.id).where(AuthSession.user_id == user.id)).all()
    assert sorted(left) == sorted([recent.session.id, live.session.id])
