"""Turn the database's refusals (unique, restrict) into the caller's 409s, inside the current unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError

from app.db import atomic
from app.errors import APIError
from app.extensions import db

UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"


@contextmanager
def refusals(
    *,
    unique: APIError | dict[str, APIError] | None = None,
    restrict: APIError | None = None,
) -> Iterator[None]:
    """Run the block (and a final flush) in a SAVEPOINT and map a refusal by the database to an APIError.

    ``unique`` is raised for a unique violation (or, as a dict, per constraint or index name; other names are
    re-raised); ``restrict`` for a foreign-key violation (a row still referenced, e.g. deleting an estate that has
    buildings). The database decides, so two concurrent requests cannot both pass a check made in Python.
    """
    try:
        with atomic(savepoint=True):
            yield
            db.session.flush()
    except IntegrityError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if state == UNIQUE_VIOLATION and unique is not None:
            error = unique.get(constraint) if isinstance(unique, dict) else unique
            if error is not None:
                raise error from None
        if state == FOREIGN_KEY_VIOLATION and restrict is not None:
            raise restrict from None
        raise


def flush_checked(
    *,
    unique: APIError | dict[str, APIError] | None = None,
    restrict: APIError | None = None,
) -> None:
    """Flush pending changes, mapping refusals as ``refusals`` does."""
    with refusals(unique=unique, restrict=restrict):
        pass
