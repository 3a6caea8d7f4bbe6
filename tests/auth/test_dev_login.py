"""POST /api/v1/auth/dev-login exists in demo mode only; elsewhere it is indistinguishable from an unknown route."""

import pytest

from tests.auth.conftest import bearer
from tests.conftest import extra_app

DEV_LOGIN = "/api/v1/auth/dev-login"


def test_outside_demo_mode_dev_login_answers_like_an_unknown_route(client, db, make_user):
    user = make_user()
    unknown = client.post("/api/v1/auth/no-such-route", json={"user_public_id": user.public_id})
    for method in ("post", "get", "put"):
        response = getattr(client, method)(DEV_LOGIN, json={"user_public_id": user.public_id})
        assert response.status_code == 404
        assert response.json == unknown.json == {"code": "not_found", "message": "资源不存在", "details": {}}
    assert "/api/v1/auth/dev-login" not in client.get("/openapi.json").json["paths"]


@pytest.fixture
def demo_client(database_url, redis_url, db):
    with extra_app(database_url, redis_url, DEMO_MODE=True) as application:
        yield application.test_client()


def test_in_demo_mode_dev_login_signs_in_by_public_id(demo_client, make_user):
    user = make_user("演示居民")
    response = demo_client.post(DEV_LOGIN, json={"user_public_id": user.public_id})
    assert response.status_code == 200
    assert response.json["user"]["id"] == user.public_id
    sessions = demo_client.get("/api/v1/auth/sessions", headers=bearer(response.json["access_token"]))
    assert sessions.json["items"][0]["method"] == "dev"
    spec = demo_client.get("/openapi.json").json
    assert spec["paths"][DEV_LOGIN]["post"]["x-access"]["public"] is True


def test_in_demo_mode_dev_login_by_phone_creates_the_account_once(demo_client):
    first = demo_client.post(DEV_LOGIN, json={"phone": "13800138000"}).json
    again = demo_client.post(DEV_LOGIN, json={"phone": "+8613800138000"}).json
    assert first["created"] is True
    assert again["created"] is False
    assert again["user"]["id"] == first["user"]["id"]


def test_dev_login_wants_exactly_one_of_id_and_phone(demo_client, make_user):
    assert demo_client.post(DEV_LOGIN, json={}).status_code == 422
    both = demo_client.post(DEV_LOGIN, json={"user_public_id": make_user().public_id, "phone": "13800138000"})
    assert both.status_code == 422
    missing = demo_client.post(DEV_LOGIN, json={"user_public_id": "no-such-user"})
    assert missing.status_code == 404
    assert missing.json["message"] == "账号不存在"
