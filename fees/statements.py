"""Reading bills: the households a resident pays for, a household's bills (late fees shown as of today), one bill."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.accounts.households import mask_name
from app.api import keyset_page
from app.auth.scopes import authorize, can
from app.community.errors import EstateNotFound
from app.community.models import Building, Household
from app.community.services import get_estate, household_address, household_addresses
from app.db import atomic
from app.extensions import db
from fees.access import household_access, payable_households, require_read
from fees.billing import adjustments_of, get_bill
from fees.errors import BillNotFound
from fees.models import Bill, BillStatus, FeeItem, FeeOrder, FeeOrderLine, LineState, OrderStatus, Receipt
from fees.money import days_late, late_fee_sql, shanghai_today
from fees.orders import KIND, order_lines, price_line
from fees.payees import payee_brief


def bill_views(bills: list[Bill], *, today=None) -> list[dict[str, Any]]:
    """Bills for display, with their late fee and total as of ``today``, whether an open order holds them, and the
    receipt that paid them (three queries for the whole list)."""
    today = today or shanghai_today()
    ids = [bill.id for bill in bills]
    locked = set(
        db.session.scalars(
            sa.select(FeeOrderLine.bill_id).where(FeeOrderLine.bill_id.in_(ids), FeeOrderLine.state == LineState.open)
        )
    )
    receipts = dict(
        list(
            db.session.execute(
                sa.select(Bill.id, Receipt.public_id)
                .join(Receipt, Receipt.fee_order_id == Bill.fee_order_id)
                .where(Bill.id.in_(ids), Bill.status == BillStatus.paid)
            )
        )
    )
    items = {
        row.id: row
        for row in db.session.execute(
            sa.select(FeeItem.id, FeeItem.public_id, FeeItem.kind, FeeItem.formula, FeeItem.unit_label).where(
                FeeItem.id.in_({bill.item_id for bill in bills})
            )
        )
    }
    views = []
    for bill in bills:
        item = items[bill.item_id]
        if bill.status is BillStatus.unpaid:
            principal, late = price_line(bill, today)
            overdue = days_late(bill.due_on, today)
        elif bill.status is BillStatus.paid:
            principal, late, overdue = bill.paid_principal_fen, bill.paid_late_fee_fen, 0
        else:
            principal, late, overdue = bill.principal_fen, 0, 0
        views.append(
            {
                "id": bill.public_id,
                "household_id": None,
                "item_id": item.public_id,
                "kind": item.kind.value,
                "formula": item.formula.value,
                "unit_label": item.unit_label,
                "title": bill.title,
                "period": bill.period,
                "one_off": bill.one_off,
                "quantity": bill.quantity,
                "months": bill.months,
                "rate_centifen": bill.rate_centifen,
                "amount_fen": bill.amount_fen,
                "discount_fen": bill.discount_fen,
                "principal_fen": principal,
                "late_fee_fen": late,
                "late_fee_waived": bill.late_fee_waived,
                "total_fen": principal + late,
                "due_on": bill.due_on,
                "days_overdue": overdue,
                "late_fee_as_of": today if bill.status is BillStatus.unpaid else None,
                "status": bill.status.value,
                "locked": bill.id in locked,
                "paid_at": bill.paid_at,
                "receipt_id": receipts.get(bill.id),
            }
        )
    return views


def _with_household(views: list[dict[str, Any]], bills: list[Bill]) -> list[dict[str, Any]]:
    households = dict(
        list(
            db.session.execute(
                sa.select(Household.id, Household.public_id).where(Household.id.in_({b.household_id for b in bills}))
            )
        )
    )
    for view, bill in zip(views, bills, strict=True):
        view["household_id"] = households[bill.household_id]
    return views


def my_households(user) -> list[dict[str, Any]]:
    """Households the caller pays for, each with what is owed today (unpaid bills, principal, late fees)."""
    rows = payable_households(user)
    if not rows:
        return []
    today = shanghai_today()
    ids = [household.id for household, _via, _resident in rows]
    late = late_fee_sql(
        Bill.amount_fen - Bill.discount_fen,
        Bill.due_on,
        today,
        Bill.late_fee_bps_per_day,
        Bill.late_fee_cap_bps,
        Bill.late_fee_waived,
    )
    owed = {
        household_id: (count, principal, late_fee, overdue)
        for household_id, count, principal, late_fee, overdue in db.session.execute(
            sa.select(
                Bill.household_id,
                sa.func.count(),
                sa.func.sum(Bill.amount_fen - Bill.discount_fen),
                sa.func.sum(late),
                sa.func.count().filter(Bill.due_on < today),
            )
            .where(Bill.household_id.in_(ids), Bill.status == BillStatus.unpaid)
            .group_by(Bill.household_id)
        )
    }
    addresses = household_addresses(household for household, _via, _resident in rows)
    result = []
    for household, via, resident in rows:
        count, principal, late_fee, overdue = owed.get(household.id, (0, 0, 0, 0))
        result.append(
            {
                "id": household.public_id,
                "address": addresses[household.id],
                "via": via,
                "for_resident": {"id": resident.public_id, "name": mask_name(resident.real_name or "")},
                "unpaid_count": count,
                "overdue_count": overdue,
                "principal_fen": int(principal or 0),
                "late_fee_fen": int(late_fee or 0),
                "total_fen": int((principal or 0) + (late_fee or 0)),
                "as_of": today,
            }
        )
    return result


def household_bills(user, household_public_id: str, *, status: str | None, cursor: str | None, limit: int):
    """A household's bills, newest period first (cursor pagination), for members, delegates and staff in scope."""
    with atomic():  # a delegate's view is recorded in the audit log (acting_for): commit it
        access = household_access(user, household_public_id)
        query = sa.select(Bill).where(Bill.household_id == access.household.id)
        if status:
            query = query.where(Bill.status == BillStatus(status))
        page = keyset_page(db.session, query, [Bill.period, Bill.id], cursor=cursor, limit=limit)
        views = bill_views(page["items"])
        for view in views:
            view["household_id"] = access.household.public_id
        return {"items": views, "next_cursor": page["next_cursor"], "via": access.via}


def bill_detail(user, public_id: str) -> dict[str, Any]:
    """One bill with its adjustments (reasons shown to staff only)."""
    with atomic():
        bill = get_bill(public_id)
        household = db.session.get(Household, bill.household_id)
        require_read(user, household, BillNotFound)
        [view] = _with_household(bill_views([bill]), [bill])
        staff = can(user, "fees.read", household)
        view["adjustments"] = [
            {
                "kind": adjustment.kind.value,
                "amount_fen": adjustment.amount_fen,
                "reason": adjustment.reason if staff else None,
                "created_at": adjustment.created_at,
            }
            for adjustment in adjustments_of(bill.id)
        ]
        return view


def estate_bills(user, estate_public_id: str, *, period, status: str | None, pagination) -> list[dict[str, Any]]:
    """Staff worklist: an estate's bills of a period, by building and room, with a total count."""
    estate = get_estate(estate_public_id)
    authorize(user, "fees.read", estate, not_found=EstateNotFound)
    where = [Bill.estate_id == estate.id, Bill.period == period]
    if status:
        where.append(Bill.status == BillStatus(status))
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(Bill).where(*where))
    bills = db.session.scalars(
        sa.select(Bill)
        .join(Household, Household.id == Bill.household_id)
        .join(Building, Building.id == Household.building_id)
        .where(*where)
        .order_by(Building.name, Household.room, Bill.id)
        .offset(pagination.first_item)
        .limit(pagination.page_size)
    ).all()
    return _with_household(bill_views(bills), bills)


def order_view(order: FeeOrder) -> dict[str, Any]:
    """A fee order with its lines, its payment and its receipt."""
    household = db.session.get(Household, order.household_id)
    receipt_id = db.session.scalar(sa.select(Receipt.public_id).where(Receipt.fee_order_id == order.id))
    return {
        "id": order.public_id,
        "status": order.status.value,
        "household": {"id": household.public_id, "address": household_address(household)},
        "payee": payee_brief(order.payee_id),
        "lines": [
            {
                "bill_id": bill.public_id,
                "title": bill.title,
                "period": bill.period,
                "due_on": bill.due_on,
                "principal_fen": line.principal_fen,
                "late_fee_fen": line.late_fee_fen,
                "amount_fen": line.principal_fen + line.late_fee_fen,
                "state": line.state.value,
            }
            for line, bill in order_lines(order.id)
        ],
        "principal_fen": order.principal_fen,
        "late_fee_fen": order.late_fee_fen,
        "amount_fen": order.amount_fen,
        "priced_on": order.priced_on,
        "expires_at": order.expires_at,
        "payable": {"kind": KIND, "id": order.public_id},
        "payment_id": order.payment_public_id,
        "paid_at": order.paid_at,
        "refunded_fen": order.refunded_fen,
        "receipt_id": receipt_id,
        "is_open": order.status is OrderStatus.open,
    }
