"""Migrations: one head, built from zero (the test database is), and no drift from the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

from app.extensions import db as database


def test_there_is_a_single_head(app):
    config = current_app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_autogenerate_finds_no_drift(app):
    # The test database was built by `upgrade head` from an empty database (see conftest).
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), database.metadata)
    assert diff == []
