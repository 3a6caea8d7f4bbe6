"""Changing one's own password: the current one checked (and counted toward the lockout), the strength rule, the
other sessions signed out while this one stays."""

import pytest
import sqlalchemy as sa

from app.audit import AuditEntry
from app.auth import errors
from app.auth.models import LoginMethod
from app.auth.passwords import check_password_strength, set_password
from app.extensions import db as database
from tests.auth.conftest import bearer

CHANGE = "/api/v1/auth/password/change"
LOGIN = "/api/v1/auth/password/login"
OLD = "correct horse battery"
NEW = "Staple-2024-battery"


@pytest.fixture
def staff(db):
    return set_password("wang.staff", OLD, display_name="王工作人员", reason="test")


def login(client, password=OLD):
    return client.post(LOGIN, json={"username": "wang.staff", "password": password})


def change(client, tokens, old=OLD, new=NEW):
    return client.post(CHANGE, json={"old_password": old, "new_password": new}, headers=bearer(tokens["access_token"]))


def test_changing_my_password_signs_out_my_other_devices_and_keeps_this_one(client, staff):
    phone = login(client).json
    laptop = login(client).json

    response = change(client, laptop)

    assert response.status_code == 204
    assert client.get("/api/v1/auth/sessions", headers=bearer(laptop["access_token"])).status_code == 200
    assert client.get("/api/v1/auth/sessions", headers=bearer(phone["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}).status_code == 200
    assert login(client).status_code == 401
    assert login(client, NEW).status_code == 200
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "auth.password_changed"))
    assert (entry.actor_user_id, entry.target_id, entry.after) == (
        staff.id,
        staff.public_id,
        {"other_sessions_revoked": 1},
    )


def test_a_wrong_current_password_is_400_and_counts_toward_the_lockout(client, staff):
    tokens = login(client).json
    for left in (4, 3, 2, 1):
        response = change(client, tokens, old="not my password")
        assert response.status_code == 400
        assert response.json == {
            "code": "password_incorrect",
            "message": "原密码错误",
            "details": {"remaining_attempts": left},
        }
    fifth = change(client, tokens, old="not my password")
    assert (fifth.status_code, fifth.json["code"]) == (429, "login_locked")
    assert fifth.headers["Retry-After"] == "900"
    # Locked: the right password changes nothing, and the login form is locked as well.
    assert change(client, tokens).status_code == 429
    assert login(client).status_code == 429
    # The caller is still signed in (a wrong password is not a lost session).
    assert client.get("/api/v1/auth/sessions", headers=bearer(tokens["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "weak",
    [
        "Short-1",  # under 10
        "12345678901234",  # digits only
        "abcdefghijklmn",  # letters only
        "密码密码密码密码密码密码",  # letters only, in any script
        "x1" * 65,  # over 128
    ],
)
def test_a_weak_new_password_is_422_with_the_rule_in_chinese(client, staff, weak):
    tokens = login(client).json
    response = change(client, tokens, new=weak)
    assert response.status_code == 422
    assert response.json["code"] == "password_too_weak"
    assert response.json["message"] == "密码须为10至128位，且至少包含字母、数字、符号中的两种"
    assert login(client).status_code == 200  # unchanged


def test_the_new_password_must_differ_from_the_current_one(client, staff):
    tokens = login(client).json
    response = change(client, tokens, new=OLD)
    assert (response.status_code, response.json["code"]) == (422, "password_unchanged")


def test_an_account_without_a_password_gets_409(client, db, make_user, sign_in):
    tokens = sign_in(make_user(wechat_openid="openid-a"), LoginMethod.wechat)
    response = client.post(
        CHANGE, json={"old_password": "anything", "new_password": NEW}, headers=bearer(tokens.access_token)
    )
    assert (response.status_code, response.json["code"]) == (409, "password_not_set")


def test_changing_a_password_needs_a_sign_in(client, db):
    assert client.post(CHANGE, json={"old_password": OLD, "new_password": NEW}).status_code == 401


@pytest.mark.parametrize("good", ["correct horse battery", "Tr0ub4dor&3x", "1234567890a", "我家住在幸福路一号 2 栋"])
def test_passphrases_and_mixed_passwords_are_strong_enough(good):
    check_password_strength(good)


def test_the_rule_applies_to_passwords_set_by_operators_too(db):
    with pytest.raises(errors.PasswordTooWeak):
        set_password("li.vendor", "onlyletterswithoutanything", reason="test")
