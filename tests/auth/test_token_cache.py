"""The token check costs no database read in the steady state: a verified token and the account it names are kept in
the process. A deactivated account is still refused within the revocation delay README states, because deactivating
an account revokes its sessions, and tampering or expiry is still caught on every request."""

import time
from datetime import timedelta

import jwt
import sqlalchemy as sa

from app.accounts.models import User
from app.auth.core import account_cache, account_key
from app.auth.models import AuthSession
from app.auth.revocation import revoked_key
from app.auth.sessions import revoke_user_sessions
from app.db import utcnow
from app.extensions import db as database
from tests.auth.conftest import bearer
from tests.conftest import TEST_SECRETS

SESSIONS = "/api/v1/auth/sessions"


def account_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM accounts_users" in s]


def test_a_signed_in_request_reads_the_account_once_per_process(client, db, make_user, sign_in, count_queries, redis):
    user = make_user()
    tokens = sign_in(user)
    headers = bearer(tokens.access_token)
    account_cache().clear()  # as in a process that did not sign this account in,
    redis.delete(account_key(user.public_id))  # more than a minute after the sign-in shared it
    with count_queries() as first:
        assert client.get(SESSIONS, headers=headers).status_code == 200
    with count_queries() as again:
        assert client.get(SESSIONS, headers=headers).status_code == 200
    assert len(account_reads(first)) == 1
    assert account_reads(again) == []


def test_a_view_reading_the_account_sees_its_current_row(client, db, make_user, sign_in, redis):
    """Only id and public id come from the cache; any other column a view shows is read fresh."""
    user = make_user("旧名字")
    tokens = sign_in(user)
    headers = bearer(tokens.access_token)
    assert client.get(SESSIONS, headers=headers).status_code == 200
    database.session.execute(sa.update(User).where(User.id == user.id).values(display_name="新名字"))
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json["account"]["display_name"] == "新名字"


def test_a_deactivated_account_is_refused_within_the_revocation_delay(
    client, db, make_user, sign_in, redis, monkeypatch
):
    """Another process deactivates the account and revokes its sessions (row and Redis key, not our caches)."""
    monkeypatch.setitem(client.application.config, "AUTH_REVOCATION_CACHE_SECONDS", 0.3)
    user = make_user()
    tokens = sign_in(user)
    headers = bearer(tokens.access_token)
    assert client.get(SESSIONS, headers=headers).status_code == 200  # account and "not revoked" now cached

    database.session.execute(sa.update(User).where(User.id == user.id).values(is_active=False))
    database.session.execute(
        sa.update(AuthSession).where(AuthSession.id == tokens.session.id).values(revoked_at=utcnow())
    )
    redis.set(revoked_key(tokens.session.public_id), "1", ex=660)
    changed_at = time.monotonic()

    while (answer := client.get(SESSIONS, headers=headers)).status_code == 200:
        assert time.monotonic() - changed_at < 0.3 + 0.2, "still accepted after the stated delay"
        time.sleep(0.02)
    assert answer.status_code == 401
    assert answer.json["details"]["reason"] == "session_revoked"


def test_a_remembered_token_still_expires_and_a_tampered_copy_is_refused(client, db, make_user, sign_in, redis):
    user = make_user()
    tokens = sign_in(user)
    assert client.get(SESSIONS, headers=bearer(tokens.access_token)).status_code == 200  # verified, remembered

    claims = jwt.decode(tokens.access_token, TEST_SECRETS["SECRET_KEY"], algorithms=["HS256"])
    header, payload, signature = tokens.access_token.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    refused = client.get(SESSIONS, headers=bearer(tampered))
    assert (refused.status_code, refused.json["details"]["reason"]) == (401, "token_invalid")

    from flask import current_app

    remembered = current_app.extensions["linli_verified_tokens"][tokens.access_token]
    remembered["exp"] = int((utcnow() - timedelta(seconds=1)).timestamp())  # as if ten minutes had passed
    expired = client.get(SESSIONS, headers=bearer(tokens.access_token))
    assert (expired.status_code, expired.json["details"]["reason"]) == (401, "token_expired")
    assert claims["sub"] == user.public_id


def test_another_process_reads_the_account_from_redis_not_the_database(
    client, db, make_user, sign_in, count_queries, redis
):
    """A caller's first request to a process (a web worker that has not seen them) reads the account id from the
    entry another process shared, in the revocation check's round trip."""
    user = make_user()
    tokens = sign_in(user)
    headers = bearer(tokens.access_token)
    account_cache().clear()
    redis.delete(account_key(user.public_id))
    with count_queries() as first:
        assert client.get(SESSIONS, headers=headers).status_code == 200
    assert len(account_reads(first)) == 1  # read once, and shared
    account_cache().clear()  # as in the other web worker
    with count_queries() as elsewhere:
        assert client.get(SESSIONS, headers=headers).status_code == 200
    assert account_reads(elsewhere) == []


def test_a_shared_account_entry_is_trusted_only_for_what_is_left_of_its_lifetime(
    client, db, make_user, sign_in, count_queries, redis
):
    user = make_user()
    tokens = sign_in(user)
    headers = bearer(tokens.access_token)
    account_cache().clear()
    redis.set(account_key(user.public_id), f"{int(time.time()) - 1}:{user.id}", ex=60)  # read 61 s ago elsewhere
    with count_queries() as statements:
        assert client.get(SESSIONS, headers=headers).status_code == 200
    assert len(account_reads(statements)) == 1


def test_revoking_every_session_of_an_account_drops_its_shared_entry(client, db, make_user, sign_in, redis):
    user = make_user()
    tokens = sign_in(user)
    account_cache().clear()
    assert client.get(SESSIONS, headers=bearer(tokens.access_token)).status_code == 200
    assert redis.exists(account_key(user.public_id))
    revoke_user_sessions(user.id, reason="test")
    database.session.commit()
    assert not redis.exists(account_key(user.public_id))  # no other process learns the account from Redis again


def test_signing_in_shares_the_account_with_every_process(client, db, make_user, sign_in, count_queries, redis):
    user = make_user()
    tokens = sign_in(user)
    account_cache().clear()  # the app's next request lands on another web process
    with count_queries() as statements:
        assert client.get(SESSIONS, headers=bearer(tokens.access_token)).status_code == 200
    assert account_reads(statements) == []
