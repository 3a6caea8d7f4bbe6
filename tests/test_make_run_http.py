"""`make run`, for real: the embedded server in its own instance folder, driven over HTTP with only the operations
its /openapi.json publishes: dev-login → the mother's bills → pay (sandbox) → confirm → receipt."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT

DAUGHTER_PHONE = "+8619900000003"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("make-run-instance")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(LINLI_INSTANCE_PATH=str(instance), XDG_RUNTIME_DIR=str(instance / "run"))
    (instance / "run").mkdir(mode=0o700)
    log = (instance / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (instance / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not come up"
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        pid_file = Path(instance) / "pg" / "postmaster.pid"
        if pid_file.exists():  # the embedded PostgreSQL outlives `make run` on purpose; stop ours
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGINT)
        # The embedded Redis does not: it stops with the process that started it (a Ctrl-C left it running before).
        redis_pid = _embedded_redis_pid(instance)
        deadline = time.monotonic() + 10
        while redis_pid is not None and _alive(redis_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert redis_pid is None or not _alive(redis_pid), f"the embedded redis-server {redis_pid} outlived serve"


def _embedded_redis_pid(instance: Path) -> int | None:
    import json

    settings = instance / "redis.rdb.settings"
    if not settings.exists():
        return None
    pid_file = Path(json.loads(settings.read_text())["pidfile"])
    return int(pid_file.read_text()) if pid_file.exists() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone too.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


def test_a_newcomer_pays_the_demo_bills_over_http(server):
    spec_paths = requests.get(f"{server}/openapi.json", timeout=10).json()["paths"]

    def path(method: str, pattern: str) -> str:
        found = [p for p, item in spec_paths.items() if re.fullmatch(pattern, p) and method in item]
        assert len(found) == 1, (method, pattern, found)
        return found[0]

    def fill(template: str, *values: str) -> str:
        for value in values:
            template = re.sub(r"\{[^}]+\}", value, template, count=1)
        return template

    session = requests.Session()

    def call(method: str, url: str, **kwargs):
        response = session.request(method, server + url, timeout=30, **kwargs)
        assert response.status_code < 300, (url, response.status_code, response.text[:500])
        assert "王秀兰" not in response.text  # the mother's name is only ever shown masked
        return response.json()

    login = call("post", path("post", r".*/auth/dev-login"), json={"phone": DAUGHTER_PHONE})
    session.headers["Authorization"] = f"Bearer {login['access_token']}"
    mother = next(h for h in call("get", path("get", r"/api/v1/fees/households")) if h["via"] == "delegate")
    bills_path = fill(path("get", r"/api/v1/fees/households/\{[^}]+\}/bills"), mother["id"])
    bills = call("get", bills_path, params={"status": "unpaid"})["items"]
    assert bills
    order = call(
        "post",
        path("post", r"/api/v1/fees/orders"),
        json={"household_id": mother["id"], "bill_ids": [bill["id"] for bill in bills]},
    )
    payment = call(
        "post",
        path("post", r"/api/v1/payments"),
        json={"kind": order["payable"]["kind"], "ids": [order["payable"]["id"]], "channel": "sandbox"},
    )
    assert payment["amount_fen"] == order["amount_fen"]
    confirmed = call("post", fill(path("post", r"/api/v1/payments/\{[^}]+\}/sandbox/confirm"), payment["id"]), json={})
    assert confirmed["status"] == "paid"
    paid_order = call("get", fill(path("get", r"/api/v1/fees/orders/\{[^}]+\}"), order["id"]))
    receipt = call("get", fill(path("get", r"/api/v1/fees/receipts/\{[^}]+\}"), paid_order["receipt_id"]))
    assert receipt["total_fen"] == payment["amount_fen"]
    assert receipt["paid_for"] == "王**"
    assert call("get", bills_path, params={"status": "unpaid"})["items"] == []
