"""Subscribe messages (issue #12): a notice to N residents, 30 % of whom hold a one-time grant for its WeChat
template, sent through the push jobs to a fake WeChat server that answers every ``subscribeMessage.send`` in 20 ms;
messages sent per second (target ≥ 300/s).

The fake is ``tests/fakes/wechat.py`` started in this process with a delay before each subscribe answer. The jobs
run in their own processes as in production: a relay (``flask relay``) and ``BENCH_PUSH_WORKERS`` (2) RQ
SimpleWorkers (``flask worker``), started here with the fake's address in ``WECHAT_API_BASE``. Run it while no other
worker serves the bench's Redis (``bench.run.main`` stops its own first): a worker without the WeChat settings
would fan the notice out without subscribe messages.

Measured from the delivery's creation to the last ``sent_at`` (both on the database clock): the fan-out, the relay
and the sends. Invariant: every grant holder gets exactly one message, each spends its grant, nobody else gets one.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.fakes.wechat import FakeWeChat

#: Recipients of the notice (capped by the dataset's residents with an account).
RECIPIENTS = int(os.environ.get("BENCH_SUBSCRIBE_RECIPIENTS", "10000"))
#: Push workers (RQ SimpleWorkers in their own processes), as the production config runs.
WORKERS = int(os.environ.get("BENCH_PUSH_WORKERS", "2"))


class SlowFakeWeChat(FakeWeChat):
    """The fake WeChat server, answering each subscribe message after ``latency`` seconds (outside its lock, so
    concurrent sends wait side by side as they would on WeChat's side)."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency

    def start(self) -> SlowFakeWeChat:
        super().start()
        # socketserver listens with a backlog of 5: 20 workers' threads connecting at once would overflow it and
        # wait for SYN retransmits (a second each), a cost of the fake, not of the push jobs.
        self.server.socket.listen(128)
        return self

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if path == "/cgi-bin/message/subscribe/send":
            time.sleep(self.latency)
        return super().answer(method, path, query, body)


def _prepare(engine: sa.Engine, recipients: int, share: float, template_id: str) -> tuple[list[int], list[int]]:
    """(resident ids, user ids holding one grant): every recipient has a WeChat openid; every tenth from the
    first ``share`` × 10 of each ten holds one grant for the template."""
    with engine.begin() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT r.id, r.user_id FROM accounts_residents r JOIN accounts_users u ON u.id = r.user_id"
                " WHERE u.is_active AND r.erased_at IS NULL ORDER BY r.id DESC LIMIT :n"
            ),
            {"n": recipients},
        ).all()
        users = [user for _resident, user in rows]
        holders = [user for number, user in enumerate(users) if number % 10 < round(share * 10)]
        connection.execute(
            sa.text(
                "UPDATE accounts_users SET wechat_openid = 'o_bench_' || id"
                " WHERE id = ANY(:ids) AND wechat_openid IS NULL"
            ),
            {"ids": users},
        )
        connection.execute(sa.text("DELETE FROM push_subscription_grants WHERE template_id = :t"), {"t": template_id})
        connection.execute(
            sa.text(
                "INSERT INTO push_subscription_grants (user_id, template_id, remaining, granted_total)"
                " SELECT u, :t, 1, 1 FROM unnest(CAST(:ids AS bigint[])) u"
            ),
            {"t": template_id, "ids": holders},
        )
    with engine.connect() as connection:
        # As the dataset generator does after loading: the grants table went from empty to thousands of rows at once,
        # and the fan-out's plan (the EXISTS on grants per recipient) on stale statistics took ten times as long.
        connection.execute(sa.text("ANALYZE accounts_users, push_subscription_grants"))
    return [resident for resident, _user in rows], holders


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (``/proc/<pid>/stat``), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _alive(worker) -> bool:
    """Whether a registered RQ worker is a live process on this machine (a killed one stays registered a while)."""
    if worker.hostname != socket.gethostname() or not worker.pid:
        return False
    try:
        os.kill(worker.pid, 0)
    except OSError:
        return False
    return True


def _wait_for_workers(connection, count: int, processes: list, timeout: float = 120) -> None:
    from rq import Worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("a push worker exited at start; see its log under instance/bench/run/")
        if len(Worker.all(connection=connection)) >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{count} push workers did not start within {timeout} s")


def subscribe_messages(
    results, app, engine: sa.Engine, *, recipients: int = RECIPIENTS, share: float = 0.3, latency: float = 0.02
) -> None:
    import redis
    from rq import Worker

    from app import push
    from app.db import atomic
    from bench import run
    from notices.services import EVENT, TEMPLATE_ID

    connection = redis.Redis.from_url(app.config["REDIS_URL"])
    if any(_alive(worker) for worker in Worker.all(connection=connection)):
        raise RuntimeError("other RQ workers serve the bench's Redis; stop them first (they lack the WeChat settings)")
    residents, holders = _prepare(engine, recipients, share, TEMPLATE_ID)
    fake = SlowFakeWeChat(latency).start()
    env = run.server_env(app.config["DATABASE_URL"], app.config["REDIS_URL"])
    env.update(WECHAT_MINI_APPID=fake.appid, WECHAT_MINI_SECRET=fake.secret, WECHAT_API_BASE=fake.base_url)
    flask = [str(run.BIN / "flask"), "--app", "bench.wsgi_bench"]
    processes = run.Processes()
    try:
        workers = [processes.start(f"push-worker-{n}", [*flask, "worker"], env) for n in range(1, WORKERS + 1)]
        relay = processes.start("push-relay", [*flask, "relay", "--poll", "0.5"], env)
        _wait_for_workers(connection, WORKERS, workers)
        # Where the CPU goes while the notice is sent: the job processes, and this one (the fake WeChat's threads).
        named = {f"push-worker-{n}": process for n, process in enumerate(workers, 1)} | {"push-relay": relay}
        cpu = {name: -cpu_seconds(process.pid) for name, process in named.items()}
        here_cpu = -time.process_time()
        with app.app_context(), atomic():
            receipt = push.send(
                EVENT,
                residents,
                {
                    "title": "基准订阅消息",
                    "summary": "订阅消息吞吐量测试",
                    "region": "基准区",
                    "published_at": "2026-12-03 09:00",
                    "notice_id": "bsubscribe000001",
                },
                source=("notice", f"bench-subscribe-{secrets.token_hex(4)}"),
            )
        deadline, state = time.monotonic() + 600, None
        while time.monotonic() < deadline:
            with engine.connect() as db:
                state = db.execute(
                    sa.text(
                        "SELECT d.created_at, d.fanned_out_at, count(m.id) AS messages,"
                        " count(m.id) FILTER (WHERE m.status = 'pending') AS pending,"
                        " count(m.id) FILTER (WHERE m.status = 'sent') AS sent,"
                        " min(m.sent_at) AS first_sent, max(m.sent_at) AS last_sent"
                        " FROM push_deliveries d LEFT JOIN push_messages m ON m.delivery_id = d.id"
                        "  AND m.channel = 'wechat'"
                        " WHERE d.public_id = :id GROUP BY d.id"
                    ),
                    {"id": receipt.delivery_id},
                ).one()
            if state.fanned_out_at is not None and not state.pending:
                break  # every message answered (or none made: a worker without the WeChat settings fanned out)
            time.sleep(0.2)
        cpu = {name: cpu[name] + cpu_seconds(process.pid) for name, process in named.items()}
        here_cpu += time.process_time()
    finally:
        processes.stop_all()
        fake.stop()
    with engine.connect() as db:
        outcomes = dict(
            db.execute(
                sa.text(
                    "SELECT coalesce(m.reason, m.status::text), count(*) FROM push_messages m"
                    " JOIN push_deliveries d ON d.id = m.delivery_id WHERE d.public_id = :id GROUP BY 1"
                ),
                {"id": receipt.delivery_id},
            ).all()
        )
        unspent = db.scalar(
            sa.text("SELECT count(*) FROM push_subscription_grants WHERE template_id = :t AND remaining <> 0"),
            {"t": TEMPLATE_ID},
        )
    received = [message["touser"] for message in fake.subscribe_messages]
    seconds = (state.last_sent - state.created_at).total_seconds() if state and state.last_sent else 0.0
    sending = (state.last_sent - state.first_sent).total_seconds() if state and state.last_sent else 0.0
    sent = state.sent if state else 0
    results.facts["subscribe"] = {
        "recipients": len(residents),
        "grants": len(holders),
        "latency_ms": latency * 1000,
        "workers": WORKERS,
        "messages": state.messages if state else 0,
        "sent": sent,
        "outcomes": outcomes,
        "seconds": seconds,
        "per_s": sent / seconds if seconds else 0.0,
        "sending_per_s": sent / sending if sending else 0.0,
        "cpu_s": {**cpu, "fake WeChat and bench": here_cpu},
        "jobs_cpu_ms_per_message": sum(cpu.values()) * 1000 / sent if sent else 0.0,
        "fake_cpu_ms_per_message": here_cpu * 1000 / sent if sent else 0.0,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "held": (
            sent == len(holders) == len(received) == len(set(received))
            and set(received) == {f"o_bench_{user}" for user in holders}
            and unspent == 0
        ),
    }
    run.log(
        f"subscribe messages: {len(residents):,} recipients, {len(holders):,} with a grant, {sent:,} sent "
        f"({outcomes}) in {seconds:.2f} s = {results.facts['subscribe']['per_s']:,.0f}/s "
        f"(first to last send {results.facts['subscribe']['sending_per_s']:,.0f}/s); WeChat answered "
        f"{len(received):,}, {WORKERS} workers, {latency * 1000:.0f} ms per send; CPU per message: jobs "
        f"{results.facts['subscribe']['jobs_cpu_ms_per_message']:.1f} ms, fake WeChat and this process "
        f"{results.facts['subscribe']['fake_cpu_ms_per_message']:.1f} ms"
    )
