"""Fee orders: several bills of one household and one payee, paid in one payment (payable kind ``fees.fee_order``).

An open order holds its bills: the partial unique index ``uq_fees_order_lines_live_bill`` lets a bill be in one open
(or paid) order at a time, so two people paying the same bill at once cannot both get an order for it. Amounts,
late fees included (as of the Shanghai day the order is made), are fixed in the order; payments reads them from it.

Locks are always taken orders first, then bills (here, in ``on_paid`` and in ``is_payable``'s ``FOR SHARE``), so
paying an old order while a new one is made for the same bills waits instead of deadlocking.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

import payments
from app import audit, outbox
from app.community.models import Household
from app.community.services import household_address
from app.db import atomic, utcnow
from app.extensions import db
from fees.access import household_access, require_read
from fees.errors import (
    BillLocked,
    BillNotFound,
    BillNotUnpaid,
    FeeOrderNotFound,
    MixedPayees,
    NothingToPay,
    OrderNotCancellable,
)
from fees.models import Bill, BillStatus, FeeOrder, FeeOrderLine, LineState, OrderStatus
from fees.money import late_fee_fen, shanghai_today

log = logging.getLogger(__name__)

KIND = "fees.fee_order"
#: How long an order holds its bills (and so the longest a payment for it stays open).
ORDER_TTL = timedelta(minutes=15)
#: An own open order closer than this to its expiry is replaced instead of handed out again.
REUSE_MARGIN = timedelta(minutes=2)
#: After expiry, how often to look again while a payment for the order is still live.
EXPIRY_RETRY = timedelta(minutes=5)


def price_line(bill: Bill, on) -> tuple[int, int]:
    """(principal, late fee) of an unpaid bill as of the day ``on``."""
    principal = bill.principal_fen
    late = (
        0
        if bill.late_fee_waived
        else late_fee_fen(principal, bill.due_on, on, bill.late_fee_bps_per_day, bill.late_fee_cap_bps)
    )
    return principal, late


def _holding_orders(bill_ids: list[int]) -> list[FeeOrder]:
    """Open orders holding any of these bills, locked in id order."""
    holding = sa.select(FeeOrderLine.order_id).where(
        FeeOrderLine.bill_id.in_(bill_ids), FeeOrderLine.state == LineState.open
    )
    orders = db.session.scalars(
        sa.select(FeeOrder)
        .where(FeeOrder.id.in_(holding), FeeOrder.status == OrderStatus.open)
        .order_by(FeeOrder.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return [order for order in orders if order.status is OrderStatus.open]


def _line_bill_ids(order_id: int) -> set[int]:
    return set(db.session.scalars(sa.select(FeeOrderLine.bill_id).where(FeeOrderLine.order_id == order_id)))


def _release(order: FeeOrder, status: OrderStatus, *, actor=None) -> bool:
    """End an open order without money (flush only): its bills are free for another order."""
    done = db.session.execute(
        sa.update(FeeOrder)
        .where(FeeOrder.id == order.id, FeeOrder.status == OrderStatus.open)
        .values(status=status)
        .returning(FeeOrder.id)
    ).scalar()
    if done is None:
        return False
    db.session.execute(
        sa.update(FeeOrderLine)
        .where(FeeOrderLine.order_id == order.id, FeeOrderLine.state == LineState.open)
        .values(state=LineState.released)
    )
    db.session.refresh(order)
    audit.record(f"fees.order.{status.value}", actor=actor, target=("fee_order", order.public_id))
    log.info("fee order %s %s", order.id, status.value)
    return True


def create_order(user, *, household_id: str, bill_ids: list[str]) -> FeeOrder:
    """Put bills of one household and one payee into an order the caller (a member, or a delegate of a member with
    scope ``bills``) then pays with ``POST /payments`` (kind ``fees.fee_order``).

    The caller's own open order for exactly these bills is handed out again while it has time left. An order that
    holds any of the bills is released first when it is the caller's own or has expired, and has no live payment;
    otherwise 409 ``bill_locked``.

    :raises BillNotFound: (404) a bill that is not this household's.
    :raises BillNotUnpaid: (409) a bill already paid, waived or cancelled.
    :raises MixedPayees: (422) bills of two payees.
    :raises BillLocked: (409) a bill held by someone else's open order or a live payment.
    """
    ids = list(dict.fromkeys(bill_ids))
    with atomic():
        access = household_access(user, household_id, staff_action=None)
        household = access.household
        found = dict(list(db.session.execute(sa.select(Bill.public_id, Bill.id).where(Bill.public_id.in_(ids)))))
        missing = [public_id for public_id in ids if public_id not in found]
        if missing:
            raise BillNotFound(details={"ids": missing})
        holding = _holding_orders(list(found.values()))
        bills = db.session.scalars(
            sa.select(Bill)
            .where(Bill.id.in_(found.values()))
            .order_by(Bill.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        for bill in bills:
            if bill.household_id != household.id:
                raise BillNotFound(details={"ids": [bill.public_id]})
            if bill.status is not BillStatus.unpaid:
                raise BillNotUnpaid(details={"id": bill.public_id, "status": bill.status.value})
        if len({bill.payee_id for bill in bills}) > 1:
            raise MixedPayees()
        now, today = utcnow(), shanghai_today()
        wanted = {bill.id for bill in bills}
        for order in holding:
            own = order.created_by_user_id == user.id
            live_payment = payments.payment_for(KIND, order.public_id)
            if (
                own
                and order.for_resident_id == access.resident.id
                and _line_bill_ids(order.id) == wanted
                and order.priced_on == today
                and (live_payment is not None or order.expires_at > now + REUSE_MARGIN)
            ):
                log.info("fee order %s handed out again to user %s", order.id, user.id)
                return order
            if live_payment is None and (own or order.expires_at <= now):
                _release(order, OrderStatus.cancelled if own else OrderStatus.expired, actor=user)
                continue
            raise BillLocked(details={"expires_at": order.expires_at.isoformat()})

        priced = [(bill, *price_line(bill, today)) for bill in bills]
        principal = sum(p for _b, p, _l in priced)
        late = sum(fee for _b, _p, fee in priced)
        if principal + late <= 0:
            raise NothingToPay()
        order = FeeOrder(
            household_id=household.id,
            estate_id=bills[0].estate_id,
            community_id=household.community_id,
            payee_id=bills[0].payee_id,
            created_by_user_id=user.id,
            for_resident_id=access.resident.id,
            principal_fen=principal,
            late_fee_fen=late,
            amount_fen=principal + late,
            priced_on=today,
            expires_at=now + ORDER_TTL,
        )
        db.session.add(order)
        db.session.flush()
        try:
            with atomic(savepoint=True):
                db.session.add_all(
                    [
                        FeeOrderLine(
                            order_id=order.id,
                            bill_id=bill.id,
                            principal_fen=bill_principal,
                            late_fee_fen=bill_late,
                            discount_fen=bill.discount_fen,
                            late_fee_waived=bill.late_fee_waived,
                        )
                        for bill, bill_principal, bill_late in priced
                    ]
                )
                db.session.flush()
        except sa.exc.IntegrityError as error:
            if getattr(error.orig, "sqlstate", None) == "23505":
                raise BillLocked() from None
            raise
        outbox.enqueue(
            expire_fee_order,
            order.id,
            run_at=order.expires_at + timedelta(minutes=1),
            key=f"fees.order.expire:{order.id}",
        )
        audit.record(
            "fees.order.create",
            actor=user,
            target=("fee_order", order.public_id),
            subject=("resident", access.resident.id) if access.via == "delegate" else None,
            after={"bills": ",".join(ids), "amount_fen": order.amount_fen, "via": access.via},
        )
        log.info("fee order %s (%s fen, %s bills) made by user %s", order.id, order.amount_fen, len(bills), user.id)
        return order


def get_order(public_id: str, *, lock: bool = False) -> FeeOrder | None:
    query = sa.select(FeeOrder).where(FeeOrder.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def visible_order(user, public_id: str) -> FeeOrder:
    """An order for its creator, the household's members and delegates, and staff in scope; 404 for others."""
    with atomic():  # a delegate's look goes through acting_for, which is audited: commit it
        order = get_order(public_id)
        if order is None:
            raise FeeOrderNotFound()
        if order.created_by_user_id != user.id:
            require_read(user, db.session.get(Household, order.household_id), FeeOrderNotFound)
        return order


def cancel_order(user, public_id: str) -> FeeOrder:
    """Give up an open order (its creator); a live payment for it must end first (409)."""
    with atomic():
        order = get_order(public_id, lock=True)
        if order is None or order.created_by_user_id != user.id:
            raise FeeOrderNotFound()
        if order.status is not OrderStatus.open or payments.payment_for(KIND, order.public_id) is not None:
            raise OrderNotCancellable(details={"status": order.status.value})
        _release(order, OrderStatus.cancelled, actor=user)
        return order


@outbox.job()
def expire_fee_order(order_id: int) -> None:
    """Release an unpaid order after its time; while a payment for it is still live (open, or money waiting to be
    applied), look again later instead: that money must find its bills."""
    with atomic():
        order = db.session.get(FeeOrder, order_id, with_for_update=True, populate_existing=True)
        if order is None or order.status is not OrderStatus.open:
            return
        if payments.payment_for(KIND, order.public_id) is not None:
            outbox.enqueue(
                expire_fee_order,
                order.id,
                run_at=utcnow() + EXPIRY_RETRY,
                key=f"fees.order.expire:{order.id}:{utcnow():%Y%m%d%H%M%S%f}",
            )
            return
        _release(order, OrderStatus.expired)


def order_lines(order_id: int) -> list[tuple[FeeOrderLine, Bill]]:
    return db.session.execute(
        sa.select(FeeOrderLine, Bill)
        .join(Bill, Bill.id == FeeOrderLine.bill_id)
        .where(FeeOrderLine.order_id == order_id)
        .order_by(Bill.period, Bill.id)
    ).all()


def order_title(order: FeeOrder) -> str:
    """The payment's line: ``幸福家园小区 1号楼 2单元 502：2026年10月物业费等 3 笔``."""
    lines = order_lines(order.id)
    address = household_address(db.session.get(Household, order.household_id))
    place = " ".join(p for p in (address["estate"], address["building"], address["unit"], address["room"]) if p)
    first = lines[0][1].title if lines else "物业等费用"
    more = f"等 {len(lines)} 笔" if len(lines) > 1 else ""
    return f"{place}：{first}{more}"
