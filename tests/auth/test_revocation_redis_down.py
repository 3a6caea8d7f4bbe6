"""Revocation holds with Redis stopped (PostgreSQL answers) and after Redis comes back empty (keys rebuilt)."""

import time

import pytest
import redis as redis_lib
import sqlalchemy as sa

from app import outbox
from app.auth.revocation import READY_KEY, cache, propagate_revocations, revoked_key
from app.extensions import db as database
from app.extensions import redis_client
from tests.auth.conftest import bearer
from tests.conftest import extra_app

pytestmark = pytest.mark.serial

SESSIONS = "/api/v1/auth/sessions"


@pytest.fixture
def redis_app(database_url, private_redis, db):
    with extra_app(database_url, private_redis.url) as application:
        yield application


def timed_get(client, token):
    started = time.perf_counter()
    response = client.get(SESSIONS, headers=bearer(token))
    return response, time.perf_counter() - started


def another_process():
    """What a process that never saw the revocation knows: nothing cached."""
    cache().clear()


def test_revocation_holds_with_redis_stopped_and_after_it_restarts_empty(redis_app, private_redis, make_user, sign_in):
    client = redis_app.test_client()
    private = redis_lib.Redis.from_url(private_redis.url)
    user = make_user()
    logged_out, kept, later = sign_in(user), sign_in(user), sign_in(user)

    assert client.get(SESSIONS, headers=bearer(logged_out.access_token)).status_code == 200
    assert private.exists(READY_KEY)  # the first check found Redis empty and marked it complete
    assert client.post("/api/v1/auth/logout", headers=bearer(logged_out.access_token)).status_code == 204
    assert private.exists(revoked_key(logged_out.session.public_id))

    # Redis stops: every answer comes from PostgreSQL, quickly.
    private_redis.stop()
    another_process()
    response, seconds = timed_get(client, logged_out.access_token)
    assert response.status_code == 401
    assert response.json["details"] == {"reason": "session_revoked"}
    assert seconds < 0.5, f"took {seconds:.3f}s with Redis down"
    response, seconds = timed_get(client, kept.access_token)
    assert response.status_code == 200
    assert seconds < 0.5

    # A logout while Redis is down works, and queues the Redis key for later.
    assert client.post("/api/v1/auth/logout", headers=bearer(later.access_token)).status_code == 204
    another_process()
    assert timed_get(client, later.access_token)[0].status_code == 401
    queued = database.session.scalars(
        sa.select(outbox.OutboxRow.args).where(outbox.OutboxRow.job == propagate_revocations.job_name)
    ).all()
    assert queued == [[[later.session.public_id]]]

    # Redis comes back empty (a restart keeps nothing): the first check rebuilds the keys from PostgreSQL.
    private_redis.start()
    redis_client.init_app(redis_app)  # close the breaker now rather than in 5 s
    another_process()
    assert client.get(SESSIONS, headers=bearer(logged_out.access_token)).status_code == 401
    assert private.exists(READY_KEY)
    assert private.exists(revoked_key(logged_out.session.public_id))
    assert private.exists(revoked_key(later.session.public_id))
    assert client.get(SESSIONS, headers=bearer(kept.access_token)).status_code == 200

    # The queued job writes its key too (idempotent with the rebuild).
    private.delete(revoked_key(later.session.public_id))
    propagate_revocations([later.session.public_id])
    assert private.exists(revoked_key(later.session.public_id))
    private.close()


def test_a_frozen_redis_does_not_stall_the_check(redis_app, private_redis, make_user, sign_in):
    client = redis_app.test_client()
    tokens = sign_in(make_user())
    assert client.get(SESSIONS, headers=bearer(tokens.access_token)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens.access_token)).status_code == 204
    private_redis.pause()  # accepts connections, never answers
    another_process()
    response, seconds = timed_get(client, tokens.access_token)
    assert response.status_code == 401
    assert seconds < 0.5, f"took {seconds:.3f}s with Redis frozen"
