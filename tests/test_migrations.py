"""Migrations: one head, built from zero (the test database is), and no drift from the models."""

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade

from app.extensions import db as database
from tests.conftest import empty_database, extra_app


def test_there_is_a_single_head(app):
    config = current_app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_autogenerate_finds_no_drift(app):
    # The test database was built by `upgrade head` from an empty database (see conftest).
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), database.metadata)
    assert diff == []


def test_the_push_chunks_migration_refuses_to_downgrade_while_an_audience_is_still_to_be_copied(
    server_urls, redis_url, worker_id, capfd
):
    """a4d2f6c8e1b3's downgrade: refused (and nothing changed) while a snapshot_audience job waits, since the code
    before it has no such job and the notice would reach nobody; once the job has run, the inbox gets its foreign
    keys back, and upgrading again restores the migration's schema. On a database of its own, built from zero."""
    name = f"linli_migrate_{worker_id}_{os.getpid()}"
    with empty_database(server_urls["database"], name) as url, extra_app(url, redis_url):
        upgrade(revision="a4d2f6c8e1b3")
        with database.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO core_outbox (job, args, queue, key, status, attempts)"
                    " VALUES ('app.push.fanout.snapshot_audience', '[1, \"notices.audience\", {}]', 'push',"
                    " 'push:audience:1', 'pending', 0)"
                )
            )

        def state(connection) -> tuple[str, set[str]]:
            revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
            keys = set(
                connection.scalars(sa.text("SELECT conname FROM pg_constraint WHERE conrelid = 'push_inbox'::regclass"))
            )
            return revision, keys

        with database.engine.connect() as connection:
            before = state(connection)
        with pytest.raises(SystemExit):  # flask-migrate logs the migration's error and exits
            downgrade(revision="e2b9c4d7f1a3")
        assert "1 notice audience(s) still to be copied" in capfd.readouterr().err
        with database.engine.connect() as connection:
            assert state(connection) == before  # nothing half-done
        assert before[0] == "a4d2f6c8e1b3"
        assert "fk_push_inbox_user_id_accounts_users" not in before[1]

        with database.engine.begin() as connection:
            connection.execute(sa.text("UPDATE core_outbox SET status = 'done' WHERE key = 'push:audience:1'"))
        downgrade(revision="e2b9c4d7f1a3")
        with database.engine.connect() as connection:
            revision, keys = state(connection)
        assert revision == "e2b9c4d7f1a3"
        assert {"fk_push_inbox_user_id_accounts_users", "fk_push_inbox_resident_id_accounts_residents"} <= keys
        upgrade(revision="a4d2f6c8e1b3")
        with database.engine.connect() as connection:
            assert state(connection) == before
