"""The fixtures isolate what they claim to isolate."""

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.db import atomic
from app.extensions import db as database

MARKER = "fixture-isolation-marker"


def test_db_fixture_lets_code_commit(db):
    with atomic():
        database.session.add(User(display_name=MARKER))
    # The commit released a savepoint; the row is visible in this test.
    assert database.session.scalar(sa.select(sa.func.count()).where(User.display_name == MARKER)) == 1


def test_db_fixture_rolled_back_the_previous_tests_commit(db):
    # Runs after the test above (same file, --dist loadfile keeps the order).
    assert database.session.scalar(sa.select(sa.func.count()).where(User.display_name == MARKER)) == 0


def test_committed_db_commits_for_real(committed_db):
    with atomic():
        database.session.add(User(display_name=MARKER + "-committed"))
    with database.engine.connect() as other:
        seen = other.execute(
            sa.text("SELECT count(*) FROM accounts_users WHERE display_name = :n"), {"n": MARKER + "-committed"}
        ).scalar()
    assert seen == 1


def test_committed_db_truncated_after_the_previous_test(committed_db):
    with database.engine.connect() as other:
        assert other.execute(sa.text("SELECT count(*) FROM accounts_users")).scalar() == 0


def test_redis_fixture_starts_empty_and_uses_a_database_claimed_by_this_run(redis):
    import fcntl

    from tests.conftest import redis_lock_file

    assert redis.dbsize() == 0
    redis.set("fixture-key", "1")
    kwargs = redis.connection_pool.connection_kwargs
    index = kwargs.get("db", 0)
    if index == 0:
        return  # an embedded server of this run's own
    # Another run, from any checkout on this machine, could not take this index while we hold it.
    lock = redis_lock_file(kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379), index)
    with lock.open("a") as other_run, pytest.raises(BlockingIOError):
        fcntl.flock(other_run, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_redis_fixture_flushed_what_the_previous_test_wrote(redis):
    assert redis.get("fixture-key") is None


def test_count_queries_counts_statements(db, count_queries):
    with count_queries() as queries:
        database.session.execute(sa.text("SELECT 1"))
        database.session.execute(sa.text("SELECT 2"))
    assert len(queries) == 2
