"""``make bench``: a fresh database, the dataset, the production server config chosen by measurement, ceilings
and scenarios in one run, and BENCHMARKS.md with every figure as a ratio to a ceiling measured in that run.

Settings (environment): ``BENCH_DATABASE_URL`` (a PostgreSQL server; the ``linli_bench`` database on it is
dropped and created, default the embedded server), ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``,
flushed), ``BENCH_SCALE`` (1.0 = the full dataset), ``BENCH_SECONDS`` (per wrk run, default 10),
``BENCH_CONNECTIONS`` (64), ``BENCH_OUTPUT`` (default ``BENCHMARKS.md``).
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
import sqlalchemy as sa

from bench import dataset
from bench.common import INSTANCE, ROOT, SECRET_KEY
from bench.report import server_score
from bench.rushes import activity_rush, locker_rush
from bench.subscribe import subscribe_messages

PYTHON = Path(sys.executable)
BIN = PYTHON.parent
LUA = ROOT / "bench" / "requests.lua"
WORK = INSTANCE / "run"
PORT = 8711
BASE = f"http://127.0.0.1:{PORT}"

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
#: Seconds of warm-up (8 connections, discarded) before each measured wrk run.
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
#: Browse requests a second while the fan-out runs (their latency is reported).
PROBE_PER_S = 20
OUTPUT = Path(os.environ.get("BENCH_OUTPUT", ROOT / "BENCHMARKS.md"))
#: For profiling one part: ``BENCH_ONLY=scenarios,flash_sale`` runs only those steps (names of the functions
#: below), on the production config, without choosing a config or writing BENCHMARKS.md; with
#: ``BENCH_PYSPY=1`` every server and worker process is sampled by py-spy into ``instance/bench/run/*.pyspy``.
ONLY = [step for step in os.environ.get("BENCH_ONLY", "").split(",") if step]
PYSPY = os.environ.get("BENCH_PYSPY", "")  # "1", or "gil": only samples holding the GIL (CPU, not waits)
#: ``BENCH_TRACEMALLOC=<frames>`` with BENCH_ONLY: the web workers trace their allocations and dump a snapshot at
#: start and after each step (``bench/tracing.py``), to see what a worker's memory grew by.
TRACEMALLOC = os.environ.get("BENCH_TRACEMALLOC", "")
#: ``BENCH_TIMING=1`` with BENCH_ONLY: the web workers time each request themselves and write percentiles per step.
TIMING = os.environ.get("BENCH_TIMING", "")

#: Server configs measured on the ceilings; the best for the DB-bound ceilings serves the scenarios.
SERVER_CONFIGS: dict[str, list[str]] = {
    "granian 2 workers × 2 blocking threads": [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(PORT),
        "--workers",
        "2",
        "--blocking-threads",
        "2",
        "--no-ws",
        "--log-level",
        "warning",
        "bench.wsgi_bench:app",
    ],
    "granian 2 workers × 8 blocking threads": [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(PORT),
        "--workers",
        "2",
        "--blocking-threads",
        "8",
        "--no-ws",
        "--log-level",
        "warning",
        "bench.wsgi_bench:app",
    ],
    "gunicorn sync, 2 workers": [
        str(BIN / "gunicorn"),
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{PORT}",
        "--log-level",
        "warning",
        "bench.wsgi_bench:app",
    ],
    "gunicorn gthread, 2 workers × 4 threads": [
        str(BIN / "gunicorn"),
        "-w",
        "2",
        "-k",
        "gthread",
        "--threads",
        "4",
        "-b",
        f"127.0.0.1:{PORT}",
        "--log-level",
        "warning",
        "bench.wsgi_bench:app",
    ],
}


@dataclass
class Load:
    """One wrk run."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    non_2xx: int
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Results:
    started: float = field(default_factory=time.time)
    facts: dict[str, Any] = field(default_factory=dict)
    servers: dict[str, dict[str, Load]] = field(default_factory=dict)
    chosen: str = ""
    loads: dict[str, Load] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- tools and servers --------------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    log("wrk is missing: installing Debian's package")
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*prefix, "apt-get", "install", "-y", "-q", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


class Processes:
    """Child processes of the run, each in its own process group, stopped by id at the end."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        logfile = open(WORK / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.children.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if process in self.children:
            self.children.remove(process)

    def stop_all(self) -> None:
        for process in list(reversed(self.children)):
            self.stop(process)


def wait_http(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; see {WORK}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else 0.0


# --- load -------------------------------------------------------------------------------------------------------


def write_requests(name: str, lines: list[tuple[str, ...]]) -> Path:
    path = WORK / f"{name}.tsv"
    path.write_text("".join("\t".join(line) + "\n" for line in lines), encoding="utf-8")
    return path


def wrk(
    name: str,
    lines: list[tuple[str, ...]],
    *,
    seconds: int = SECONDS,
    connections: int = CONNECTIONS,
    warmup: int | None = None,
) -> Load:
    path = write_requests(name, lines)
    warmup = WARMUP if warmup is None else warmup
    if warmup:  # first requests of a process import and connect lazily: not what a scenario measures
        subprocess.run(
            [WRK, "-t2", "-c8", f"-d{warmup}s", "-s", str(LUA), BASE, "--", str(path)], capture_output=True, check=True
        )
    argv = [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), BASE, "--", str(path)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    summary = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    errors = summary["connect"] + summary["read"] + summary["write"] + summary["timeout"]
    load = Load(
        name=name,
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        max_ms=summary["max_us"] / 1000,
        errors=errors,
        non_2xx=summary["status"],
        statuses=summary.get("statuses", {}),
    )
    log(
        f"{name}: {load.rps:,.0f} req/s, p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms, "
        f"errors {errors}, statuses {load.statuses}"
    )
    return load


def ceilings(results: Results, *, prefix: str = "") -> dict[str, Load]:
    return {
        "ok": wrk(f"{prefix}ceiling-ok", [("GET", "/bench/ok", "-", "-")]),
        "read": wrk(f"{prefix}ceiling-read", [("GET", "/bench/read", "-", "-")]),
        "write": wrk(f"{prefix}ceiling-write", [("POST", "/bench/write", "-", "{}")]),
    }


WRK = "wrk"


# --- database, dataset, tokens ----------------------------------------------------------------------------------


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REDIS_", "FLASK_", "BENCH_TRACEMALLOC", "BENCH_TIMING"))
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=SECRET_KEY,
        # As behind the production reverse proxy: wrk sends each resident's requests from its own address.
        TRUSTED_PROXY_HOPS="1",
        FIELD_ENCRYPTION_KEYS="b1:" + "A" * 43 + "=",
        LOOKUP_HASH_KEY="A" * 43 + "=",
        LINLI_INSTANCE_PATH=str(INSTANCE),
        DEMO_MODE="0",
        PYTHONPATH=str(ROOT),
    )
    return env


def issue_tokens(app, user_ids: list[int]) -> dict[int, str]:
    """Real access tokens (a session each, as ``flask auth issue-token`` makes) for the given accounts."""
    from app.accounts.models import User
    from app.auth.core import issue_access_token
    from app.db import atomic
    from app.extensions import db

    with app.app_context(), atomic():
        users = db.session.scalars(sa.select(User).where(User.id.in_(user_ids))).all()
        return {user.id: issue_access_token(user) for user in users}


def shoppers(engine: sa.Engine, count: int) -> list[tuple[int, str, str]]:
    """(user id, vendor public id, product public id) for ``count`` residents spread over the communities, each
    with a vendor serving their community and one of its products (varied per resident)."""
    sql = f"""
        SELECT r.user_id, v.public_id, p.public_id
          FROM (SELECT id, user_id FROM accounts_residents ORDER BY id DESC LIMIT {count}) r
          JOIN accounts_household_memberships m ON m.resident_id = r.id AND m.status = 'active'
          JOIN community_households h ON h.id = m.household_id
          CROSS JOIN LATERAL (SELECT vendor_id FROM marketplace_vendor_communities vc
                               WHERE vc.community_id = h.community_id ORDER BY vendor_id
                               OFFSET mod(r.id, 3) LIMIT 1) vc
          JOIN marketplace_vendors v ON v.id = vc.vendor_id
          CROSS JOIN LATERAL (SELECT public_id FROM marketplace_products p WHERE p.vendor_id = v.id ORDER BY id
                               OFFSET mod(r.id, 4) LIMIT 1) p
         ORDER BY r.id
    """
    with engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql)]


# --- scenarios --------------------------------------------------------------------------------------------------

API = "/api/v1"


def scenarios(results: Results, app, engine: sa.Engine, only: tuple[str, ...] = ("browse", "detail", "order")) -> None:
    users = shoppers(engine, 2000)
    tokens = issue_tokens(app, [user for user, _v, _p in users])
    rows = [(tokens[user], vendor, product) for user, vendor, product in users]
    if "browse" in only:
        results.loads["browse"] = wrk(
            "browse", [("GET", f"{API}/marketplace/products?limit=20", token, "-") for token, _v, _p in rows]
        )
    if "detail" in only:
        results.loads["detail"] = wrk(
            "detail", [("GET", f"{API}/marketplace/products/{product}", token, "-") for token, _v, product in rows]
        )
    if "order" in only:
        results.loads["order"] = wrk(
            "order",
            [
                (
                    "POST",
                    f"{API}/marketplace/orders",
                    token,
                    json.dumps({"vendor_id": vendor, "lines": [{"product_id": product, "quantity": 1}]}),
                )
                for token, vendor, product in rows
            ],
        )


def feeds(results: Results, app, engine: sa.Engine) -> None:
    """Reading feeds (after the fan-out, so every resident's inbox holds at least the fanned-out notice)."""
    users = shoppers(engine, 2000)
    tokens = list(issue_tokens(app, [user for user, _v, _p in users]).values())
    results.loads["notice feed"] = wrk("notice-feed", [("GET", f"{API}/notices/feed?limit=20", t, "-") for t in tokens])
    results.loads["inbox"] = wrk("inbox", [("GET", f"{API}/me/inbox?limit=20", t, "-") for t in tokens])
    with engine.connect() as connection:
        has_posts = connection.scalar(sa.text("SELECT to_regclass('neighbours_posts') IS NOT NULL"))
    if has_posts and _route_exists(app, f"{API}/neighbours/posts"):
        results.loads["neighbour feed"] = wrk(
            "neighbour-feed", [("GET", f"{API}/neighbours/posts?limit=20", t, "-") for t in tokens]
        )
    else:
        results.notes.append("Neighbour feed: skipped (no `neighbours` tables or no `GET /api/v1/neighbours/posts`).")


# --- payment notifications --------------------------------------------------------------------------------------

NOTIFICATIONS = 2000


def wechatpay_setup(engine: sa.Engine):
    """WeChat Pay settings with generated keys (``tests/fakes/wechatpay.py``), a sub-merchant per vendor payee and
    ``NOTIFICATIONS`` unpaid payments for the notifications to settle."""
    from tests.fakes.wechatpay import FakeWeChatPay, WeChatPayKeys

    keys = WeChatPayKeys.generate()
    settings = keys.write(INSTANCE / "wechatpay")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE payments_payees SET wechat_sub_mchid = '16' || lpad(id::text, 8, '0')")
        connection.exec_driver_sql(
            "INSERT INTO payments_payments (public_id, out_trade_no, kind, payer_user_id, payee_id, channel,"
            " amount_fen, status, expires_at)"
            " SELECT 'bpmt' || lpad(g::text, 12, '0'), 'BENCH' || lpad(g::text, 12, '0'), 'marketplace.market_order',"
            " g, 1 + g %% 50, 'wechat_jsapi', 1000, 'created', now() + interval '1 day'"
            " FROM generate_series(1, %s) g",
            (NOTIFICATIONS,),
        )
    return FakeWeChatPay(keys), settings


def payment_notifications(results: Results, fake) -> None:
    """Valid, signed TRANSACTION.SUCCESS notifications, one per unpaid payment (repeats, if wrk gets round the
    file, are WeChat Pay's retries of an already processed notification)."""
    success = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600))
    lines = []
    for number in range(1, NOTIFICATIONS + 1):
        resource = {
            "sp_appid": fake.keys.mini_appid,
            "sp_mchid": fake.keys.sp_mchid,
            "sub_mchid": "16" + str(1 + number % 50).rjust(8, "0"),
            "out_trade_no": "BENCH" + str(number).rjust(12, "0"),
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "transaction_id": "4200" + str(number).rjust(24, "0"),
            "bank_type": "OTHERS",
            "success_time": success,
            "payer": {"sp_openid": "o_bench"},
            "amount": {"total": 1000, "payer_total": 1000, "currency": "CNY", "payer_currency": "CNY"},
        }
        headers, body = fake.notification(
            resource, event_type="TRANSACTION.SUCCESS", original_type="transaction", summary="支付成功"
        )
        headers.pop("Content-Type", None)
        encoded = "\x1f".join(f"{name}\x1f{value}" for name, value in headers.items())
        lines.append(("POST", f"{API}/payments/notify/wechat", "-", body.decode(), encoded))
    results.loads["payment notification"] = wrk("payment-notification", lines, warmup=0)


# --- appointments -----------------------------------------------------------------------------------------------

BOOKING_DAYS = 12  # the scenario books days 1..12; the rush takes day 13 (centres open bookings 14 days ahead)


def govservice_setup(app, engine: sa.Engine) -> dict[int, Any]:
    """A service centre per community (``tests/govservice/fixtures.build_centre``: two published bookable items,
    two windows, sessions every day 9:00–12:00 in 30-minute slots), 500 places a slot (the most a session allows)."""
    from app.community.models import Region
    from app.extensions import db
    from tests.govservice.fixtures import build_centre

    with app.app_context():
        communities = db.session.scalars(sa.select(Region).where(Region.kind == "community").order_by(Region.id))
        return {
            community.id: {
                "item": built.item.public_id,
                "other": built.other.public_id,
                "window": built.window.public_id,
                "window_id": built.window.id,
            }
            for community in communities
            for built in [build_centre(community, capacity=500)]
        }


def _residents_of(engine: sa.Engine, count: int, community_id: int | None = None) -> list[tuple[int, int]]:
    """(user id, community id) of ``count`` residents, spread over the communities or in one."""
    where = "WHERE h.community_id = %s" if community_id is not None else ""
    sql = (
        "SELECT r.user_id, h.community_id FROM accounts_residents r"
        " JOIN accounts_household_memberships m ON m.resident_id = r.id AND m.status = 'active'"
        f" JOIN community_households h ON h.id = m.household_id {where} ORDER BY r.id DESC LIMIT %s"
    )
    params = (community_id, count) if community_id is not None else (count,)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql, params)]


def _slot(day: int, index: int) -> str:
    from datetime import date, datetime, timedelta
    from datetime import time as clock_time

    from app.api import SHANGHAI

    today = datetime.now(SHANGHAI).date()
    start = datetime.combine(date.fromordinal(today.toordinal() + day), clock_time(9), tzinfo=SHANGHAI)
    return (start + timedelta(minutes=30 * (index % 6))).isoformat()


def bookings(results: Results, app, engine: sa.Engine, centres: dict[int, Any]) -> None:
    """Residents book window appointments at their community's centre: every line a different (resident, item,
    day), so each request is a booking the rules allow (until wrk goes round the file)."""
    residents = _residents_of(engine, 2000)
    tokens = issue_tokens(app, [user for user, _c in residents])
    lines = []
    for day in range(1, BOOKING_DAYS + 1):
        for key in ("item", "other"):
            for user, community in residents:
                centre = centres[community]
                body = {"item_id": centre[key], "window_id": centre["window"], "starts_at": _slot(day, user)}
                lines.append(("POST", f"{API}/govservice/bookings", tokens[user], json.dumps(body)))
    results.loads["booking"] = wrk("booking", lines)


def appointment_rush(results: Results, app, engine: sa.Engine, centres: dict[int, Any], *, people: int = 500,
                     places: int = 50) -> None:  # fmt: skip
    community = min(centres)
    centre = centres[community]
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE govservice_sessions SET capacity = :places WHERE window_id = :window"),
            {"places": places, "window": centre["window_id"]},
        )
    residents = _residents_of(engine, people, community)
    tokens = issue_tokens(app, [user for user, _c in residents])
    body = {"item_id": centre["item"], "window_id": centre["window"], "starts_at": _slot(BOOKING_DAYS + 1, 0)}
    seconds, statuses = fire([("POST", f"{API}/govservice/bookings", token, body) for token in tokens.values()])
    with engine.connect() as connection:
        booked = connection.scalar(
            sa.text(
                "SELECT count(*) FROM govservice_bookings b JOIN govservice_windows w ON w.id = b.window_id"
                " WHERE w.id = :window AND b.starts_at = :starts"
            ),
            {"window": centre["window_id"], "starts": body["starts_at"]},
        )
    results.facts["rush"] = {
        "people": len(tokens), "places": places, "seconds": seconds, "statuses": statuses, "booked": booked,
        "held": booked == places and statuses.get(201, 0) == places,
    }  # fmt: skip
    log(f"appointment rush: {statuses} in {seconds:.2f} s, {booked} booked")


def _route_exists(app, path: str) -> bool:
    return any(rule.rule == path for rule in app.url_map.iter_rules())


# --- contention -------------------------------------------------------------------------------------------------


def fire(calls: list[tuple[str, str, str, dict]], workers: int = 32) -> tuple[float, dict[int, int]]:
    """Send every call once over ``workers`` keep-alive connections (``bench/burst.py``), each buyer from its own
    address with a fresh ``Idempotency-Key``: (seconds, count per status)."""
    from bench.burst import send_all
    from bench.rushes import count_statuses

    seconds, answers = send_all(
        BASE,
        [
            (
                method,
                path,
                {
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": os.urandom(8).hex(),
                    "X-Forwarded-For": f"10.200.{number // 256 % 256}.{number % 256}",  # one address per buyer
                },
                body,
            )
            for number, (method, path, token, body) in enumerate(calls)
        ],
        workers,
    )
    return seconds, count_statuses(answers)


def flash_sale(results: Results, app, engine: sa.Engine, *, buyers: int = 1000, units: int = 100) -> None:
    with engine.begin() as connection:
        product = connection.exec_driver_sql(
            "INSERT INTO marketplace_products (public_id, vendor_id, name, category, unit, price_fen, stock, on_shelf,"
            " storage_zone) VALUES ('bflashsale000001', 1, '秒杀鸡蛋', '蛋奶', '盒', 990, %s, true, 'ambient')"
            " RETURNING id",
            (units,),
        ).scalar_one()
        user_ids = list(
            connection.exec_driver_sql(
                "SELECT r.user_id FROM accounts_residents r"
                " JOIN accounts_household_memberships m ON m.resident_id = r.id AND m.status = 'active'"
                " JOIN community_households h ON h.id = m.household_id"
                " JOIN marketplace_vendor_communities vc ON vc.community_id = h.community_id AND vc.vendor_id = 1"
                " ORDER BY r.id LIMIT %s",
                (buyers,),
            ).scalars()
        )
    tokens = issue_tokens(app, user_ids)
    body = {"vendor_id": "bven000000000001", "lines": [{"product_id": "bflashsale000001", "quantity": 1}]}
    seconds, statuses = fire([("POST", f"{API}/marketplace/orders", token, body) for token in tokens.values()])
    with engine.connect() as connection:
        stock = connection.scalar(sa.text("SELECT stock FROM marketplace_products WHERE id = :id"), {"id": product})
        sold = connection.scalar(
            sa.text("SELECT coalesce(sum(quantity), 0) FROM marketplace_order_lines WHERE product_id = :id"),
            {"id": product},
        )
    results.facts["flash_sale"] = {
        "buyers": len(tokens),
        "units": units,
        "seconds": seconds,
        "statuses": statuses,
        "sold": sold,
        "stock_left": stock,
        "held": sold == units and stock == 0 and statuses.get(201, 0) == units,
    }
    log(f"flash sale: {statuses} in {seconds:.2f} s, sold {sold}, stock left {stock}")


# --- fan-out ----------------------------------------------------------------------------------------------------


def fan_out(results: Results, app, engine: sa.Engine) -> None:
    """A notice to every resident of the district, through the API and the job workers, against COPY into a copy
    of the inbox table with the same indexes; the browse latency while it runs."""
    (admin,) = issue_tokens(app, [dataset.ADMIN_USER_ID]).values()
    headers = {"Authorization": f"Bearer {admin}"}
    created = requests.post(
        f"{BASE}{API}/notices",
        json={"region_id": "bdistrict0000001", "channel": "announcement", "title": "基准通知", "body": "全区通知"},
        headers={**headers, "Idempotency-Key": os.urandom(8).hex()},
        timeout=60,
    )
    created.raise_for_status()
    notice = created.json()["id"]
    users = shoppers(engine, 2000)
    tokens = list(issue_tokens(app, [user for user, _v, _p in users]).values())
    background: dict[str, Load] = {}
    browse_lines = [("GET", f"{API}/marketplace/products?limit=20", t, "-") for t in tokens]
    stop_probe = threading.Event()
    browse = threading.Thread(
        target=lambda: background.setdefault("load", paced_probe(browse_lines, stop_probe)), daemon=True
    )
    browse.start()
    time.sleep(1)
    started = time.perf_counter()
    published = requests.post(f"{BASE}{API}/notices/{notice}/publish", json={}, headers=headers, timeout=60)
    publish_seconds = time.perf_counter() - started
    published.raise_for_status()
    with engine.connect() as connection:
        audience = connection.scalar(sa.text("SELECT count(*) FROM accounts_residents"))
    # Polled every 50 ms on the delivery's row alone (the last chunk job marks it fanned out); the inbox rows are
    # counted once at the end: counting 100,000 rows on every poll competed with the fan-out it timed.
    delivery, deadline = None, time.monotonic() + 600
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            delivery = connection.execute(
                sa.text(
                    "SELECT d.id, d.fanned_out_at IS NOT NULL FROM push_deliveries d"
                    " WHERE d.source_kind = 'notice' AND d.source_id = :id"
                ),
                {"id": notice},
            ).first()
            connection.rollback()  # a fresh snapshot each time
            if delivery is not None and delivery[1]:
                break
            time.sleep(0.05)
        fan_seconds = time.perf_counter() - started
        rows = connection.scalar(
            sa.text("SELECT count(*) FROM push_inbox WHERE delivery_id = :id"), {"id": delivery[0] if delivery else 0}
        )
    stop_probe.set()
    browse.join()
    copy_rows, copy_seconds = copy_ceiling(engine, rows or audience)
    results.facts["fan_out"] = {
        "audience": audience,
        "inbox_rows": rows,
        "publish_request_s": publish_seconds,
        "seconds": fan_seconds,
        "rows_per_s": rows / fan_seconds if fan_seconds else 0,
        "copy_rows": copy_rows,
        "copy_rows_per_s": copy_rows / copy_seconds,
        "browse_during": background.get("load"),
    }
    log(f"fan-out: {rows} inbox rows in {fan_seconds:.2f} s; COPY {copy_rows} rows in {copy_seconds:.2f} s")


def paced_probe(lines: list[tuple[str, ...]], stop: threading.Event) -> Load:
    """``PROBE_PER_S`` requests a second (one at a time, each with the next resident's token) until ``stop``: what
    a resident waits while the fan-out runs. Paced, not closed-loop: a wrk load would take the cores from the
    fan-out it is timing."""
    session = requests.Session()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    started = time.perf_counter()
    for number, (_method, path, token, _body) in enumerate(itertools.cycle(lines)):
        if stop.is_set():
            break
        stop.wait(max(0.0, started + number / PROBE_PER_S - time.perf_counter()))
        sent = time.perf_counter()
        try:
            status = session.get(f"{BASE}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        except requests.RequestException:
            errors += 1
            continue
        latencies.append((time.perf_counter() - sent) * 1000)
    latencies.sort()
    at = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0  # noqa: E731
    return Load(
        name="browse-during-fan-out",
        requests=len(latencies),
        seconds=time.perf_counter() - started,
        p50_ms=at(0.5),
        p99_ms=at(0.99),
        max_ms=latencies[-1] if latencies else 0.0,
        errors=errors,
        non_2xx=sum(count for status, count in statuses.items() if not status.startswith("2")),
        statuses=statuses,
    )


def copy_ceiling(engine: sa.Engine, count: int) -> tuple[int, float]:
    """COPY ``count`` rows into a copy of ``push_inbox`` with its indexes and defaults (not its foreign keys)."""
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS bench_inbox")
        connection.exec_driver_sql("CREATE TABLE bench_inbox (LIKE push_inbox INCLUDING ALL)")
        delivery = connection.scalar(sa.text("SELECT max(id) FROM push_deliveries")) or 1
    payload = "".join(f"{i}\t{i}\t{delivery}\tself\n" for i in range(1, count + 1)).encode()
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        started = time.perf_counter()
        with cursor.copy("COPY bench_inbox (user_id, resident_id, delivery_id, via) FROM STDIN") as copy:
            copy.write(payload)
        raw.driver_connection.commit()
        seconds = time.perf_counter() - started
    finally:
        raw.close()
    return count, seconds


# --- database and job ceilings ----------------------------------------------------------------------------------


def pgbench(results: Results, server_url: str) -> None:
    url = sa.engine.make_url(server_url)
    env = dict(os.environ, PGPASSWORD=url.password or "", PGUSER=url.username or "postgres")
    env["PGHOST"] = url.query.get("host") or url.host or "127.0.0.1"
    env["PGPORT"] = str(url.port or 5432)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql('DROP DATABASE IF EXISTS "linli_pgbench" WITH (FORCE)')
        connection.exec_driver_sql('CREATE DATABASE "linli_pgbench"')

    def run(*args: str) -> str:
        argv = ["pgbench", *args, "linli_pgbench"]
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout

    run("-i", "-q", "-s", "10")
    figures = {}
    for name, extra in (("tpcb-like", []), ("select-only", ["-S"])):
        out = run("-c", "8", "-j", "2", "-T", str(SECONDS), *extra)
        figures[name] = float(re.search(r"tps = ([\d.]+)", out).group(1))
        log(f"pgbench {name}: {figures[name]:,.0f} tps")
    with admin.connect() as connection:
        connection.exec_driver_sql('DROP DATABASE IF EXISTS "linli_pgbench" WITH (FORCE)')
    admin.dispose()
    results.facts["pgbench"] = figures


def jobs(results: Results, app) -> None:
    """RQ drain: outbox jobs and plain RQ jobs through an in-process SimpleWorker; then a SimpleWorker's memory
    over ``BENCH_WORKER_JOBS`` (100,000) jobs in a process of its own (``bench/worker_memory.py``)."""
    from bench import outbox_throughput

    count = int(os.environ.get("BENCH_WORKER_JOBS", "100000"))
    with app.app_context():
        connection = redis.Redis.from_url(app.config["REDIS_URL"])
        drained = outbox_throughput.JOBS
        outbox_seconds = outbox_throughput.run_outbox(app, connection)
        plain_seconds = outbox_throughput.run_plain_rq(app, connection)
    results.facts["rq"] = {
        "jobs": drained,
        "outbox_per_s": drained / outbox_seconds,
        "plain_per_s": drained / plain_seconds,
    }
    log(f"RQ drain: outbox {drained / outbox_seconds:,.0f} jobs/s, plain {drained / plain_seconds:,.0f} jobs/s")
    log(f"SimpleWorker memory over {count:,} jobs")
    argv = [str(PYTHON), "-m", "bench.worker_memory", "--database-url", app.config["DATABASE_URL"]]
    argv += ["--redis-url", app.config["REDIS_URL"], "--jobs", str(count)]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    run = json.loads(out.strip().splitlines()[-1])
    samples = run["samples"]
    warm = samples[0][1]
    results.facts["worker_memory"] = {
        "jobs": run["jobs"],
        "seconds": run["seconds"],
        "samples": samples,
        "after_first_1000_mb": warm,
        "after_all_mb": samples[-1][1],
        "growth": samples[-1][1] / warm - 1,
    }
    log(f"SimpleWorker RSS: {warm:.1f} MB after 1,000 jobs, {samples[-1][1]:.1f} MB after {run['jobs']:,}")


# --- the run ----------------------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    def out(*argv: str) -> str:
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (result.stdout or result.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    from importlib.metadata import version

    packages = ("flask", "sqlalchemy", "marshmallow", "psycopg", "rq", "redis", "granian", "gunicorn")
    facts = {name: version(name) for name in packages}
    facts.update(
        python=platform.python_version(),
        wrk=out(WRK, "-v"),
        pgbench=out("pgbench", "--version"),
        redis_server=out("redis-server", "--version"),
    )
    return facts


def machine() -> dict[str, str]:
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    memory = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    return {
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "cores": str(os.cpu_count()),
        "memory_gb": f"{int(memory.group(1)) / 1024 / 1024:.1f}" if memory else "?",
        "kernel": platform.release(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def prepare(results: Results):
    from bench.ceilings import SCHEMA_SQL
    from bench.common import bench_app

    log("fresh database linli_bench, migrations")
    app = bench_app()
    engine = sa.create_engine(app.config["DATABASE_URL"])
    log(f"dataset at scale {SCALE}")
    started = time.perf_counter()
    timings = dataset.generate(engine, scale=SCALE)
    results.facts["dataset"] = {
        "seconds": time.perf_counter() - started,
        "sizes": dataset.Sizes.at(SCALE).__dict__,
        "posts": int(timings.pop("posts_generated")),
        "steps": timings,
    }
    with engine.begin() as connection:
        for statement in SCHEMA_SQL.split(";\n"):
            if statement.strip():
                connection.exec_driver_sql(statement)
        with_version = connection.exec_driver_sql("SHOW server_version").scalar()
    results.facts["postgresql"] = with_version
    redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
    return app, engine


def choose_server(results: Results, processes: Processes, env: dict[str, str], app, engine: sa.Engine) -> str:
    """Each config serves the three ceilings and the listing browse; the best geometric mean of the two
    database-bound ceilings and browse wins. Browse is in the score because the naive endpoints wait on
    PostgreSQL, where more threads help, while the app's hottest path is answered from caches in Python, where
    they contend for the GIL: on the ceilings alone, granian 2 × 8 won some runs by noise and then served browse at
    ~1,700 req/s against ~2,800 for 2 × 2."""
    users = shoppers(engine, 2000)
    tokens = issue_tokens(app, [user for user, _v, _p in users])
    browse = [("GET", f"{API}/marketplace/products?limit=20", tokens[user], "-") for user, _v, _p in users]
    for name, argv in SERVER_CONFIGS.items():
        log(f"server config: {name}")
        server = processes.start("server", argv, env)
        try:
            wait_http(f"{BASE}/bench/ok", server)
            prefix = re.sub(r"\W+", "-", name) + "-"
            results.servers[name] = ceilings(results, prefix=prefix) | {"browse": wrk(f"{prefix}browse", browse)}
        finally:
            processes.stop(server)
    return max(results.servers, key=lambda name: server_score(results.servers[name]))


def attempt(results: Results, step, *args) -> Any:
    """Run one step; a failure is logged and noted in the report, and the run goes on with the next step."""
    try:
        return step(*args)
    except Exception as error:  # one failing step must not lose the other steps' figures
        log(f"{step.__name__} failed: {error!r}")
        results.notes.append(f"`{step.__name__}` failed: `{error!r}` (see `instance/bench/run/*.log`).")


def only(steps: list[str]) -> None:
    """Run only some steps on the production config (see ``ONLY``), for profiling; prints, writes nothing."""
    results = Results()
    app, engine = prepare(results)
    env = server_env(app.config["DATABASE_URL"], app.config["REDIS_URL"])
    fake, wechatpay = wechatpay_setup(engine)
    env.update(wechatpay)
    for old in [*WORK.glob("tracemalloc-*"), *WORK.glob("timing-*"), *WORK.glob("trace-label")]:
        old.unlink()
    processes = Processes()
    samplers: list[subprocess.Popen] = []
    try:
        traced = {"BENCH_TRACEMALLOC": TRACEMALLOC} if TRACEMALLOC else {}
        traced |= {"BENCH_TIMING": TIMING} if TIMING else {}
        server = processes.start("server", SERVER_CONFIGS["granian 2 workers × 2 blocking threads"], env | traced)
        workers = [
            processes.start(f"worker-{n}", [str(BIN / "flask"), "--app", "bench.wsgi_bench", "worker"], env)
            for n in (1, 2)
        ]
        relay = processes.start(
            "relay", [str(BIN / "flask"), "--app", "bench.wsgi_bench", "relay", "--poll", "0.5"], env
        )
        wait_http(f"{BASE}/bench/ok", server)
        trace_label("started")
        for name, load in ceilings(results).items():
            results.loads[f"ceiling {name}"] = load
        trace_label("ceilings")
        if PYSPY:
            pids = {f"web-{pid}": pid for pid in descendants(server.pid)}
            pids.update({f"worker-{n}": w.pid for n, w in enumerate(workers, 1)}, relay=relay.pid)
            for name, pid in pids.items():
                argv = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
                argv += ["--gil"] if PYSPY == "gil" else []
                samplers.append(subprocess.Popen([*argv, "-o", str(WORK / f"{name}.pyspy")], stdout=subprocess.DEVNULL))
        steps = {
            "scenarios": (scenarios, results, app, engine),
            "browse": (scenarios, results, app, engine, ("browse",)),
            "detail": (scenarios, results, app, engine, ("detail",)),
            "order": (scenarios, results, app, engine, ("order",)),
            "payment_notifications": (payment_notifications, results, fake),
            "flash_sale": (flash_sale, results, app, engine),
            "locker_rush": (locker_rush, results, app, engine),
            "activity_rush": (activity_rush, results, app, engine),
            "fan_out": (fan_out, results, app, engine),
            "feeds": (feeds, results, app, engine),
        }
        for step in steps_wanted(steps, ONLY):
            before = cpu_by_command()
            attempt(results, *steps[step])
            after = cpu_by_command()
            spent = {name: after[name] - before.get(name, 0.0) for name in after}
            log(
                f"{step}: CPU seconds by command: "
                + ", ".join(
                    f"{name} {seconds:.1f}"
                    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1])
                    if seconds >= 0.1
                )
            )
            log(f"{step}: web RSS MB after it: " + ", ".join(f"{rss_mb(p):.0f}" for p in descendants(server.pid)))
            trace_label(step)
    finally:
        for sampler in samplers:
            sampler.send_signal(signal.SIGINT)
        for sampler in samplers:
            sampler.wait(30)
        processes.stop_all()
    log(f"notes: {results.notes}; facts: {json.dumps(results.facts, default=str)[:2000]}")


def trace_label(label: str) -> None:
    """With BENCH_TRACEMALLOC or BENCH_TIMING, have the web workers dump what they traced under ``label``
    (``bench/tracing.py``)."""
    if TRACEMALLOC or TIMING:
        from bench.tracing import LABEL

        LABEL.write_text(label)
        time.sleep(5 if label == "started" else 2)


def cpu_by_command() -> dict[str, float]:
    """CPU seconds (user + system) of every process on the machine, summed by command (postgres backends by
    what they serve is too fine: by their first word)."""
    ticks = os.sysconf("SC_CLK_TCK")
    spent: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        words = [w.decode(errors="replace") for w in cmdline if w]
        name = text[text.index("(") + 1 : text.rindex(")")]
        if words and "python" in Path(words[0]).name:
            name = " ".join(Path(w).name for w in words[1:4])
        elif name.startswith("postgres") and words:
            name = "postgres backend" if "127.0.0.1" in words[0] or "[local]" in words[0] else words[0][:40]
        spent[name] = spent.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return spent


def steps_wanted(steps: dict, wanted: list[str]) -> list[str]:
    unknown = set(wanted) - set(steps)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown steps {sorted(unknown)}; known: {sorted(steps)}")
    return wanted


def main() -> None:
    global WRK
    if ONLY:
        WORK.mkdir(parents=True, exist_ok=True)
        WRK = ensure_wrk()
        return only(ONLY)
    WORK.mkdir(parents=True, exist_ok=True)
    WRK = ensure_wrk()
    results = Results()
    results.facts["machine"] = machine()
    results.facts["versions"] = versions()
    app, engine = prepare(results)
    env = server_env(app.config["DATABASE_URL"], app.config["REDIS_URL"])
    fake, wechatpay = wechatpay_setup(engine)
    env.update(wechatpay)
    processes = Processes()
    try:
        results.chosen = choose_server(results, processes, env, app, engine)
        log(f"chosen: {results.chosen}")
        server = processes.start("server", SERVER_CONFIGS[results.chosen], env)
        for number in (1, 2):
            processes.start(f"worker-{number}", [str(BIN / "flask"), "--app", "bench.wsgi_bench", "worker"], env)
        processes.start("relay", [str(BIN / "flask"), "--app", "bench.wsgi_bench", "relay", "--poll", "0.5"], env)
        wait_http(f"{BASE}/bench/ok", server)
        for name, load in ceilings(results).items():
            results.loads[f"ceiling {name}"] = load
        attempt(results, scenarios, results, app, engine)
        attempt(results, payment_notifications, results, fake)
        attempt(results, flash_sale, results, app, engine)
        attempt(results, locker_rush, results, app, engine)
        attempt(results, activity_rush, results, app, engine)
        centres = attempt(results, govservice_setup, app, engine)
        if centres:
            attempt(results, bookings, results, app, engine, centres)
            attempt(results, appointment_rush, results, app, engine, centres)
        attempt(results, fan_out, results, app, engine)
        attempt(results, feeds, results, app, engine)
        results.facts["web_rss_mb"] = {pid: rss_mb(pid) for pid in descendants(server.pid)} or {
            server.pid: rss_mb(server.pid)
        }
        results.facts["server_main_rss_mb"] = rss_mb(server.pid)
    finally:
        processes.stop_all()
    attempt(results, subscribe_messages, results, app, engine)
    copy_rows, copy_seconds = copy_ceiling(engine, int(results.facts.get("fan_out", {}).get("copy_rows") or 100_000))
    results.facts["copy_rows_per_s"] = copy_rows / copy_seconds
    attempt(results, pgbench, results, os.environ.get("BENCH_DATABASE_URL") or app.config["DATABASE_URL"])
    attempt(results, jobs, results, app)
    results.facts["machine"]["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    from bench.report import write

    write(results, OUTPUT, seconds=SECONDS, connections=CONNECTIONS, scale=SCALE)
    log(f"wrote {OUTPUT}")
