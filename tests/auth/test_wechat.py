"""WeChat mini-program login and phone binding, against the fake WeChat server over real HTTP."""

import sqlalchemy as sa

from app.accounts.models import User
from app.auth.models import AuthSession, LoginMethod
from app.extensions import db as database
from tests.auth.conftest import bearer

LOGIN = "/api/v1/auth/wechat/login"
PHONE = "/api/v1/auth/wechat/phone"


def wechat_login(client, fake, code, openid, unionid=None):
    fake.add_login_code(code, openid, unionid)
    return client.post(LOGIN, json={"code": code})


def user_by_public_id(public_id: str) -> User:
    return database.session.scalar(sa.select(User).where(User.public_id == public_id))


def test_first_wechat_login_creates_the_account_and_the_next_finds_it(client, db, fake_wechat):
    first = wechat_login(client, fake_wechat, "code-1", "openid-a")
    assert first.status_code == 200
    body = first.json
    assert body["created"] is True
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["refresh_token"]
    assert body["user"]["display_name"] == "微信用户"
    assert body["user"]["phone"] is None

    again = wechat_login(client, fake_wechat, "code-2", "openid-a")
    assert again.status_code == 200
    assert again.json["created"] is False
    assert again.json["user"]["id"] == body["user"]["id"]
    assert again.json["session_id"] != body["session_id"]

    me = client.get("/api/v1/auth/sessions", headers=bearer(again.json["access_token"]))
    assert me.status_code == 200
    assert len(me.json["items"]) == 2
    user = user_by_public_id(body["user"]["id"])
    assert user.wechat_openid == "openid-a"
    assert user.last_login_at is not None


def test_wechat_login_goes_through_code2session_with_our_appid_and_a_fetched_access_token(client, db, fake_wechat):
    wechat_login(client, fake_wechat, "code-1", "openid-a")
    wechat_login(client, fake_wechat, "code-2", "openid-a")

    (call, second) = fake_wechat.calls("/sns/jscode2session")
    assert call.query["appid"] == fake_wechat.appid
    assert call.query["js_code"] == "code-1"
    assert call.query["grant_type"] == "authorization_code"
    # wechatpy sends an access token with every call; it was fetched from the fake, once, and shared.
    assert call.query["access_token"] in fake_wechat.tokens
    assert len(fake_wechat.calls("/cgi-bin/token")) == 1
    assert second.query["access_token"] == call.query["access_token"]


def test_wechat_login_prefers_the_unionid(client, db, fake_wechat):
    first = wechat_login(client, fake_wechat, "code-1", "openid-mini", unionid="union-1")
    # The same person through an app with another openid: found by unionid, not created again.
    other = wechat_login(client, fake_wechat, "code-2", "openid-other", unionid="union-1")
    assert other.json["created"] is False
    assert other.json["user"]["id"] == first.json["user"]["id"]


def test_a_unionid_seen_later_is_added_to_the_account_found_by_openid(client, db, fake_wechat):
    first = wechat_login(client, fake_wechat, "code-1", "openid-a")
    later = wechat_login(client, fake_wechat, "code-2", "openid-a", unionid="union-9")
    assert later.json["user"]["id"] == first.json["user"]["id"]
    assert user_by_public_id(first.json["user"]["id"]).wechat_unionid == "union-9"


def test_an_invalid_code_is_a_clear_400(client, db, fake_wechat):
    response = client.post(LOGIN, json={"code": "made-up"})
    assert response.status_code == 400
    assert response.json == {
        "code": "wechat_code_invalid",
        "message": "微信登录凭证无效或已使用，请重新登录",
        "details": {"errcode": 40029},
    }


def test_a_code_used_twice_is_refused_the_second_time(client, db, fake_wechat):
    assert wechat_login(client, fake_wechat, "code-1", "openid-a").status_code == 200
    again = client.post(LOGIN, json={"code": "code-1"})
    assert again.status_code == 400
    assert again.json["details"] == {"errcode": 40163}


def test_wechat_down_is_502_and_creates_nothing(client, db, fake_wechat):
    fake_wechat.add_login_code("code-1", "openid-a")
    fake_wechat.fail_next = 5
    response = client.post(LOGIN, json={"code": "code-1"})
    assert response.status_code == 502
    assert response.json["code"] == "wechat_unavailable"
    assert database.session.scalar(sa.select(User).where(User.wechat_openid == "openid-a")) is None


def test_without_a_configured_mini_program_wechat_login_is_404(client, db):
    response = client.post(LOGIN, json={"code": "anything"})
    assert response.status_code == 404
    assert response.json["code"] == "wechat_not_enabled"


def test_an_empty_or_missing_code_is_422(client, db, fake_wechat):
    assert client.post(LOGIN, json={"code": ""}).status_code == 422
    missing = client.post(LOGIN, json={})
    assert missing.status_code == 422
    assert "code" in missing.json["details"]["fields"]["json"]
    assert fake_wechat.requests == []


# --- phone binding -------------------------------------------------------------------------------------------


def test_binding_the_phone_wechat_verified(client, db, fake_wechat):
    login = wechat_login(client, fake_wechat, "code-1", "openid-a").json
    fake_wechat.add_phone_code("phone-code-1", "13800138000")

    response = client.post(PHONE, json={"code": "phone-code-1"}, headers=bearer(login["access_token"]))

    assert response.status_code == 200
    assert response.json == {
        "user": {"id": login["user"]["id"], "display_name": "微信用户", "phone": "138****8000"},
        "linked": False,
        "tokens": None,
    }
    user = user_by_public_id(login["user"]["id"])
    assert user.phone == "+8613800138000"
    assert user.phone_verified_at is not None
    (call,) = fake_wechat.calls("/wxa/business/getuserphonenumber")
    assert call.method == "POST"
    assert call.body == {"code": "phone-code-1"}
    assert call.query["access_token"] in fake_wechat.tokens


def test_a_stale_wechat_access_token_is_fetched_again(client, db, fake_wechat):
    login = wechat_login(client, fake_wechat, "code-1", "openid-a").json
    fake_wechat.tokens.clear()  # WeChat invalidated our token (another process fetched a new one)
    fake_wechat.add_phone_code("phone-code-1", "13800138000")
    response = client.post(PHONE, json={"code": "phone-code-1"}, headers=bearer(login["access_token"]))
    assert response.status_code == 200
    assert len(fake_wechat.calls("/cgi-bin/token")) == 2


def test_binding_needs_a_signed_in_user(client, db, fake_wechat):
    response = client.post(PHONE, json={"code": "phone-code-1"})
    assert response.status_code == 401
    assert response.json["code"] == "unauthenticated"


def test_an_invalid_phone_code_is_400(client, db, fake_wechat):
    login = wechat_login(client, fake_wechat, "code-1", "openid-a").json
    response = client.post(PHONE, json={"code": "nope"}, headers=bearer(login["access_token"]))
    assert response.status_code == 400
    assert response.json["code"] == "wechat_phone_code_invalid"


def test_a_phone_number_issued_for_another_mini_program_is_refused(client, db, fake_wechat):
    login = wechat_login(client, fake_wechat, "code-1", "openid-a").json
    fake_wechat.add_phone_code("phone-code-1", "13800138000")
    fake_wechat.watermark_appid = "wx_someone_else"
    response = client.post(PHONE, json={"code": "phone-code-1"}, headers=bearer(login["access_token"]))
    assert response.status_code == 502
    assert user_by_public_id(login["user"]["id"]).phone is None


def test_a_foreign_phone_is_refused(client, db, fake_wechat):
    login = wechat_login(client, fake_wechat, "code-1", "openid-a").json
    fake_wechat.add_phone_code("phone-code-1", "6502530000", country_code="1")
    response = client.post(PHONE, json={"code": "phone-code-1"}, headers=bearer(login["access_token"]))
    assert response.status_code == 422
    assert response.json["code"] == "phone_invalid"


def test_binding_a_phone_held_by_an_account_without_data_links_it_into_mine(client, db, fake_wechat, make_user):
    sms_only = make_user("用户8000", phone="+8613800138000")
    login = wechat_login(client, fake_wechat, "code-1", "openid-a").json
    fake_wechat.add_phone_code("phone-code-1", "13800138000")

    response = client.post(PHONE, json={"code": "phone-code-1"}, headers=bearer(login["access_token"]))

    assert response.status_code == 200
    assert response.json["linked"] is True
    assert response.json["tokens"] is None  # I stay who I am
    assert response.json["user"]["id"] == login["user"]["id"]
    database.session.refresh(sms_only)
    assert sms_only.is_active is False
    assert sms_only.phone is None
    assert sms_only.merged_into_id == user_by_public_id(login["user"]["id"]).id


def test_binding_a_phone_of_an_account_with_data_moves_me_into_it(client, db, fake_wechat, make_user):
    staff = make_user("社区工作人员", platform_roles=("staff",), phone="+8613800138000")
    login = wechat_login(client, fake_wechat, "code-1", "openid-new").json
    fake_wechat.add_phone_code("phone-code-1", "13800138000")

    response = client.post(PHONE, json={"code": "phone-code-1"}, headers=bearer(login["access_token"]))

    assert response.status_code == 200
    body = response.json
    assert body["linked"] is True
    assert body["user"]["id"] == staff.public_id
    assert body["tokens"]["user"]["id"] == staff.public_id
    # My old session belonged to the account folded away: it is revoked, the new tokens work.
    old = client.get("/api/v1/auth/sessions", headers=bearer(login["access_token"]))
    assert old.status_code == 401
    new = client.get("/api/v1/auth/sessions", headers=bearer(body["tokens"]["access_token"]))
    assert new.status_code == 200
    assert new.json["items"][0]["method"] == "wechat"
    # Next WeChat login lands in the staff account.
    again = wechat_login(client, fake_wechat, "code-2", "openid-new").json
    assert again["user"]["id"] == staff.public_id


def test_binding_a_phone_when_both_accounts_hold_data_is_409(client, db, fake_wechat, make_user, sign_in):
    make_user("工作人员甲", platform_roles=("staff",), phone="+8613800138000")
    me = make_user("工作人员乙", platform_roles=("staff",), wechat_openid="openid-b")
    tokens = sign_in(me, LoginMethod.wechat)
    fake_wechat.add_phone_code("phone-code-1", "13800138000")

    response = client.post(PHONE, json={"code": "phone-code-1"}, headers=bearer(tokens.access_token))

    assert response.status_code == 409
    assert response.json == {
        "code": "phone_bound_to_other_account",
        "message": "该手机号已绑定其他账号，请联系社区工作人员合并账号",
        "details": {},
    }
    database.session.refresh(me)
    assert me.phone is None
    assert database.session.scalar(sa.select(AuthSession.revoked_at).where(AuthSession.user_id == me.id)) is None
