"""Unbound extension instances; ``create_app`` binds each with ``init_app``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from flask_sqlalchemy import SQLAlchemy

from app.db import Base
from app.ratelimit import limiter
from app.redis_client import redis_client

if TYPE_CHECKING:
    from flask import Flask


class LazyMigrate:
    """Flask-Migrate, imported when a migration is first asked for: ``flask db …``, or ``flask_migrate.upgrade()``
    (``flask serve``, the tests, the bench). Alembic and Mako cost every web worker ~12 MB it never uses (#12).

    ``init_app`` puts a stand-in at ``app.extensions["migrate"]`` and a ``db`` command group on the CLI; the first
    look at either binds the real ``flask_migrate.Migrate``, which then replaces both.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options

    def init_app(self, app: Flask, db: SQLAlchemy, directory: str) -> None:
        app.extensions["migrate"] = _MigrateOnFirstUse(app, db, directory, self.options)
        app.cli.add_command(_MigrateCommands("db", help="Perform database migrations."))


class _MigrateOnFirstUse:
    """Stands at ``app.extensions["migrate"]`` until Flask-Migrate's functions read it (``.migrate``, ``.db``…)."""

    def __init__(self, app: Flask, db: SQLAlchemy, directory: str, options: dict[str, Any]) -> None:
        self._app, self._db, self._directory, self._options = app, db, directory, options

    def bind(self) -> Any:
        """Bind Flask-Migrate to the app (once) and return its ``app.extensions["migrate"]``."""
        current = self._app.extensions["migrate"]
        if current is not self:
            return current
        from flask_migrate import Migrate

        Migrate(self._app, self._db, directory=self._directory, **self._options)
        return self._app.extensions["migrate"]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends probing: not a migration
            raise AttributeError(name)
        return getattr(self.bind(), name)


class _MigrateCommands(click.Group):
    """``flask db``: Flask-Migrate's command group, imported when the CLI lists or runs one of its commands."""

    @staticmethod
    def _commands() -> click.Group:
        from flask_migrate.cli import db as commands

        return commands

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra):
        # The parent group runs ``ctx.command``: from here on, Flask-Migrate's own group parses and runs.
        return self._commands().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._commands().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._commands().get_command(ctx, cmd_name)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = LazyMigrate(compare_type=True)

__all__ = ["LazyMigrate", "db", "limiter", "migrate", "redis_client"]
