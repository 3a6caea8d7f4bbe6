"""A web worker imports no SDK that its requests do not use (#12: memory per worker): WeChat's, the payment
gateways', their HTTP client (requests), pypinyin and the migration tools are imported on first use. Checked in a
fresh interpreter that builds the app as the WSGI server does (``wsgi.py``, settings from the environment) and
serves one request."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT, TEST_INSTANCE, TEST_SECRETS, extra_app

#: Packages a worker must not have imported after start-up and a request that uses none of them.
ON_FIRST_USE = ("wechatpy", "alipay", "wechatpayv3", "requests", "alembic", "flask_migrate", "pypinyin")

SERVE_ONE_REQUEST = """
import gc, json, sys
from wsgi import app
response = app.test_client().get("/healthz")
names = json.loads(sys.argv[1])
imported = [n for n in names if n in sys.modules]
print(json.dumps({"status": response.status_code, "imported": imported, "frozen": gc.get_freeze_count()}))
"""


def test_a_worker_serving_a_request_has_imported_no_sdk_it_did_not_use(database_url, redis_url):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "REDIS_", "FLASK_"))}
    env.update(
        TEST_SECRETS,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        LINLI_INSTANCE_PATH=str(TEST_INSTANCE),
        DEMO_MODE="0",
        # Configured, as in production: configuration alone must not import the SDKs either.
        WECHAT_MINI_APPID="wx-lazy-imports",
        WECHAT_MINI_SECRET="secret",
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-c", SERVE_ONE_REQUEST, json.dumps(ON_FIRST_USE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert (answer["status"], answer["imported"]) == (200, [])
    # What start-up built is out of the collector's reach (a full collection of it paused requests ~200 ms).
    assert answer["frozen"] > 100_000


def test_flask_db_binds_flask_migrate_when_run(database_url, redis_url):
    with extra_app(database_url, redis_url) as fresh:  # a new app: nothing has bound Flask-Migrate to it yet
        assert fresh.cli.get_command(None, "db").get_short_help_str() == "Perform database migrations."
        listed = fresh.test_cli_runner().invoke(args=["db", "--help"])
        current = fresh.test_cli_runner().invoke(args=["db", "current"])
        bound = fresh.extensions["migrate"]
    assert listed.exit_code == 0, listed.output
    assert "upgrade" in listed.output
    assert "downgrade" in listed.output
    assert current.exit_code == 0, current.output
    assert type(bound).__module__ == "flask_migrate"
    assert bound.directory == str(ROOT / "migrations")
