"""With PostgreSQL unreachable the API answers 503 service_unavailable, never a 500."""

import jwt
import pytest

from tests.conftest import TEST_SECRETS, extra_app

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/linli"


@pytest.fixture
def db_down_client(redis_url):
    with extra_app(UNREACHABLE, redis_url) as app:
        yield app.test_client()


def test_operational_error_maps_to_503(db_down_client):
    claims = {"sub": "someone", "sid": "some-session", "typ": "access", "iat": 1700000000, "exp": 4102444800}
    token = jwt.encode(claims, TEST_SECRETS["SECRET_KEY"])
    response = db_down_client.get("/api/v1/admin/jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.json["code"] == "service_unavailable"
    assert response.json["message"] == "服务暂时不可用，请稍后再试"
    assert response.headers["Retry-After"] == "5"


def test_health_is_503_only_when_the_database_is_down(db_down_client):
    response = db_down_client.get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "down"
    assert response.json["status"] == "down"
