"""The demo, used the way a mini-program developer would: over HTTP, with paths taken from /openapi.json.

The app runs in demo mode with every demo seeder applied (committed, as ``make run`` leaves it). Operations are found
in the spec by what they take and return, never by a hard-coded path, and every answer is checked against the
schema the spec promises. What is asserted is what the daughter would see on her phone: her own details, the elder
named only by a masked name, no full ID number anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis

from app.demo import seed_demo
from tests.conftest import extra_app

DAUGHTER_PHONE = "+8619900000003"  # README: "+8619900000003 王丽, who acts for her 82-year-old mother"
ELDER_NAME = "王秀兰"
#: A full 居民身份证 number (17 digits and a checksum) must never reach a resident's screen.
FULL_ID_NUMBER = re.compile(r"\d{17}[\dX]")


class Spec:
    """The published spec, and lookups in it by what an operation does."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        while schema and "$ref" in schema:
            name = schema["$ref"].removeprefix("#/components/schemas/")
            schema = self.document["components"]["schemas"][name]
        return schema or {}

    def _success_schema(self, operation: dict[str, Any]) -> dict[str, Any]:
        for status in ("200", "201"):
            content = operation.get("responses", {}).get(status, {}).get("content", {})
            if "application/json" in content:
                return self.resolve(content["application/json"].get("schema"))
        return {}

    def returns(self, operation: dict[str, Any], *fields: str, array: bool = False) -> bool:
        schema = self._success_schema(operation)
        if array != (schema.get("type") == "array"):
            return False
        if array:
            schema = self.resolve(schema.get("items"))
        return set(fields) <= set(schema.get("properties", {}))

    def accepts(self, operation: dict[str, Any], *fields: str) -> bool:
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        return set(fields) <= set(self.resolve(body.get("schema")).get("properties", {}))

    def find(self, method: str, test: Callable[[str, dict[str, Any]], bool]) -> str:
        """The one path whose ``method`` operation passes ``test(path, operation)``."""
        found = [
            path
            for path, item in self.document["paths"].items()
            if method in item and test(path, item[method] | {"parameters": self.parameters(item, method)})
        ]
        assert len(found) == 1, f"expected one {method.upper()} operation, found {found}"
        return found[0]

    def parameters(self, item: dict[str, Any], method: str) -> list[dict[str, Any]]:
        return [*item.get("parameters", []), *item[method].get("parameters", [])]

    @staticmethod
    def path_params(operation: dict[str, Any]) -> list[str]:
        return [parameter["name"] for parameter in operation["parameters"] if parameter["in"] == "path"]


def fill(path: str, value: str) -> str:
    """Put ``value`` into the path's one parameter."""
    filled, count = re.subn(r"\{[^}]+\}", value, path)
    assert count == 1, path
    return filled


@pytest.fixture
def demo(database_url, redis_url, committed_db) -> Iterator[tuple[Any, Spec, Any]]:
    """A demo-mode app with the demo data loaded, its test client, its spec and schemathesis' view of the spec."""
    with extra_app(database_url, redis_url, DEMO_MODE=True) as application:
        applied = seed_demo()
        assert "identity" in applied
        client = application.test_client()
        document = client.get("/openapi.json").json
        yield client, Spec(document), schemathesis.openapi.from_dict(document)


def check(schema, method: str, path: str, response) -> Any:
    """The response is a success and matches what the spec promises for that operation."""
    assert response.status_code < 300, (path, response.status_code, response.json)
    schema[path][method.upper()].validate_response(response)
    text = response.get_data(as_text=True)
    assert ELDER_NAME not in text
    assert not FULL_ID_NUMBER.search(text), text
    return response.json


@pytest.fixture
def as_daughter(demo):
    """The daughter signed in by dev-login (the path found in the spec), and a helper to call the API as her."""
    client, spec, schema = demo

    dev_login = spec.find(
        "post", lambda _p, op: op.get("x-access", {}).get("public") and spec.accepts(op, "user_public_id", "phone")
    )
    tokens = check(schema, "post", dev_login, client.post(dev_login, json={"phone": DAUGHTER_PHONE}))
    assert tokens["created"] is False  # the demo account, not a new one
    assert tokens["user"]["display_name"] == "王丽（演示）"
    assert tokens["user"]["phone"] == "199****0003"
    headers = {"Authorization": f"{tokens['token_type']} {tokens['access_token']}"}

    def get(spec_path: str, path: str | None = None) -> Any:
        return check(schema, "get", spec_path, client.get(path or spec_path, headers=headers))

    return spec, get


def test_the_daughter_signs_in_and_sees_herself_and_her_mothers_delegation(as_daughter):
    spec, get = as_daughter

    me_path = spec.find(
        "get", lambda _p, op: not spec.path_params(op) and spec.returns(op, "account", "resident", "ready_for")
    )
    me = get(me_path)
    assert me["account"]["phone"] == "199****0003"
    resident = me["resident"]
    # Her own details: her name in full, the document masked, what the ID number says about her.
    assert (resident["real_name"], resident["document_type"], resident["gender"]) == (
        "王丽",
        "resident_id_card",
        "female",
    )
    assert (resident["birth_date"], resident["elderly"], resident["verification_status"]) == (
        "1972-03-08",
        False,
        "verified",
    )
    assert resident["document_number"].startswith("110")
    assert "*" in resident["document_number"]
    assert resident["phone"] == "199****0003"
    [household] = me["households"]
    assert (household["role"], household["is_head"]) == ("head", True)
    assert "502" in str(household["address"])
    assert "party_member" in {tag.get("code") for tag in me["tags"]}
    assert isinstance(me["ready_for"], list)
    assert isinstance(me["missing"], dict)

    mine_path = spec.find(
        "get",
        lambda _p, op: not spec.path_params(op) and spec.returns(op, "actor", "subject", "scopes", array=True),
    )
    [delegation] = get(mine_path)
    assert delegation["my_role"] == "actor"
    assert delegation["actor"] == {"id": resident["id"], "name": "王*", "has_account": True}
    assert delegation["subject"]["name"] == "王**"  # 王秀兰, masked
    assert delegation["subject"]["has_account"] is False  # no phone, no account: her daughter acts for her
    assert (delegation["relationship"], delegation["status"], delegation["approved_via"]) == (
        "child",
        "active",
        "staff",
    )
    assert {"eldercare", "appointments", "bills"} <= set(delegation["scopes"])
    assert "marketplace" not in delegation["scopes"]

    by_id_path = spec.find(
        "get",
        lambda _p, op: len(spec.path_params(op)) == 1 and spec.returns(op, "actor", "subject", "scopes"),
    )
    assert get(by_id_path, fill(by_id_path, delegation["id"])) == delegation


def test_the_daughter_reads_her_mothers_profile_through_the_delegation(as_daughter):
    spec, get = as_daughter
    mine_path = spec.find(
        "get",
        lambda _p, op: not spec.path_params(op) and spec.returns(op, "actor", "subject", "scopes", array=True),
    )
    [delegation] = get(mine_path)

    profile_path = spec.find(
        "get",
        lambda _p, op: (
            len(spec.path_params(op)) == 1
            and "delegat" in str(op.get("x-access", {}).get("also", "")).lower()
            and spec.returns(op, "real_name", "document_number", "elderly")
        ),
    )
    profile = get(profile_path, fill(profile_path, delegation["subject"]["id"]))

    assert profile["id"] == delegation["subject"]["id"]
    assert profile["real_name"] == "王**"  # a delegate sees the masked name
    assert "*" in profile["document_number"]
    assert (profile["age"], profile["elderly"], profile["has_account"], profile["phone"]) == (82, True, False, None)
