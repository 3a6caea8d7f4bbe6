"""App-level behaviour: one error body everywhere, docs served offline, health, atomic()."""

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.db import atomic
from app.extensions import db as database

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def test_unknown_route_gives_the_common_error_body(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json == {"code": "not_found", "message": "资源不存在", "details": {}}


def test_wrong_method_gives_405_with_allow_header(client):
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.json["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_validation_error_lists_fields(client, db, make_user, auth_header):
    admin = make_user(platform_roles=("admin",))
    response = client.get("/api/v1/admin/jobs?status=bogus", headers=auth_header(admin))
    assert response.status_code == 422
    body = response.json
    assert body["code"] == "validation_failed"
    assert body["message"] == "提交的数据有误"
    assert "status" in body["details"]["fields"]["query"]


def test_missing_token_is_401_and_malformed_token_is_401(client, db):
    assert client.get("/api/v1/admin/jobs").json["code"] == "unauthenticated"
    response = client.get("/api/v1/admin/jobs", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.json["details"]["reason"] == "token_invalid"


def test_non_admin_gets_403(client, db, make_user, auth_header):
    response = client.get("/api/v1/admin/jobs", headers=auth_header(make_user()))
    assert response.status_code == 403
    assert response.json["code"] == "forbidden"


def test_openapi_documents_access_rules(client):
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/api/v1/admin/jobs"]["get"]
    assert operation["x-access"] == {"public": False, "platform_roles": ["admin"]}
    assert spec["paths"]["/healthz"]["get"]["x-access"]["public"] is True
    assert spec["components"]["schemas"]["Error"]["properties"]["code"]["type"] == "string"


def test_every_operation_declares_its_access_rule(client):
    spec = client.get("/openapi.json").json
    missing = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS and "x-access" not in operation
    ]
    assert missing == []


def test_docs_page_loads_its_scripts_from_our_own_host(client):
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.get_data(as_text=True))
    assert sources, "the docs page references no assets"
    for source in sources:
        assert source.startswith("/"), f"{source} is not served by us"
        with client.get(source) as asset:
            assert asset.status_code == 200, source


def test_health_reports_each_dependency(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok"}


def test_atomic_rolls_back_everything_on_error(db):
    with pytest.raises(RuntimeError), atomic():
        database.session.add(User(display_name="half-written"))
        database.session.flush()
        with atomic():
            raise RuntimeError("boom")
    assert database.session.scalar(sa.select(sa.func.count()).where(User.display_name == "half-written")) == 0


def test_atomic_savepoint_lets_the_caller_recover(db):
    with atomic():
        database.session.add(User(display_name="kept"))
        with pytest.raises(RuntimeError), atomic(savepoint=True):
            database.session.add(User(display_name="dropped"))
            database.session.flush()
            raise RuntimeError("inner failure")
    names = set(database.session.scalars(sa.select(User.display_name)))
    assert "kept" in names
    assert "dropped" not in names


def test_datetimes_are_shown_in_shanghai_time():
    from datetime import UTC, datetime

    from app.api import LocalDateTime

    field = LocalDateTime()
    assert field._serialize(datetime(2026, 11, 23, 1, 0, tzinfo=UTC), None, None) == "2026-11-23T09:00:00+08:00"


def test_a_huge_page_number_is_a_validation_error_not_a_500(client, db, make_user, auth_header):
    admin = make_user(platform_roles=("admin",))
    response = client.get("/api/v1/admin/jobs?status=dead&page=99999999999999999999", headers=auth_header(admin))
    assert response.status_code == 422
    assert "page" in response.json["details"]["fields"]["query"]


def test_a_path_id_beyond_bigint_is_404(client, db, make_user, auth_header):
    admin = make_user(platform_roles=("admin",))
    response = client.post("/api/v1/admin/jobs/9223372036854775808/retry", headers=auth_header(admin))
    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_a_datetime_without_a_utc_form_is_a_validation_error():
    import marshmallow

    from app.api import LocalDateTime

    with pytest.raises(marshmallow.ValidationError):
        LocalDateTime().deserialize("0001-01-01T00:00:00+08:00")
    with pytest.raises(marshmallow.ValidationError, match="时区"):
        LocalDateTime().deserialize("2026-11-23T09:00:00")
