"""Fault matrix, tokens: every protected operation in the OpenAPI document answers 401 to a missing, expired,
tampered or revoked token, before it validates anything; public operations are the declared exceptions.

Generated from the document, so an endpoint added later is covered without a line here.
"""

from __future__ import annotations

import re
import time

import jwt
import pytest

from app.auth import issue_access_token
from app.auth.sessions import logout
from tests.conftest import TEST_SECRETS

METHODS = ("get", "post", "put", "patch", "delete")


def _operations(client) -> list[tuple[str, str, dict]]:
    spec = client.get("/openapi.json").json
    operations = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                # Path parameters sit on the path item (flask-smorest), sometimes on the operation.
                parameters = item.get("parameters", []) + item[method].get("parameters", [])
                operations.append((method, path, {**item[method], "parameters": parameters}))
    return operations


def _concrete(path: str, operation: dict) -> str:
    """The path with each parameter filled: 1 for integers, a made-up public id otherwise."""
    types = {p["name"]: p.get("schema", {}).get("type") for p in operation.get("parameters", []) if p["in"] == "path"}
    return re.sub(r"{([^}]+)}", lambda m: "1" if types.get(m.group(1)) == "integer" else "NoSuchId0000", path)


def _protected(client):
    return [(m, p, op) for m, p, op in _operations(client) if not op["x-access"]["public"]]


def _token(user_public_id: str, session_public_id: str, **overrides) -> str:
    now = int(time.time())
    claims = {"sub": user_public_id, "sid": session_public_id, "typ": "access", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return jwt.encode(claims, TEST_SECRETS["SECRET_KEY"], algorithm="HS256")


def test_the_document_has_protected_operations_in_every_domain(client):
    prefixes = {path.split("/")[3] for _m, path, _op in _protected(client) if path.startswith("/api/v1/")}
    assert {"govservice", "marketplace", "eldercare", "notices", "payments", "fees"} <= prefixes


@pytest.mark.parametrize("case", ["missing", "expired", "tampered", "wrong_key", "revoked", "not_bearer"])
def test_every_protected_operation_refuses_a_bad_token_with_401(client, db, redis, make_user, case):
    user = make_user("令牌测试")
    good = issue_access_token(user)
    claims = jwt.decode(good, options={"verify_signature": False})
    if case == "missing":
        headers = {}
    elif case == "expired":
        headers = {"Authorization": f"Bearer {_token(claims['sub'], claims['sid'], exp=int(time.time()) - 5)}"}
    elif case == "tampered":
        head, _body, signature = good.split(".")
        forged = jwt.encode({**claims, "sub": "SomeoneElse0"}, "x" * 32, algorithm="HS256").split(".")[1]
        headers = {"Authorization": f"Bearer {head}.{forged}.{signature}"}
    elif case == "wrong_key":
        headers = {"Authorization": f"Bearer {jwt.encode(claims, 'another-key-of-at-least-32-bytes!!', 'HS256')}"}
    elif case == "revoked":
        logout(user, claims["sid"])
        headers = {"Authorization": f"Bearer {good}"}
    else:
        headers = {"Authorization": f"Token {good}"}

    wrong = []
    for method, path, operation in _protected(client):
        response = getattr(client, method)(_concrete(path, operation), headers=headers, json={})
        if response.status_code != 401 or response.json.get("code") != "unauthenticated":
            wrong.append(f"{method.upper()} {path} → {response.status_code} {response.get_data(as_text=True)[:80]}")
    assert not wrong, "\n".join(wrong)
