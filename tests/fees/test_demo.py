"""The demo, as `make run` leaves it: the daughter signs in with dev-login and pays her mother's bills in the sandbox,
using only operations published in /openapi.json."""

from __future__ import annotations

import re

import pytest

from app.demo import seed_demo
from tests.conftest import extra_app

DAUGHTER_PHONE = "+8619900000003"


class Spec:
    def __init__(self, document: dict) -> None:
        self.paths = document["paths"]

    def path(self, method: str, pattern: str) -> str:
        """The one published path matching ``pattern`` (a regex over the path template) that has ``method``."""
        found = [p for p, item in self.paths.items() if re.fullmatch(pattern, p) and method in item]
        assert len(found) == 1, (method, pattern, found)
        return found[0]


def fill(template: str, *values: str) -> str:
    for value in values:
        template = re.sub(r"\{[^}]+\}", value, template, count=1)
    assert "{" not in template, template
    return template


@pytest.fixture
def demo(database_url, redis_url, committed_db):
    with extra_app(database_url, redis_url, DEMO_MODE=True) as application:
        applied = seed_demo()
        assert "fees" in applied
        client = application.test_client()
        yield client, Spec(client.get("/openapi.json").json)


def test_the_daughter_pays_her_mothers_bills_in_the_sandbox_and_gets_a_receipt(demo):
    client, spec = demo
    login = client.post(spec.path("post", r".*/auth/dev-login"), json={"phone": DAUGHTER_PHONE})
    assert login.status_code == 200, login.json
    headers = {"Authorization": f"Bearer {login.json['access_token']}"}

    def call(method: str, path: str, **kwargs):
        response = getattr(client, method)(path, headers=headers, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.get_json())
        assert "王秀兰" not in response.get_data(as_text=True)  # the mother's name only ever masked
        return response

    households = call("get", spec.path("get", r"/api/v1/fees/households")).json
    assert {h["via"] for h in households} == {"member", "delegate"}
    mother = next(h for h in households if h["via"] == "delegate")
    assert mother["for_resident"]["name"] == "王**"
    assert mother["unpaid_count"] == 4  # 物业费 and 卫生费, last month and this month
    assert mother["late_fee_fen"] > 0  # last month's 物业费 is overdue

    bills_path = fill(spec.path("get", r"/api/v1/fees/households/\{[^}]+\}/bills"), mother["id"])
    bills = call("get", bills_path, query_string={"status": "unpaid"}).json["items"]
    assert {b["title"][-3:] for b in bills} == {"物业费", "卫生费"}
    assert {b["amount_fen"] for b in bills} == {3360, 500}  # 42.00 m² × 0.80 元; 5.00 元 a household

    made = call(
        "post",
        spec.path("post", r"/api/v1/fees/orders"),
        json={"household_id": mother["id"], "bill_ids": [b["id"] for b in bills]},
    ).json
    assert made["amount_fen"] == mother["total_fen"]
    payment = call(
        "post",
        spec.path("post", r"/api/v1/payments"),
        json={"kind": made["payable"]["kind"], "ids": [made["payable"]["id"]], "channel": "sandbox"},
    ).json
    assert payment["amount_fen"] == made["amount_fen"]
    confirm_path = spec.path("post", r"/api/v1/payments/\{[^}]+\}/sandbox/confirm")
    assert fill(confirm_path, payment["id"]) == payment["pay_params"]["confirm_path"]
    assert call("post", fill(confirm_path, payment["id"]), json={}).json["status"] == "paid"

    paid_order = call("get", fill(spec.path("get", r"/api/v1/fees/orders/\{[^}]+\}"), made["id"])).json
    assert paid_order["status"] == "paid"
    receipt = call("get", fill(spec.path("get", r"/api/v1/fees/receipts/\{[^}]+\}"), paid_order["receipt_id"])).json
    assert re.fullmatch(r"\d{4}-000001", receipt["number"])
    assert receipt["payee"]["name"] == "幸福物业服务有限公司（演示）"
    assert receipt["paid_for"] == "王**"
    assert len(receipt["lines"]) == 4
    assert receipt["total_fen"] == made["amount_fen"]
    assert "老槐树院" in receipt["household"]["address"]
    printable = call("get", fill(spec.path("get", r"/api/v1/fees/receipts/\{[^}]+\}/printable"), receipt["id"]))
    assert receipt["number"] in printable.get_data(as_text=True)
    left = call("get", bills_path, query_string={"status": "unpaid"}).json["items"]
    assert left == []
