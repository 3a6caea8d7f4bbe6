"""Smart-locker tables: cabinets in courtyards, their cells, pickup/retrieval/courier codes, device nonces, faults.

A cell holds at most one order (``order_id``), and only in the states that hold one (a CHECK ties the two); cells are
taken for an order by a conditional UPDATE on ``state = 'free'`` under ``FOR UPDATE SKIP LOCKED`` (see
``lockers.reserve_cells``). Codes are stored as a keyed hash for lookup (unique among a cabinet's active codes) and
AES-GCM ciphertext so the resident (pickup) or the vendor (retrieval) can be shown theirs; never in plaintext.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id, updated_at
from app.extensions import db
from marketplace.models import StorageZone


class LockerStatus(enum.Enum):
    active = "active"  # 正常
    out_of_service = "out_of_service"  # 停用（失联、故障或人工停用）


class CellSize(enum.Enum):
    small = "S"
    medium = "M"
    large = "L"


#: How many items (order line units) a cell of each size takes; an order larger than one cell gets several.
CELL_CAPACITY = {CellSize.small: 4, CellSize.medium: 8, CellSize.large: 16}

#: Default temperature limit (°C) of a cell by zone; ambient cells have none.
ZONE_MAX_TEMP_C = {StorageZone.chilled: Decimal("8.0"), StorageZone.frozen: Decimal("-12.0"), StorageZone.ambient: None}


class CellState(enum.Enum):
    free = "free"  # 空闲
    reserved = "reserved"  # 已预留（配送中）
    occupied = "occupied"  # 已存件
    awaiting_retrieval = "awaiting_retrieval"  # 超时待商户取回
    out_of_service = "out_of_service"  # 停用


#: States in which a cell holds an order.
HOLDS_ORDER = (CellState.reserved, CellState.occupied, CellState.awaiting_retrieval)


class LockerCodeKind(enum.Enum):
    courier = "courier"  # 投递码：配送员存件
    pickup = "pickup"  # 取件码：居民取件
    retrieval = "retrieval"  # 取回码：商户取回超时未取的货


class Locker(db.Model):
    """A fresh-food cabinet (生鲜柜) in a courtyard; the community's staff manage it, its device signs its requests."""

    __tablename__ = "marketplace_lockers"
    __table_args__ = (
        sa.UniqueConstraint("estate_id", "name"),
        sa.ForeignKeyConstraint(
            ["estate_id", "community_id"],
            ["community_estates.id", "community_estates.community_id"],
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("wrong_codes >= 0", name="wrong_codes_not_negative"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    estate_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    #: Copied from the estate (kept right by the composite foreign key) for the community scope check.
    community_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    #: The device's HMAC secret, AES-GCM encrypted (purpose ``marketplace_lockers.secret``).
    secret_encrypted: Mapped[bytes] = mapped_column(sa.LargeBinary)
    status: Mapped[LockerStatus] = mapped_column(default=LockerStatus.active)
    status_note: Mapped[str | None] = mapped_column(sa.String(200))
    last_heartbeat_at: Mapped[datetime | None]
    #: Wrong pickup/retrieval codes entered since ``wrong_codes_since`` (one window per cabinet).
    wrong_codes: Mapped[int] = mapped_column(default=0, server_default="0")
    wrong_codes_since: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class LockerCell(db.Model):
    """One door of a cabinet: its size, temperature zone and state, and the order in it."""

    __tablename__ = "marketplace_locker_cells"
    __table_args__ = (
        sa.UniqueConstraint("locker_id", "number"),
        sa.CheckConstraint("number > 0", name="number_positive"),
        sa.CheckConstraint(
            "CASE state WHEN 'free' THEN order_id IS NULL WHEN 'out_of_service' THEN true"
            " ELSE order_id IS NOT NULL END",
            name="order_matches_state",
        ),
        sa.CheckConstraint("state <> 'reserved' OR reserved_until IS NOT NULL", name="reserved_has_deadline"),
        sa.Index("ix_marketplace_locker_cells_pick", "locker_id", "zone", "state"),
    )

    id: Mapped[intpk]
    locker_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_lockers.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(sa.SmallInteger)
    size: Mapped[CellSize]
    zone: Mapped[StorageZone]
    state: Mapped[CellState] = mapped_column(default=CellState.free)
    order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("marketplace_orders.id", ondelete="RESTRICT"), index=True
    )
    reserved_until: Mapped[datetime | None]
    deposited_at: Mapped[datetime | None]
    #: The resident collects before this; afterwards the cell awaits the vendor's retrieval.
    deadline_at: Mapped[datetime | None]
    #: Highest temperature allowed (°C); None for ambient cells.
    max_temp_c: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 1))
    temperature_c: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 1))
    temperature_at: Mapped[datetime | None]
    door_open: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    state_note: Mapped[str | None] = mapped_column(sa.String(200))
    updated_at: Mapped[updated_at]


class LockerCode(db.Model):
    """A code that opens an order's cells: the courier's (deposit), the resident's (pickup), the vendor's (retrieval).

    Active codes (neither used nor revoked) are unique per cabinet, and an order has at most one active code per kind.
    """

    __tablename__ = "marketplace_locker_codes"
    __table_args__ = (
        sa.Index(
            "uq_marketplace_locker_codes_active",
            "locker_id",
            "code_hash",
            unique=True,
            postgresql_where=sa.text("used_at IS NULL AND revoked_at IS NULL"),
        ),
        sa.Index(
            "uq_marketplace_locker_codes_one_per_kind",
            "order_id",
            "kind",
            unique=True,
            postgresql_where=sa.text("used_at IS NULL AND revoked_at IS NULL"),
        ),
    )

    id: Mapped[intpk]
    locker_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_lockers.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[LockerCodeKind]
    #: HMAC-SHA256 (``LOOKUP_HASH_KEY``) of ``<locker id>:<code>``.
    code_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    #: The code, AES-GCM encrypted (purpose ``marketplace_locker_codes.code``), to show its holder again.
    code_encrypted: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[created_at]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LockerNonce(db.Model):
    """A nonce a cabinet's device used; kept for the clock window, so a replayed request is refused."""

    __tablename__ = "marketplace_locker_nonces"

    locker_id: Mapped[int] = mapped_column(
        sa.ForeignKey("marketplace_lockers.id", ondelete="CASCADE"), primary_key=True
    )
    nonce: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seen_at: Mapped[created_at] = mapped_column(index=True)


class LockerFault(db.Model):
    """A fault a cabinet reported (door jammed, compressor, power …)."""

    __tablename__ = "marketplace_locker_faults"

    id: Mapped[intpk]
    locker_id: Mapped[int] = mapped_column(sa.ForeignKey("marketplace_lockers.id", ondelete="CASCADE"), index=True)
    cell_number: Mapped[int | None] = mapped_column(sa.SmallInteger)
    kind: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[str | None] = mapped_column(sa.String(500))
    reported_at: Mapped[created_at]
