"""Smart lockers: cabinets and cells managed by community staff, codes, and cell reservation at dispatch.

Reserving never gives one cell to two orders. Cells are taken one at a time with::

    SELECT … FROM marketplace_locker_cells WHERE locker_id = :l AND zone = :z AND state = 'free'
    ORDER BY <smallest cell that fits first> LIMIT 1 FOR UPDATE SKIP LOCKED

and then ``UPDATE … SET state = 'reserved', order_id = :o WHERE id = :id AND state = 'free'``. A cell another
dispatch holds is skipped rather than waited for, and the row lock plus the ``state = 'free'`` re-check make a second
taker impossible; the cell's single ``order_id`` column (tied to the state by a CHECK) is the reservation itself.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import outbox
from app.accounts.crypto import decrypt, encrypt, lookup_hash
from app.accounts.resident_models import HouseholdMembership, MembershipStatus
from app.api import keyset_page
from app.auth.scopes import authorize, community_ids_for, register_action
from app.community.errors import EstateNotFound
from app.community.models import Building, Estate, Household
from app.community.services import get_estate
from app.db import atomic, utcnow
from app.extensions import db
from marketplace.locker_models import (
    CELL_CAPACITY,
    HOLDS_ORDER,
    ZONE_MAX_TEMP_C,
    CellSize,
    CellState,
    Locker,
    LockerCell,
    LockerCode,
    LockerCodeKind,
    LockerStatus,
)
from marketplace.lockers_errors import LockerExists, LockerNotFound
from marketplace.models import Order, OrderLine, StorageZone

log = logging.getLogger(__name__)

SECRET_PURPOSE = "marketplace_lockers.secret"  # noqa: S105  (an encryption purpose label, not a secret)
CODE_PURPOSE = "marketplace_locker_codes.code"
#: Colder zones first: an order goes into the zone of its coldest line.
ZONE_ORDER = (StorageZone.frozen, StorageZone.chilled, StorageZone.ambient)
ZONE_LABELS = {StorageZone.ambient: "常温", StorageZone.chilled: "冷藏", StorageZone.frozen: "冷冻"}


def setting(name: str) -> int:
    return int(current_app.config[name])


# --- cabinets (community staff) --------------------------------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def locker_secret(locker: Locker) -> str:
    return decrypt(locker.secret_encrypted, purpose=SECRET_PURPOSE)


def get_locker(public_id: str, *, lock: bool = False) -> Locker:
    query = sa.select(Locker).where(Locker.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    locker = db.session.scalar(query)
    if locker is None:
        raise LockerNotFound()
    return locker


def locker_for(user, public_id: str, action: str, *, lock: bool = False) -> Locker:
    """The cabinet, if ``user`` may perform ``action`` on it (staff of its community; others 404)."""
    locker = get_locker(public_id, lock=lock)
    authorize(user, action, locker, not_found=LockerNotFound)
    return locker


def create_locker(user, data: dict[str, Any]) -> Locker:
    """Install a cabinet in a courtyard (estate) with its cells numbered from 1; the device secret is returned once.

    :raises LockerExists: the courtyard has a cabinet of that name.
    """
    with atomic():
        estate = get_estate(data["estate_id"])
        authorize(user, "marketplace.locker.manage", estate, not_found=EstateNotFound)
        taken = db.session.scalar(
            sa.select(Locker.id).where(Locker.estate_id == estate.id, Locker.name == data["name"])
        )
        if taken is not None:
            raise LockerExists(details={"name": data["name"]})
        secret = new_secret()
        locker = Locker(
            estate_id=estate.id,
            community_id=estate.community_id,
            name=data["name"],
            secret_encrypted=encrypt(secret, purpose=SECRET_PURPOSE),
        )
        db.session.add(locker)
        db.session.flush()
        add_cells(locker, data["cells"])
        locker.secret = secret
        log.info("locker %s installed in estate %s by user %s", locker.id, estate.id, user.id)
        return locker


def add_cells(locker: Locker, groups: list[dict[str, Any]]) -> None:
    """Add cells in groups of ``{size, zone, count}``, numbered on from the cabinet's highest number."""
    number = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(LockerCell.number), 0)).where(LockerCell.locker_id == locker.id)
    )
    rows = []
    for group in groups:
        zone = StorageZone(group["zone"])
        for _ in range(group["count"]):
            number += 1
            rows.append(
                {
                    "locker_id": locker.id,
                    "number": number,
                    "size": CellSize(group["size"]),
                    "zone": zone,
                    "state": CellState.free,
                    "max_temp_c": group.get("max_temp_c", ZONE_MAX_TEMP_C[zone]),
                }
            )
    if rows:
        db.session.execute(sa.insert(LockerCell), rows)


def rotate_secret(user, public_id: str) -> Locker:
    """Give the cabinet a new device secret (the old one stops working at once); returned once."""
    with atomic():
        locker = locker_for(user, public_id, "marketplace.locker.manage", lock=True)
        secret = new_secret()
        locker.secret_encrypted = encrypt(secret, purpose=SECRET_PURPOSE)
        db.session.flush()
        locker.secret = secret
        log.info("locker %s secret rotated by user %s", locker.id, user.id)
        return locker


def restore_locker(user, public_id: str, note: str | None) -> Locker:
    """Put a cabinet back in service; its empty out-of-service cells become free (cells still holding an order stay
    out of service until the order is taken out)."""
    with atomic():
        locker = locker_for(user, public_id, "marketplace.locker.manage", lock=True)
        locker.status, locker.status_note, locker.last_heartbeat_at = LockerStatus.active, note, utcnow()
        db.session.execute(
            sa.update(LockerCell)
            .where(
                LockerCell.locker_id == locker.id,
                LockerCell.state == CellState.out_of_service,
                LockerCell.order_id.is_(None),
            )
            .values(state=CellState.free, state_note=None)
            .execution_options(synchronize_session=False)
        )
        db.session.flush()
        log.info("locker %s restored by user %s", locker.id, user.id)
        return locker


def staff_lockers(user, *, estate_public_id: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """Cabinets in the communities where the caller may read them, newest first."""
    communities = community_ids_for(user, "marketplace.locker.read")
    query = sa.select(Locker)
    if communities is not None:
        query = query.where(Locker.community_id.in_(communities or [-1]))
    if estate_public_id:
        query = query.join(Estate, Estate.id == Locker.estate_id).where(Estate.public_id == estate_public_id)
    page = keyset_page(db.session, query, [Locker.id], cursor=cursor, limit=limit)
    attach_free_counts(page["items"])
    return page


def attach_free_counts(lockers: list[Locker]) -> None:
    """``locker.free_cells = {zone: n}`` for a page of cabinets, in one statement."""
    counts: dict[int, dict[str, int]] = {locker.id: {} for locker in lockers}
    if lockers:
        rows = db.session.execute(
            sa.select(LockerCell.locker_id, LockerCell.zone, sa.func.count())
            .where(LockerCell.locker_id.in_(counts), LockerCell.state == CellState.free)
            .group_by(LockerCell.locker_id, LockerCell.zone)
        ).all()
        for locker_id, zone, count in rows:
            counts[locker_id][zone.value] = count
    for locker in lockers:
        locker.free_cells = {zone.value: counts[locker.id].get(zone.value, 0) for zone in StorageZone}


def locker_detail(locker: Locker) -> Locker:
    """Load the cabinet's cells (one statement) for the staff view."""
    locker.cells = list(
        db.session.scalars(sa.select(LockerCell).where(LockerCell.locker_id == locker.id).order_by(LockerCell.number))
    )
    attach_free_counts([locker])
    return locker


# --- vendors' view -------------------------------------------------------------------------------------------------


def vendor_lockers(user, vendor_public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Active cabinets in the communities a vendor serves, with free cells per zone (its staff plan deliveries)."""
    from marketplace.models import VendorCommunity
    from marketplace.vendors import vendor_for

    vendor = vendor_for(user, vendor_public_id, "marketplace.order.read")
    served = sa.select(VendorCommunity.community_id).where(VendorCommunity.vendor_id == vendor.id)
    query = sa.select(Locker).where(Locker.community_id.in_(served))
    page = keyset_page(db.session, query, [Locker.id], cursor=cursor, limit=limit)
    attach_free_counts(page["items"])
    return page


def vendor_locker(user, vendor_public_id: str, locker_public_id: str) -> Locker:
    """One cabinet as a vendor's staff see it: 404 unless it stands in a community the vendor serves; cells show the
    vendor's own orders only."""
    from marketplace.models import VendorCommunity
    from marketplace.vendors import vendor_for

    vendor = vendor_for(user, vendor_public_id, "marketplace.order.read")
    locker = db.session.scalar(
        sa.select(Locker).where(
            Locker.public_id == locker_public_id,
            Locker.community_id.in_(
                sa.select(VendorCommunity.community_id).where(VendorCommunity.vendor_id == vendor.id)
            ),
        )
    )
    if locker is None:
        raise LockerNotFound()
    rows = db.session.execute(
        sa.select(LockerCell, Order.public_id, Order.vendor_id)
        .outerjoin(Order, Order.id == LockerCell.order_id)
        .where(LockerCell.locker_id == locker.id)
        .order_by(LockerCell.number)
    ).all()
    for cell, order_public_id, vendor_id in rows:
        cell.order_public_id = order_public_id if vendor_id == vendor.id else None
    locker.cells = [row[0] for row in rows]
    attach_free_counts([locker])
    return locker


# --- codes ---------------------------------------------------------------------------------------------------------


def code_hash(locker_id: int, code: str) -> bytes:
    return lookup_hash(f"{locker_id}:{code}", purpose=CODE_PURPOSE)


def issue_code(locker_id: int, order_id: int, kind: LockerCodeKind) -> str:
    """A fresh 6-digit code for the order's cells, unique among the cabinet's active codes (the partial unique index
    refuses a clash and another code is drawn); an earlier active code of the same kind is revoked."""
    revoke_codes(order_id, kind)
    for _ in range(50):
        code = f"{secrets.randbelow(1_000_000):06d}"
        inserted = db.session.execute(
            pg_insert(LockerCode)
            .values(
                locker_id=locker_id,
                order_id=order_id,
                kind=kind,
                code_hash=code_hash(locker_id, code),
                code_encrypted=encrypt(code, purpose=CODE_PURPOSE),
            )
            .on_conflict_do_nothing()
            .returning(LockerCode.id)
        ).scalar()
        if inserted is not None:
            return code
    raise RuntimeError(f"no free {kind.value} code in locker {locker_id} after 50 draws")


def revoke_codes(order_id: int, *kinds: LockerCodeKind) -> None:
    db.session.execute(
        sa.update(LockerCode)
        .where(
            LockerCode.order_id == order_id,
            LockerCode.kind.in_(kinds),
            LockerCode.used_at.is_(None),
            LockerCode.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def active_code(order_id: int, kind: LockerCodeKind) -> str | None:
    """The order's active code of ``kind``, decrypted for its holder (None when there is none)."""
    blob = db.session.scalar(
        sa.select(LockerCode.code_encrypted).where(
            LockerCode.order_id == order_id,
            LockerCode.kind == kind,
            LockerCode.used_at.is_(None),
            LockerCode.revoked_at.is_(None),
        )
    )
    return decrypt(blob, purpose=CODE_PURPOSE) if blob is not None else None


# --- reservation at dispatch ----------------------------------------------------------------------------------------


def order_zone_and_units(order_id: int) -> tuple[StorageZone, int]:
    """The zone of the order's coldest line, and how many items it holds."""
    rows = db.session.execute(
        sa.select(OrderLine.storage_zone, OrderLine.quantity).where(OrderLine.order_id == order_id)
    ).all()
    zones = {zone for zone, _quantity in rows}
    zone = next((z for z in ZONE_ORDER if z in zones), StorageZone.ambient)
    return zone, sum(quantity for _zone, quantity in rows)


def courtyard_lockers(order: Order) -> list[int]:
    """Active cabinets in the resident's own courtyard(s) in the order's community, oldest first."""
    estates = (
        sa.select(Building.estate_id)
        .join(Household, Household.building_id == Building.id)
        .join(HouseholdMembership, HouseholdMembership.household_id == Household.id)
        .where(
            HouseholdMembership.resident_id == order.resident_id,
            HouseholdMembership.status == MembershipStatus.active,
            Household.community_id == order.community_id,
        )
    )
    return list(
        db.session.scalars(
            sa.select(Locker.id)
            .where(Locker.estate_id.in_(estates), Locker.status == LockerStatus.active)
            .order_by(Locker.id)
        )
    )


def _capacity():
    return sa.case(*((LockerCell.size == size, capacity) for size, capacity in CELL_CAPACITY.items()))


def _take_cell(locker_id: int, zone: StorageZone, remaining: int, taken: list[int]) -> tuple[int, int] | None:
    """Lock one free cell (the smallest that holds ``remaining`` items, else the largest), skipping locked ones."""
    capacity = _capacity()
    fits = capacity >= remaining
    row = db.session.execute(
        sa.select(LockerCell.id, capacity)
        .where(
            LockerCell.locker_id == locker_id,
            LockerCell.zone == zone,
            LockerCell.state == CellState.free,
            LockerCell.id.not_in(taken),  # SKIP LOCKED skips other transactions' locks, not this one's
        )
        .order_by(sa.case((fits, 0), else_=1), sa.case((fits, capacity), else_=-capacity), LockerCell.number)
        .limit(1)
        .with_for_update(skip_locked=True, of=LockerCell)
    ).one_or_none()
    return (row[0], row[1]) if row is not None else None


def reserve_cells(order: Order) -> tuple[Locker, list[LockerCell]] | None:
    """Reserve cells for a locker order being dispatched, in the resident's courtyard cabinet (several cells for a
    large order). Flush only.

    :return: the cabinet and the reserved cells, or None when no cabinet there has room in the order's zone.
    """
    zone, units = order_zone_and_units(order.id)
    until = utcnow() + timedelta(hours=setting("MARKETPLACE_LOCKER_RESERVATION_HOURS"))
    for locker_id in courtyard_lockers(order):
        taken: list[int] = []
        room = 0
        while room < max(units, 1):
            cell = _take_cell(locker_id, zone, max(units, 1) - room, taken)
            if cell is None:
                break
            taken.append(cell[0])
            room += cell[1]
        if room < max(units, 1):
            continue  # the cells locked here are released at commit, untouched
        reserved = (
            db.session.execute(
                sa.update(LockerCell)
                .where(LockerCell.id.in_(taken), LockerCell.state == CellState.free)
                .values(state=CellState.reserved, order_id=order.id, reserved_until=until)
                .returning(LockerCell.id)
                .execution_options(synchronize_session=False)
            )
            .scalars()
            .all()
        )
        if len(reserved) != len(taken):  # cannot happen under the row locks; refuse rather than half-reserve
            raise RuntimeError(f"locker cells {taken} changed under their row locks")
        locker = db.session.get(Locker, locker_id)
        cells = list(
            db.session.scalars(
                sa.select(LockerCell)
                .where(LockerCell.id.in_(taken))
                .order_by(LockerCell.number)
                .execution_options(populate_existing=True)
            )
        )
        from marketplace import jobs

        outbox.enqueue(
            jobs.expire_locker_reservation, order.id, run_at=until, key=f"marketplace.locker_reservation:{order.id}"
        )
        log.info("order %s reserved cells %s of locker %s", order.id, [c.number for c in cells], locker_id)
        return locker, cells
    return None


def order_cells(order_id: int, *, lock: bool = False, states=(*HOLDS_ORDER, CellState.out_of_service)):
    query = (
        sa.select(LockerCell)
        .where(LockerCell.order_id == order_id, LockerCell.state.in_(states))
        .order_by(LockerCell.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return list(db.session.scalars(query))


def cells_label(cells) -> str:
    return "、".join(str(c.number) for c in sorted(cells, key=lambda c: c.number))


# --- the order's locker, for the resident and the vendor --------------------------------------------------------------


def order_locker_view(user, public_id: str) -> dict[str, Any]:
    """Where an order is in a locker. The resident (or whoever placed it, or a ``marketplace`` delegate) sees the
    pickup code; the vendor's staff see the courier and retrieval codes; anyone else gets 404."""
    from app.auth.scopes import can
    from marketplace.orders import get_order, order_for_resident

    order = get_order(public_id)
    vendor_side = order is not None and can(user, "marketplace.order.read", order)
    if not vendor_side:
        order = order_for_resident(user, public_id)
    cells = order_cells(order.id)
    locker = db.session.get(Locker, cells[0].locker_id) if cells else None
    view: dict[str, Any] = {
        "order_id": order.public_id,
        "status": order.status.value,
        "fulfilment": order.fulfilment.value,
        "locker": locker,
        "cells": cells,
        "deadline_at": max((c.deadline_at for c in cells if c.deadline_at), default=None),
        "pickup_code": None,
        "retrieval_code": None,
        "courier_code": None,
    }
    if locker is not None:
        if vendor_side:
            view["retrieval_code"] = active_code(order.id, LockerCodeKind.retrieval)
            view["courier_code"] = active_code(order.id, LockerCodeKind.courier)
        else:
            view["pickup_code"] = active_code(order.id, LockerCodeKind.pickup)
    return view


# --- the vendor's uncollected-order policy --------------------------------------------------------------------------


def uncollected_policy(vendor_public_id: str):
    """A vendor's stated policy, readable by anyone signed in (residents read it before ordering)."""
    from marketplace.vendors import get_vendor

    return get_vendor(vendor_public_id)


def set_uncollected_policy(user, vendor_public_id: str, refund_bps: int):
    """The owner states how much of a locker order never collected is refunded (audited)."""
    from app import audit
    from marketplace.vendors import vendor_for

    with atomic():
        vendor = vendor_for(user, vendor_public_id, "marketplace.vendor.manage", lock=True)
        before = vendor.uncollected_refund_bps
        vendor.uncollected_refund_bps = refund_bps
        db.session.flush()
        audit.record(
            "marketplace.vendor.uncollected_policy",
            actor=user,
            target=("vendor", vendor.public_id),
            before={"refund_bps": before},
            after={"refund_bps": refund_bps},
        )
        return vendor


register_action("marketplace.locker.manage", ("admin", "staff"))  # install, rotate the secret, restore
register_action("marketplace.locker.read", ("admin", "staff", "grid_worker"))
