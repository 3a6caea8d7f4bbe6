"""Idempotency-Key: replays, reuse, per-user scope, concurrent duplicates, restarts, expiry and errors not stored."""

from __future__ import annotations

import io
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app, request
from flask.views import MethodView
from marshmallow import fields

from app.accounts.models import User
from app.api import Blueprint, Schema
from app.auth import require
from app.db import atomic
from app.errors import Conflict
from app.extensions import db as database
from app.idempotency import IdempotencyKey, IdempotencyStatus, delete_expired_keys, idempotent, request_fingerprint
from tests.conftest import extra_app, make_test_app

PREFIX = "/api/v1/test-probe/idempotency"
probe = Blueprint("idempotency_probe", __name__, url_prefix=PREFIX)

#: The probe view signals ``entered`` and waits for ``release`` when asked to hold (X-Probe-Hold).
entered, release = threading.Event(), threading.Event()
#: The lock_timeout the probe's service ran with, when asked (X-Probe-Lock-Timeout).
lock_timeouts: list[str] = []


class ThingCreateSchema(Schema):
    name = fields.String(required=True)
    note = fields.String()


class ThingSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String(attribute="display_name")
    created_at = fields.DateTime()


def create_thing(name: str, behaviour: dict[str, str]) -> User:
    """The probe's service: one unit of work creating a real row (a user), with faults on demand."""
    with atomic():
        thing = User(display_name=name)
        database.session.add(thing)
        database.session.flush()
        if "X-Probe-Lock-Timeout" in behaviour:
            lock_timeouts.append(database.session.scalar(sa.text("SHOW lock_timeout")))
        if "X-Probe-Sleep" in behaviour:
            time.sleep(float(behaviour["X-Probe-Sleep"]))
        if "X-Probe-Hold" in behaviour:
            entered.set()
            release.wait(timeout=10)
        if behaviour.get("X-Probe-Fail") == "raise":
            raise RuntimeError("probe failure after the insert")
        if behaviour.get("X-Probe-Fail") == "conflict":
            raise Conflict("探针冲突")
        return thing


@probe.route("/boxes/<box>/things")
class Things(MethodView):
    @idempotent
    @probe.arguments(ThingCreateSchema)
    @probe.response(201, ThingSchema)
    @require()
    def post(self, data, box):
        """Create a thing, for the idempotency tests"""
        thing = create_thing(data["name"], {k: v for k, v in request.headers.items() if k.startswith("X-Probe-")})
        status = 503 if request.headers.get("X-Probe-Fail") == "return-503" else 201
        return thing, status, {"Location": f"{PREFIX}/boxes/{box}/things/{thing.public_id}"}


@pytest.fixture(scope="module")
def probe_app(app, database_url, redis_url):
    """A second app with the probe; 500s come back as bodies; a small pool so the race has 2× as many threads."""
    application = make_test_app(
        database_url,
        redis_url,
        extra_blueprints=(probe,),
        PROPAGATE_UNEXPECTED=False,
        DB_POOL_SIZE=4,
        DB_MAX_OVERFLOW=4,
    )
    yield application
    with application.app_context():
        database.engine.dispose()


@pytest.fixture
def client(probe_app):
    return probe_app.test_client()


@pytest.fixture
def user(make_user):
    return make_user("幂等测试用户")


@pytest.fixture
def signed_in(auth_header):
    """Bearer headers, committed: issuing a token may write a session row that the probe app must see."""

    def headers(user) -> dict[str, str]:
        with atomic():
            return auth_header(user)

    return headers


def post(client, headers, *, key=None, name="甲", box="a", query="", extra=None):
    headers = {**headers, **(extra or {})}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"{PREFIX}/boxes/{box}/things{query}", json={"name": name}, headers=headers)


def things_named(name: str) -> int:
    return database.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.display_name == name))


def key_rows() -> list[IdempotencyKey]:
    return database.session.scalars(
        sa.select(IdempotencyKey).order_by(IdempotencyKey.id).execution_options(populate_existing=True)
    ).all()


def test_a_repeat_with_the_same_key_replays_the_first_response(db, client, user, signed_in):
    headers = signed_in(user)
    first = post(client, headers, key="order-1", name="一次")
    again = post(client, headers, key="order-1", name="一次")
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert things_named("一次") == 1
    [row] = key_rows()
    assert (row.status, row.response_status, row.method) == (IdempotencyStatus.completed, 201, "POST")
    assert row.expires_at - row.created_at == timedelta(hours=24)


def test_a_key_costs_two_statements_its_claim_with_the_bounded_wait_and_the_stored_answer(
    db, client, user, signed_in, count_queries
):
    headers = signed_in(user)
    with count_queries() as statements:
        assert post(client, headers, key="counted", name="计数").status_code == 201
    keys = [s for s in statements if "core_idempotency_keys" in s]
    assert len(keys) == 2
    assert keys[0].count("set_config(") == 2  # the wait bounded, the key claimed and the timeout restored in one
    assert [s for s in statements if "set_config(" in s] == keys[:1]


def test_json_key_order_and_spacing_do_not_change_the_fingerprint(db, client, user, signed_in):
    headers = {**signed_in(user), "Idempotency-Key": "k", "Content-Type": "application/json"}
    first = client.post(f"{PREFIX}/boxes/a/things", data='{"name": "乙", "note": "x"}', headers=headers)
    again = client.post(f"{PREFIX}/boxes/a/things", data='{"note":"x","name":"乙"}', headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert things_named("乙") == 1


@pytest.mark.parametrize(
    "changed",
    [{"name": "丁"}, {"query": "?draft=1"}, {"box": "b"}],
    ids=["other-body", "other-query", "other-path"],
)
def test_the_same_key_for_another_request_is_422_reused(db, client, user, signed_in, changed):
    headers = signed_in(user)
    assert post(client, headers, key="k1", name="丙").status_code == 201
    reused = post(client, headers, key="k1", **{"name": "丙", **changed})
    assert reused.status_code == 422
    assert reused.json["code"] == "idempotency_key_reused"
    assert reused.json["details"] == {"first_request": f"POST {PREFIX}/boxes/a/things"}
    assert things_named("丙") == 1
    assert things_named("丁") == 0


def test_keys_are_per_user(db, client, make_user, signed_in):
    alice, bob = make_user("甲用户"), make_user("乙用户")
    from_alice = post(client, signed_in(alice), key="same-key", name="共用键")
    from_bob = post(client, signed_in(bob), key="same-key", name="共用键")
    assert from_alice.status_code == from_bob.status_code == 201
    assert "Idempotent-Replayed" not in from_bob.headers
    assert from_alice.json["id"] != from_bob.json["id"]
    assert things_named("共用键") == 2


def test_without_a_key_every_request_creates(db, client, user, signed_in):
    headers = signed_in(user)
    assert post(client, headers, name="无键").status_code == 201
    assert post(client, headers, name="无键").status_code == 201
    assert things_named("无键") == 2
    assert key_rows() == []


@pytest.mark.parametrize("key", ["", "x" * 256, "café", "tab\tkey"], ids=["empty", "too-long", "non-ascii", "tab"])
def test_a_malformed_key_is_422_validation_failed(db, client, user, signed_in, key):
    response = post(client, signed_in(user), key=key, name="坏键")
    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert "Idempotency-Key" in response.json["details"]["fields"]["headers"]
    assert things_named("坏键") == 0


def test_a_key_of_255_printable_characters_is_accepted(db, client, user, signed_in):
    key = ("a b~" * 64)[:255]
    assert post(client, signed_in(user), key=key, name="长键").status_code == 201
    assert post(client, signed_in(user), key=key, name="长键").headers["Idempotent-Replayed"] == "true"


def test_an_anonymous_caller_with_a_key_gets_401(db, client):
    response = post(client, {}, key="anon", name="匿名")
    assert response.status_code == 401
    assert response.json["details"] == {"reason": "login_required"}
    assert things_named("匿名") == 0
    assert key_rows() == []


def test_concurrent_duplicates_create_one_record(probe_app, committed_db, user, signed_in):
    # Eight threads (2× the probe app's pool of 4) send one key at once; the view holds its transaction 0.3 s.
    # The guard is the INSERT … ON CONFLICT in _claim: the seven duplicates wait on the unique index until the
    # first commits, then replay. Were it replaced by read-then-write (SELECT the key; if absent run the view and
    # INSERT), all eight would read "absent" during those 0.3 s and each would create a thing: 8 records, or,
    # with the INSERT still under the unique index, seven 500s. Either breaks the assertions below.
    headers = signed_in(user)
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    responses: list = []
    lock = threading.Lock()

    def send() -> None:
        client = probe_app.test_client()
        barrier.wait()
        response = post(client, headers, key="race", name="并发", extra={"X-Probe-Sleep": "0.3"})
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=send) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(responses) == threads_count
    assert {response.status_code for response in responses} == {201}
    assert len({response.get_data() for response in responses}) == 1
    assert sum(response.headers.get("Idempotent-Replayed") == "true" for response in responses) == threads_count - 1
    assert things_named("并发") == 1


def test_a_duplicate_that_waits_too_long_gets_409_in_progress(probe_app, committed_db, user, signed_in, monkeypatch):
    monkeypatch.setitem(probe_app.config, "IDEMPOTENCY_WAIT_SECONDS", 0.3)
    entered.clear()
    release.clear()
    headers = signed_in(user)
    first: list = []
    holder = threading.Thread(
        target=lambda: first.append(
            post(probe_app.test_client(), headers, key="slow", name="慢", extra={"X-Probe-Hold": "1"})
        )
    )
    holder.start()
    try:
        assert entered.wait(timeout=10)
        started = time.perf_counter()
        waiting = post(probe_app.test_client(), headers, key="slow", name="慢")
        waited = time.perf_counter() - started
    finally:
        release.set()
        holder.join(timeout=30)
    assert waiting.status_code == 409
    assert waiting.json["code"] == "idempotency_in_progress"
    assert waiting.headers["Retry-After"] == "1"
    assert 0.3 <= waited < 5
    assert first[0].status_code == 201
    retry = post(probe_app.test_client(), headers, key="slow", name="慢")
    assert (retry.status_code, retry.get_data()) == (201, first[0].get_data())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert things_named("慢") == 1


def test_the_view_runs_with_the_usual_lock_timeout(probe_app, committed_db, user, signed_in, monkeypatch):
    """The key's claim waits at most IDEMPOTENCY_WAIT_SECONDS; the view's own statements wait as usual."""
    monkeypatch.setitem(probe_app.config, "IDEMPOTENCY_WAIT_SECONDS", 0.3)
    lock_timeouts.clear()
    headers = {**signed_in(user), "X-Probe-Lock-Timeout": "1"}
    without_key = post(probe_app.test_client(), headers, name="无键")
    with_key = post(probe_app.test_client(), headers, key="lock-timeout", name="有键")
    assert (without_key.status_code, with_key.status_code) == (201, 201)
    assert len(lock_timeouts) == 2
    assert lock_timeouts[1] == lock_timeouts[0] != "300ms"


def test_a_replay_survives_a_restart(probe_app, committed_db, database_url, redis_url, user, signed_in):
    headers = signed_in(user)
    first = post(probe_app.test_client(), headers, key="restart", name="重启")
    assert first.status_code == 201
    with extra_app(database_url, redis_url, extra_blueprints=(probe,), PROPAGATE_UNEXPECTED=False) as restarted:
        again = post(restarted.test_client(), headers, key="restart", name="重启")
    assert (again.status_code, again.get_data()) == (201, first.get_data())
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert things_named("重启") == 1


def test_an_expired_key_is_treated_as_new(db, client, user, signed_in):
    headers = signed_in(user)
    first = post(client, headers, key="old", name="过期")
    database.session.execute(
        sa.update(IdempotencyKey).values(expires_at=sa.func.now() - timedelta(seconds=1), created_at=sa.func.now())
    )
    second = post(client, headers, key="old", name="过期")
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert second.json["id"] != first.json["id"]
    assert things_named("过期") == 2
    third = post(client, headers, key="old", name="过期")
    assert (third.get_data(), third.headers["Idempotent-Replayed"]) == (second.get_data(), "true")
    [row] = key_rows()
    assert row.expires_at > row.created_at


@pytest.mark.parametrize(("fault", "status"), [("raise", 500), ("return-503", 503)])
def test_a_server_error_is_not_stored_and_the_retry_creates_once(db, client, user, signed_in, fault, status):
    headers = signed_in(user)
    failed = post(client, headers, key="flaky", name="五百", extra={"X-Probe-Fail": fault})
    assert failed.status_code == status
    if fault == "raise":
        assert failed.json["code"] == "internal_error"
    assert things_named("五百") == 0  # the row inserted before the error was rolled back with the key
    assert key_rows() == []
    retried = post(client, headers, key="flaky", name="五百")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert post(client, headers, key="flaky", name="五百").headers["Idempotent-Replayed"] == "true"
    assert things_named("五百") == 1


def test_a_business_error_is_not_stored_so_the_same_key_may_be_retried(db, client, user, signed_in):
    headers = signed_in(user)
    refused = post(client, headers, key="busy", name="冲突", extra={"X-Probe-Fail": "conflict"})
    assert (refused.status_code, refused.json["code"]) == (409, "conflict")
    assert key_rows() == []
    assert post(client, headers, key="busy", name="冲突").status_code == 201
    assert things_named("冲突") == 1


def test_a_key_left_in_progress_answers_409_and_never_runs_the_view_again(db, client, user, signed_in):
    # Only a view that committed by itself could leave this behind; the repeat must not create a second record.
    headers = signed_in(user)
    with atomic():
        database.session.add(
            IdempotencyKey(
                user_id=user.id,
                key="stuck",
                method="POST",
                path=f"{PREFIX}/boxes/a/things",
                fingerprint=_fingerprint_of({"name": "卡住"}),
                expires_at=sa.func.now() + timedelta(hours=24),
            )
        )
    response = post(client, headers, key="stuck", name="卡住")
    assert (response.status_code, response.json["code"]) == (409, "idempotency_in_progress")
    assert response.headers["Retry-After"] == "1"
    assert things_named("卡住") == 0


def _fingerprint_of(body: dict) -> str:
    with current_app.test_request_context(f"{PREFIX}/boxes/a/things", method="POST", json=body):
        return request_fingerprint()


def test_multipart_uploads_are_fingerprinted_by_content_not_boundary(app):
    def fingerprint(content: bytes, boundary: str) -> tuple[str, bytes]:
        body = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode() + content
        body += f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nphoto\r\n'.encode()
        body += f"--{boundary}--\r\n".encode()
        with app.test_request_context(
            "/upload",
            method="POST",
            input_stream=io.BytesIO(body),
            content_type=f"multipart/form-data; boundary={boundary}",
        ):
            value = request_fingerprint()
            return value, request.files["file"].read()  # the view still reads the whole upload

    first, read_back = fingerprint(b"\xff\xd8 picture", "boundary-one")
    assert read_back == b"\xff\xd8 picture"
    assert fingerprint(b"\xff\xd8 picture", "boundary-two")[0] == first
    assert fingerprint(b"\xff\xd8 another", "boundary-one")[0] != first


def test_the_cleanup_job_deletes_only_expired_keys(db, make_user, run_jobs):
    from app import outbox

    owner = make_user()
    with atomic():
        for key, expires in (("old", timedelta(seconds=-1)), ("new", timedelta(hours=1))):
            database.session.add(
                IdempotencyKey(
                    user_id=owner.id,
                    key=key,
                    method="POST",
                    path="/x",
                    fingerprint="0" * 64,
                    status=IdempotencyStatus.completed,
                    response_status=201,
                    response_body=b"{}",
                    expires_at=sa.func.now() + expires,
                )
            )
        outbox.enqueue(delete_expired_keys, "2026-11-24T03:17:00+08:00")
    assert run_jobs()["pushed"] >= 1
    assert [row.key for row in key_rows()] == ["new"]


def test_idempotent_below_blp_response_is_refused_at_import():
    with pytest.raises(TypeError, match=r"above @blp\.response"):

        class Misplaced(MethodView):
            @probe.response(201)
            @idempotent
            def post(self):
                return {}


def test_the_header_and_its_errors_are_documented(probe_app):
    spec = probe_app.test_client().get("/openapi.json").json
    operation = spec["paths"][f"{PREFIX}/boxes/{{box}}/things"]["post"]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert (header["name"], header["required"], header["schema"]["maxLength"]) == ("Idempotency-Key", False, 255)
    assert {"201", "409", "422"} <= set(operation["responses"])
    assert "requestBody" in operation
