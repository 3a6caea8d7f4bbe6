"""Demo data: domains register seeders; each runs once per database (demo mode only)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, mapped_column

from app.db import atomic, created_at, intpk
from app.extensions import db

log = logging.getLogger(__name__)


class DemoSeedRun(db.Model):
    __tablename__ = "core_demo_seed_runs"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    applied_at: Mapped[created_at]


@dataclass(frozen=True)
class Seeder:
    name: str
    order: int
    func: Callable[[], None]


_seeders: dict[str, Seeder] = {}


def seeder(name: str, *, order: int = 100) -> Callable:
    """Register a demo seeder; lower ``order`` runs first (identity before the domains that use it)."""

    def decorator(func: Callable[[], None]) -> Callable[[], None]:
        _seeders[name] = Seeder(name, order, func)
        return func

    return decorator


def seed_demo() -> list[str]:
    """Run every seeder not yet applied, each in its own transaction; return the names applied now."""
    applied = []
    for item in sorted(_seeders.values(), key=lambda s: (s.order, s.name)):
        with atomic():
            claimed = db.session.execute(
                pg_insert(DemoSeedRun).values(name=item.name).on_conflict_do_nothing().returning(DemoSeedRun.id)
            ).scalar()
            if claimed is None:
                continue
            item.func()
            applied.append(item.name)
            log.info("demo seeder %s applied", item.name)
    return applied
