"""邻里圈 periodic work: expired hot-feed snapshots are deleted every hour."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from app import outbox
from app.db import utcnow
from app.extensions import db
from neighbours.models import HotSnapshot

log = logging.getLogger(__name__)


@outbox.periodic("neighbours.purge_hot_snapshots", "17 * * * *")
def purge_hot_snapshots(slot: str) -> None:
    """Delete hot-feed snapshots past their expiry (a reader holding such a cursor gets 410 and reloads)."""
    deleted = db.session.execute(sa.delete(HotSnapshot).where(HotSnapshot.expires_at <= utcnow())).rowcount
    log.info("purged %s expired hot-feed snapshots (slot %s)", deleted, slot)
