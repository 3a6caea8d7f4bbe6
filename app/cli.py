"""Command-line entry points: serve (embedded default), relay, worker, seed-demo, auth issue-token."""

from __future__ import annotations

import logging
import threading

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    app.cli.add_command(serve)
    app.cli.add_command(relay)
    app.cli.add_command(worker)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(auth_cli)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Migrate, load demo data once, and serve with the relay and a worker in-process (the embedded default)."""
    from flask_migrate import upgrade

    from app.demo import seed_demo
    from app.outbox import make_worker, run_relay

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()
    upgrade()
    if app.config["DEMO_MODE"]:
        applied = seed_demo()
        click.echo(f"demo data: {', '.join(applied) if applied else 'already loaded'}")
    stop = threading.Event()
    threading.Thread(target=run_relay, args=(app,), kwargs={"stop": stop}, name="relay", daemon=True).start()
    rq_worker = make_worker(app, in_thread=True)
    threading.Thread(target=rq_worker.work, name="worker", daemon=True).start()
    click.echo(f"Linli on http://{host}:{port}/docs  (database: {app.config['DATABASE_URL']})")
    try:
        # app.run() refuses to run inside a `flask` command; werkzeug's server is what it would start.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()


@click.command("relay")
@click.option("--poll", default=2.0, show_default=True, help="Seconds between passes when no NOTIFY arrives")
@with_appcontext
def relay(poll: float) -> None:
    """Push due outbox rows to RQ and fire periodic tasks (run one or more; they share rows safely)."""
    from app.outbox import run_relay

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_relay(current_app._get_current_object(), poll_seconds=poll)


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty")
@with_appcontext
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Run an RQ SimpleWorker on QUEUES (default: all) inside the app context."""
    from app.outbox import QUEUES, make_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    make_worker(current_app._get_current_object(), tuple(queues) or QUEUES).work(burst=burst)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load demo data (each seeder once)."""
    from app.demo import seed_demo

    if not current_app.config["DEMO_MODE"]:
        raise click.ClickException("DEMO_MODE is off")
    click.echo(", ".join(seed_demo()) or "already loaded")


@click.group("auth")
def auth_cli() -> None:
    """Operations on accounts and tokens."""


@auth_cli.command("issue-token")
@click.argument("user_public_id")
@click.option("--reason", required=True, help="Why a token is issued by hand (kept in the audit log)")
@click.option("--json", "as_json", is_flag=True, help="Print access and refresh token, session id and lifetimes")
@with_appcontext
def issue_token(user_public_id: str, reason: str, as_json: bool) -> None:
    """Start a session for a user and print its access token (audited; revoke it like any other session)."""
    import json

    from app.accounts.models import User
    from app.audit import record
    from app.auth.models import LoginMethod
    from app.auth.sessions import login
    from app.db import atomic
    from app.extensions import db

    with atomic():
        user = db.session.scalar(sa.select(User).where(User.public_id == user_public_id))
        if user is None:
            raise click.ClickException("no such user")
        tokens = login(user, LoginMethod.issued)
        record(
            "auth.issue_token",
            target=("user", user.public_id),
            after={"session": tokens.session.public_id},
            reason=reason,
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "access_token": tokens.access_token,
                    "expires_in": tokens.expires_in,
                    "refresh_token": tokens.refresh_token,
                    "session_id": tokens.session.public_id,
                }
            )
        )
    else:
        click.echo(tokens.access_token)


@auth_cli.command("set-password")
@click.argument("username")
@click.option("--user", "user_public_id", help="Give this existing account the login (default: create an account)")
@click.option("--display-name", help="Name shown for a new account")
@click.option("--reason", required=True, help="Why (kept in the audit log)")
@click.password_option(prompt="Password", help="At least 10 characters, not digits only")
@with_appcontext
def set_password_command(
    username: str, user_public_id: str | None, display_name: str | None, reason: str, password: str
) -> None:
    """Create a staff/vendor/provider login, or reset its password (revokes its sessions; audited)."""
    from app.accounts.models import User
    from app.auth.passwords import set_password
    from app.errors import APIError
    from app.extensions import db

    user = None
    if user_public_id:
        user = db.session.scalar(sa.select(User).where(User.public_id == user_public_id))
        if user is None:
            raise click.ClickException("no such user")
    try:
        user = set_password(username, password, user=user, display_name=display_name, reason=reason)
    except APIError as error:
        raise click.ClickException(error.message) from None
    click.echo(user.public_id)
