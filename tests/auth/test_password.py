"""Username and password logins (staff, vendors, providers): hashing, one message for every failure, lockout."""

from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.audit import AuditEntry
from app.auth import errors
from app.auth.models import AuthSession, PasswordFailure
from app.auth.passwords import set_password
from app.db import utcnow
from app.extensions import db as database
from tests.auth.conftest import bearer
from tests.conftest import TEST_SECRETS

LOGIN = "/api/v1/auth/password/login"
PASSWORD = "correct horse battery"


@pytest.fixture
def staff(db):
    return set_password("Wang.Staff", PASSWORD, display_name="王工作人员", reason="test")


def login(client, username="wang.staff", password=PASSWORD):
    return client.post(LOGIN, json={"username": username, "password": password})


def test_password_login_gives_tokens(client, staff):
    response = login(client, username="  WANG.staff ")
    assert response.status_code == 200
    body = response.json
    assert body["user"]["id"] == staff.public_id
    claims = jwt.decode(body["access_token"], TEST_SECRETS["SECRET_KEY"], algorithms=["HS256"])
    assert claims["sub"] == staff.public_id
    assert client.get("/api/v1/auth/sessions", headers=bearer(body["access_token"])).json["items"][0]["method"] == (
        "password"
    )


def test_the_password_is_stored_as_a_scrypt_hash(staff):
    database.session.refresh(staff)
    assert staff.username == "wang.staff"
    assert staff.password_hash.startswith("scrypt:")
    assert PASSWORD not in staff.password_hash


def test_a_wrong_password_and_an_unknown_username_look_the_same(client, staff):
    wrong_password = login(client, password="not the password")
    unknown_user = login(client, username="nobody.here")
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert response.json == {
            "code": "invalid_credentials",
            "message": "用户名或密码错误",
            "details": {"remaining_attempts": 4},
        }


def test_five_failures_lock_the_username_for_15_minutes(client, staff):
    for left in (4, 3, 2, 1):
        assert login(client, password="wrong").json["details"]["remaining_attempts"] == left
    fifth = login(client, password="wrong")
    assert fifth.status_code == 429
    assert fifth.json["code"] == "login_locked"
    assert fifth.json["message"] == "登录失败次数过多，请15分钟后再试"
    assert fifth.headers["Retry-After"] == "900"

    # Locked: even the right password is refused, without being checked.
    locked = login(client)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 900

    # Fifteen minutes later (moved in the database, not slept) the right password works and the count restarts.
    database.session.execute(sa.update(PasswordFailure).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert login(client).status_code == 200
    assert database.session.get(PasswordFailure, "wang.staff", populate_existing=True) is None


def test_an_unknown_username_locks_the_same_way(client, db):
    for _ in range(4):
        assert login(client, username="ghost").status_code == 401
    assert login(client, username="ghost").json["code"] == "login_locked"


def test_failures_spread_over_more_than_15_minutes_do_not_lock(client, staff):
    for _ in range(4):
        login(client, password="wrong")
    database.session.execute(sa.update(PasswordFailure).values(last_failed_at=utcnow() - timedelta(minutes=16)))
    response = login(client, password="wrong")
    assert response.status_code == 401
    assert response.json["details"]["remaining_attempts"] == 4


def test_a_success_resets_the_count(client, staff):
    for _ in range(4):
        login(client, password="wrong")
    assert login(client).status_code == 200
    assert login(client, password="wrong").json["details"]["remaining_attempts"] == 4


def test_a_disabled_account_cannot_sign_in(client, staff):
    database.session.execute(sa.update(User).where(User.id == staff.id).values(is_active=False))
    response = login(client)
    assert response.status_code == 403
    assert response.json["code"] == "account_disabled"


def test_an_account_without_a_password_cannot_use_password_login(client, db, make_user):
    make_user(username="no.password")
    assert login(client, username="no.password").json["code"] == "invalid_credentials"


@pytest.mark.parametrize("weak", ["short", "1234567890123", "x" * 129])
def test_weak_passwords_are_refused(db, weak):
    with pytest.raises(errors.PasswordTooWeak):
        set_password("someone", weak, reason="test")


def test_a_username_belongs_to_one_account(db, staff, make_user):
    with pytest.raises(errors.UsernameTaken):
        set_password("wang.staff", "another good password", user=make_user(), reason="test")


def test_resetting_a_password_revokes_the_sessions_and_is_audited(client, staff):
    tokens = login(client).json
    set_password("wang.staff", "a brand new password", user=staff, reason="工作人员忘记密码")
    assert client.get("/api/v1/auth/sessions", headers=bearer(tokens["access_token"])).status_code == 401
    assert login(client).status_code == 401
    assert login(client, password="a brand new password").status_code == 200
    entries = database.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "auth.password_set").order_by(AuditEntry.id)
    )
    assert [entry.reason for entry in entries] == ["test", "工作人员忘记密码"]


def test_cli_set_password_creates_a_login(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["auth", "set-password", "li.vendor", "--display-name", "李老板", "--reason", "开通商户账号"],
        input="a good vendor password\na good vendor password\n",
    )
    assert result.exit_code == 0, result.output
    public_id = result.output.strip().splitlines()[-1]
    user = database.session.scalar(sa.select(User).where(User.public_id == public_id))
    assert user.username == "li.vendor"
    assert user.display_name == "李老板"
    client = app.test_client()
    assert login(client, username="li.vendor", password="a good vendor password").status_code == 200


def test_cli_issue_token_starts_an_audited_session(app, db, make_user):
    user = make_user()
    result = app.test_cli_runner().invoke(args=["auth", "issue-token", user.public_id, "--reason", "压测"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()  # logs (a slow Redis warns) go to stderr
    claims = jwt.decode(token, TEST_SECRETS["SECRET_KEY"], algorithms=["HS256"])
    session = database.session.scalar(sa.select(AuthSession).where(AuthSession.public_id == claims["sid"]))
    assert session.user_id == user.id
    assert session.method.value == "issued"
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "auth.issue_token"))
    assert entry.reason == "压测"
    assert entry.target_id == user.public_id
    client = app.test_client()
    assert client.get("/api/v1/auth/sessions", headers=bearer(token)).status_code == 200
    # Revocable like any session.
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/auth/sessions", headers=bearer(token)).status_code == 401
