"""An order's way through a locker: dispatch (cells reserved, or fallback to the shop), the courier's deposit, the
resident's pickup, the deadline (the vendor retrieves, refund per its policy), reminders, reservation timeouts, and the
cabinet's own reports (door closed, heartbeat with temperatures, faults) with the health check that quarantines cells.

Lock order, everywhere: cabinet row, then order row, then cell rows; so two of these never wait on each other crosswise.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app import outbox
from app.api import SHANGHAI
from app.db import atomic, utcnow
from app.extensions import db
from marketplace import notify
from marketplace.locker_models import (
    CellState,
    Locker,
    LockerCell,
    LockerCode,
    LockerCodeKind,
    LockerFault,
    LockerNonce,
    LockerStatus,
)
from marketplace.lockers import (
    cells_label,
    code_hash,
    issue_code,
    order_cells,
    reserve_cells,
    revoke_codes,
    setting,
)
from marketplace.lockers_errors import (
    LockerCellNotFound,
    LockerCodeInvalid,
    LockerCodesLocked,
    LockerOrderNotHere,
    LockerStateConflict,
)
from marketplace.models import Fulfilment, Order, OrderStatus, StorageZone, Vendor
from marketplace.orders import get_order, record_step, refund_rest

log = logging.getLogger(__name__)


def _deadline_text(at) -> str:
    return at.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")


def _vendor_name(order: Order) -> str:
    return db.session.scalar(sa.select(Vendor.name).where(Vendor.id == order.vendor_id))


# --- dispatch (called from fulfilment.vendor_step) ------------------------------------------------------------------


def dispatch_to_locker(order: Order, actor) -> dict[str, Any]:
    """Reserve cells for a locker order (the caller holds the order's row lock and moves it out for delivery), or
    fall back to collection at the shop and tell the resident.

    :return: ``{"locker", "cells", "courier_code"}``, or ``{"fell_back": True}``.
    """
    reserved = reserve_cells(order)
    if reserved is None:
        order.fulfilment = Fulfilment.shop
        db.session.flush()
        record_step(order, order.status, actor=actor, note="小区智能柜没有空闲格口，已改为到店自提，商户备好后会通知您")
        log.info("order %s fell back to shop collection: no free locker cell", order.id)
        return {"fell_back": True}
    locker, cells = reserved
    courier_code = issue_code(locker.id, order.id, LockerCodeKind.courier)
    return {"locker": locker, "cells": cells, "courier_code": courier_code, "fell_back": False}


def expire_reservation(order_id: int) -> bool:
    """The courier never deposited: free the order's reserved cells and switch it to collection at the shop."""
    with atomic():
        order = db.session.get(Order, order_id, with_for_update=True, populate_existing=True)
        if order is None:
            return False
        cells = [c for c in order_cells(order.id, lock=True) if c.deposited_at is None]
        due = [c for c in cells if c.reserved_until is None or c.reserved_until <= utcnow()]
        if not cells or len(due) != len(cells):
            return False
        for cell in cells:
            cell.order_id, cell.reserved_until = None, None
            if cell.state is CellState.reserved:
                cell.state = CellState.free
        revoke_codes(order.id, LockerCodeKind.courier)
        if order.status is OrderStatus.out_for_delivery and order.fulfilment is Fulfilment.locker:
            order.fulfilment = Fulfilment.shop
            db.session.flush()
            record_step(order, order.status, note="配送员未按时存柜，已改为到店自提，商户备好后会通知您")
        db.session.flush()
        log.info("order %s locker reservation expired", order.id)
        return True


# --- device actions -------------------------------------------------------------------------------------------------


def _count_wrong_code(locker: Locker) -> int:
    """One more wrong code in the cabinet's window (a new window when the last one is over); returns the count."""
    now = utcnow()
    window_start = now - timedelta(seconds=setting("MARKETPLACE_LOCKER_WRONG_CODE_WINDOW_SECONDS"))
    fresh = sa.or_(Locker.wrong_codes_since.is_(None), Locker.wrong_codes_since <= window_start)
    return db.session.execute(
        sa.update(Locker)
        .where(Locker.id == locker.id)
        .values(
            wrong_codes=sa.case((fresh, 1), else_=Locker.wrong_codes + 1),
            wrong_codes_since=sa.case((fresh, now), else_=Locker.wrong_codes_since),
        )
        .returning(Locker.wrong_codes)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def _locked_out(locker: Locker) -> int | None:
    """Seconds until the cabinet takes codes again, or None when it takes them now."""
    window = timedelta(seconds=setting("MARKETPLACE_LOCKER_WRONG_CODE_WINDOW_SECONDS"))
    if locker.wrong_codes < setting("MARKETPLACE_LOCKER_WRONG_CODES") or locker.wrong_codes_since is None:
        return None
    left = (locker.wrong_codes_since + window - utcnow()).total_seconds()
    return int(left) + 1 if left > 0 else None


def _match_code(locker_id: int, kind: LockerCodeKind, code: str) -> LockerCode | None:
    return db.session.scalar(
        sa.select(LockerCode)
        .where(
            LockerCode.locker_id == locker_id,
            LockerCode.kind == kind,
            LockerCode.code_hash == code_hash(locker_id, code),
            LockerCode.used_at.is_(None),
            LockerCode.revoked_at.is_(None),
        )
        .with_for_update()
    )


def _wrong_code(locker: Locker) -> Exception:
    count = _count_wrong_code(locker)
    remaining = max(setting("MARKETPLACE_LOCKER_WRONG_CODES") - count, 0)
    log.warning("locker %s: wrong code (%s in the window)", locker.id, count)
    return LockerCodeInvalid(details={"remaining_attempts": remaining})


def deposit(locker_id: int, order_public_id: str, courier_code: str) -> dict[str, Any]:
    """The courier deposits an order into its reserved cells: they open and become occupied, the order is ready, and
    the resident (and their delegates) receive the pickup code.

    :raises LockerCodesLocked: too many wrong codes at this cabinet lately (429).
    :raises LockerCodeInvalid: the courier code is wrong (counted).
    :raises LockerOrderNotHere: the order has no cells reserved in this cabinet.
    """
    failure: Exception
    with atomic():
        locker = db.session.get(Locker, locker_id, with_for_update=True, populate_existing=True)
        wait = _locked_out(locker)
        if wait is not None:
            failure = LockerCodesLocked(retry_after=wait)
        else:
            order = get_order(order_public_id, lock=True)
            cells = order_cells(order.id, lock=True, states=(CellState.reserved,)) if order is not None else []
            if order is None or not cells or any(c.locker_id != locker.id for c in cells):
                raise LockerOrderNotHere()
            code = _match_code(locker.id, LockerCodeKind.courier, courier_code)
            if code is None or code.order_id != order.id:
                failure = _wrong_code(locker)
            else:
                if order.status is not OrderStatus.out_for_delivery:
                    raise LockerStateConflict(details={"status": order.status.value})
                return _deposit(locker, order, cells, code)
    raise failure


def _deposit(locker: Locker, order: Order, cells: list[LockerCell], code: LockerCode) -> dict[str, Any]:
    now = utcnow()
    cold = cells[0].zone is not StorageZone.ambient
    hours = setting("MARKETPLACE_LOCKER_COLD_HOURS" if cold else "MARKETPLACE_LOCKER_AMBIENT_HOURS")
    deadline = now + timedelta(hours=hours)
    code.used_at = now
    for cell in cells:
        cell.state, cell.deposited_at, cell.deadline_at = CellState.occupied, now, deadline
        cell.reserved_until, cell.door_open = None, True
    before = order.status
    order.status = OrderStatus.ready
    db.session.flush()
    label = cells_label(cells)
    record_step(order, before, note=f"已存入{locker.name}{label}号格")
    pickup = issue_code(locker.id, order.id, LockerCodeKind.pickup)
    data = {
        "vendor": _vendor_name(order),
        "locker": locker.name,
        "cells": label,
        "code": pickup,
        "deadline": _deadline_text(deadline),
    }
    notify.notify_pickup_code(order, data, key=f"marketplace.pickup_code:{order.id}:{code.id}")
    from marketplace import jobs

    reminder_at = deadline - timedelta(hours=setting("MARKETPLACE_LOCKER_REMINDER_HOURS"))
    if setting("MARKETPLACE_LOCKER_REMINDER_HOURS") and reminder_at > now:
        outbox.enqueue(
            jobs.remind_locker_pickup, order.id, run_at=reminder_at, key=f"marketplace.locker_remind:{code.id}"
        )
    outbox.enqueue(jobs.locker_deadline, order.id, run_at=deadline, key=f"marketplace.locker_deadline:{code.id}")
    log.info("order %s deposited in locker %s cells %s", order.id, locker.id, label)
    return {"order_id": order.public_id, "cells": sorted(c.number for c in cells)}


def open_with_code(locker_id: int, code: str, kind: LockerCodeKind) -> dict[str, Any]:
    """Open the cells a pickup code (resident: the order completes) or a retrieval code (vendor: the cells are
    freed) belongs to. Wrong codes are counted per cabinet; past the limit the cabinet refuses codes for a while.

    :raises LockerCodesLocked: 429 with ``Retry-After``.
    :raises LockerCodeInvalid: no active code of that kind here (the attempt is counted and committed).
    """
    failure: Exception
    with atomic():
        locker = db.session.get(Locker, locker_id, with_for_update=True, populate_existing=True)
        wait = _locked_out(locker)
        if wait is not None:
            failure = LockerCodesLocked(retry_after=wait)
        else:
            found = _match_code(locker.id, kind, code)
            if found is None:
                failure = _wrong_code(locker)
            else:
                return _open(locker, found)
    raise failure


def _open(locker: Locker, code: LockerCode) -> dict[str, Any]:
    order = db.session.get(Order, code.order_id, with_for_update=True, populate_existing=True)
    cells = order_cells(order.id, lock=True)
    now = utcnow()
    code.used_at = now
    for cell in cells:
        cell.order_id, cell.door_open, cell.deadline_at, cell.deposited_at = None, True, None, None
        if cell.state is not CellState.out_of_service:
            cell.state = CellState.free
    label = cells_label(cells)
    before = order.status
    if code.kind is LockerCodeKind.pickup and order.status is OrderStatus.ready:
        order.status = OrderStatus.completed
        db.session.flush()
        record_step(order, before, note=f"已从{locker.name}{label}号格取件")
    elif code.kind is LockerCodeKind.retrieval:
        db.session.flush()
        record_step(order, before, note=f"商户已从{locker.name}{label}号格取回")
    db.session.flush()
    log.info("locker %s opened cells %s for order %s with a %s code", locker.id, label, order.id, code.kind.value)
    return {"order_id": order.public_id, "cells": sorted(c.number for c in cells)}


def door_closed(locker_id: int, number: int) -> LockerCell:
    with atomic():
        cell = db.session.scalar(
            sa.select(LockerCell)
            .where(LockerCell.locker_id == locker_id, LockerCell.number == number)
            .with_for_update()
        )
        if cell is None:
            raise LockerCellNotFound(details={"cell": number})
        cell.door_open = False
        db.session.flush()
        return cell


def heartbeat(locker_id: int, readings: list[dict[str, Any]]) -> Locker:
    """Record that the cabinet is alive and the temperature each cell reports; the health check reads them."""
    with atomic():
        now = utcnow()
        locker = db.session.get(Locker, locker_id, with_for_update=True, populate_existing=True)
        locker.last_heartbeat_at = now
        numbers = {r["number"] for r in readings}
        known = set(
            db.session.scalars(
                sa.select(LockerCell.number).where(LockerCell.locker_id == locker_id, LockerCell.number.in_(numbers))
            )
        )
        unknown = sorted(numbers - known)
        if unknown:
            raise LockerCellNotFound(details={"cells": unknown})
        if readings:
            cells = LockerCell.__table__
            db.session.execute(
                sa.update(cells)
                .where(cells.c.locker_id == locker_id, cells.c.number == sa.bindparam("n"))
                .values(temperature_c=sa.bindparam("t"), temperature_at=now),
                [{"n": r["number"], "t": r.get("temperature_c")} for r in readings],
            )
        db.session.flush()
        return locker


def report_fault(locker_id: int, data: dict[str, Any]) -> LockerFault:
    """Record a fault; a fault naming a cell takes that cell out of service and flags its contents."""
    with atomic():
        number = data.get("cell")
        fault = LockerFault(locker_id=locker_id, cell_number=number, kind=data["kind"], detail=data.get("detail"))
        db.session.add(fault)
        db.session.flush()
        if number is not None:
            taken = db.session.execute(
                sa.update(LockerCell)
                .where(LockerCell.locker_id == locker_id, LockerCell.number == number)
                .values(state=CellState.out_of_service, state_note=f"故障：{data['kind']}")
                .returning(LockerCell.id, LockerCell.order_id)
                .execution_options(synchronize_session=False)
            ).all()
            if not taken:
                raise LockerCellNotFound(details={"cell": number})
            _flag_contents(
                {locker_id: [(number, order_id) for _id, order_id in taken]}, "设备报告故障", f"fault:{fault.id}"
            )
        log.warning("locker %s reported fault %s (cell %s)", locker_id, data["kind"], number)
        return fault


# --- deadline, reminder ---------------------------------------------------------------------------------------------


def remind_pickup(order_id: int) -> bool:
    with atomic():
        order = db.session.get(Order, order_id)
        if order is None or order.status is not OrderStatus.ready:
            return False
        cells = order_cells(order.id, states=(CellState.occupied,))
        if not cells or cells[0].deadline_at is None or cells[0].deadline_at <= utcnow():
            return False
        locker = db.session.get(Locker, cells[0].locker_id)
        data = {
            "vendor": _vendor_name(order),
            "locker": locker.name,
            "cells": cells_label(cells),
            "deadline": _deadline_text(cells[0].deadline_at),
        }
        notify.notify_locker_reminder(
            order, data, key=f"marketplace.locker_remind:{order.id}:{cells[0].deadline_at.timestamp():.0f}"
        )
        return True


def refund_share(order: Order, bps: int) -> int:
    """The refund an uncollected order gets under its vendor's policy (``bps`` of the total, within what is left)."""
    return min(order.total_fen * bps // 10_000, order.total_fen - order.refunded_fen)


def pass_deadline(order_id: int) -> bool:
    """An order still in its cells at the deadline: the cells await the vendor's retrieval code, the pickup code stops
    working, the order is ``uncollected`` and refunded as the vendor's policy says. A no-op in any other state."""
    with atomic():
        order = db.session.get(Order, order_id, with_for_update=True, populate_existing=True)
        if order is None or order.status is not OrderStatus.ready:
            return False
        cells = order_cells(order.id, lock=True, states=(CellState.occupied, CellState.out_of_service))
        if not cells or any(c.deadline_at is None or c.deadline_at > utcnow() for c in cells):
            return False
        locker = db.session.get(Locker, cells[0].locker_id)
        for cell in cells:
            if cell.state is CellState.occupied:
                cell.state = CellState.awaiting_retrieval
        revoke_codes(order.id, LockerCodeKind.pickup)
        # Shown to the vendor's staff on the order's locker view, never pushed (push rows are kept in plaintext).
        issue_code(locker.id, order.id, LockerCodeKind.retrieval)
        bps = db.session.scalar(sa.select(Vendor.uncollected_refund_bps).where(Vendor.id == order.vendor_id))
        amount = refund_share(order, bps)
        order.status = OrderStatus.uncollected
        db.session.flush()
        label = cells_label(cells)
        policy = "全额退款" if bps >= 10_000 else ("不退款" if bps <= 0 else f"退还 {bps / 100:g}%")
        record_step(
            order, OrderStatus.ready, note=f"超时未取，商户将从{locker.name}{label}号格取回（按商户政策{policy}）"
        )
        if amount > 0:
            reason = f"超时未取，按商户政策退款（{policy}）"
            if amount == order.total_fen - order.refunded_fen:
                refund_rest(order, reason, "uncollected")
            else:
                from marketplace.adjustments import refund_amount

                refund_amount(order, amount, reason, "uncollected")
        notify.notify_locker_vendor(
            order.vendor_id,
            order.public_id,
            {
                "locker": locker.name,
                "subject": f"{label}号格待取回",
                "detail": f"订单超时未取，请到{locker.name}{label}号格取回货品；取回码在商户端订单详情中查看。",
            },
            key=f"marketplace.locker_retrieve:{order.id}",
        )
        log.info("order %s passed its locker deadline (refund %s fen)", order.id, amount)
        return True


# --- health ---------------------------------------------------------------------------------------------------------


def _flag_contents(cells_by_locker: dict[int, list[tuple[int, int | None]]], reason: str, key: str) -> None:
    """Tell the vendor and the resident of every order in cells just taken out of service."""
    orders: dict[int, list[tuple[int, int]]] = {}
    for locker_id, cells in cells_by_locker.items():
        for number, order_id in cells:
            if order_id is not None:
                orders.setdefault(order_id, []).append((locker_id, number))
    for order_id, places in orders.items():
        order = db.session.get(Order, order_id)
        locker = db.session.get(Locker, places[0][0])
        label = "、".join(str(n) for _l, n in sorted(places))
        data = {"vendor": _vendor_name(order), "locker": locker.name, "cells": label, "reason": reason}
        notify.notify_locker_alert(order, data, key=f"marketplace.locker_alert:{key}:{order.id}")
        notify.notify_locker_vendor(
            order.vendor_id,
            order.public_id,
            {
                "locker": locker.name,
                "subject": f"{label}号格停用",
                "detail": f"{locker.name}{label}号格{reason}，已停用；格内有本店订单，请尽快处理并联系顾客。",
            },
            key=f"marketplace.locker_vendor:{key}:{order.id}",
        )


def check_health(slot: str) -> dict[str, int]:
    """Take silent cabinets and warm cold cells out of service and flag their contents (periodic)."""
    with atomic():
        now = utcnow()
        silent_before = now - timedelta(seconds=setting("MARKETPLACE_LOCKER_HEARTBEAT_SECONDS"))
        silent = (
            db.session.execute(
                sa.update(Locker)
                .where(
                    Locker.status == LockerStatus.active,
                    # A cabinet that never reported (not yet online) is not "silent": staff see it has no heartbeat.
                    Locker.last_heartbeat_at < silent_before,
                )
                .values(status=LockerStatus.out_of_service, status_note="心跳超时，已自动停用")
                .returning(Locker.id)
                .execution_options(synchronize_session=False)
            )
            .scalars()
            .all()
        )
        flagged: dict[int, list[tuple[int, int | None]]] = {}
        if silent:
            rows = db.session.execute(
                sa.update(LockerCell)
                .where(LockerCell.locker_id.in_(silent), LockerCell.state != CellState.out_of_service)
                .values(state=CellState.out_of_service, state_note="柜体失联")
                .returning(LockerCell.locker_id, LockerCell.number, LockerCell.order_id)
                .execution_options(synchronize_session=False)
            ).all()
            for locker_id, number, order_id in rows:
                flagged.setdefault(locker_id, []).append((number, order_id))
            _flag_contents(flagged, "所在智能柜失联", f"silent:{slot}")
        warm = db.session.execute(
            sa.update(LockerCell)
            .where(
                LockerCell.zone.in_((StorageZone.chilled, StorageZone.frozen)),
                LockerCell.max_temp_c.is_not(None),
                LockerCell.temperature_c > LockerCell.max_temp_c,
                LockerCell.state != CellState.out_of_service,
            )
            .values(state=CellState.out_of_service, state_note="温度超限")
            .returning(LockerCell.locker_id, LockerCell.number, LockerCell.order_id)
            .execution_options(synchronize_session=False)
        ).all()
        warm_cells: dict[int, list[tuple[int, int | None]]] = {}
        for locker_id, number, order_id in warm:
            warm_cells.setdefault(locker_id, []).append((number, order_id))
        _flag_contents(warm_cells, "温度超过上限", f"warm:{slot}")
        if silent or warm:
            log.warning("locker health: %s cabinets silent, %s cells too warm", len(silent), len(warm))
        return {"silent": len(silent), "warm": len(warm)}


def purge_nonces(slot: str) -> int:
    """Forget device nonces older than twice the clock window (a request that old is refused by its timestamp)."""
    with atomic():
        before = utcnow() - timedelta(seconds=2 * setting("MARKETPLACE_LOCKER_CLOCK_SKEW_SECONDS"))
        return db.session.execute(sa.delete(LockerNonce).where(LockerNonce.seen_at < before)).rowcount
