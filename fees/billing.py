"""Bills: generation for an estate and a period (one set-based job, idempotent), one-off bills, staff adjustments.

Generation is one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` per fee item over the estate's households that have
an active membership. The unique index on (household, item, period) is the idempotency: running the job twice, or
two jobs at once, cannot make a second bill (the second insert waits on the first's row and then skips it).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit, outbox
from app.accounts.resident_models import HouseholdMembership, MembershipStatus
from app.auth.scopes import authorize
from app.community.errors import EstateNotFound, HouseholdNotFound
from app.community.models import Building, Household
from app.community.services import get_estate
from app.db import atomic, utcnow
from app.extensions import db
from fees.errors import (
    BillingRunNotFound,
    BillLocked,
    BillNotFound,
    BillNotUnpaid,
    DiscountTooLarge,
    FeeItemNotFound,
)
from fees.items import get_item
from fees.models import (
    AdjustmentKind,
    Bill,
    BillAdjustment,
    BillingRun,
    BillStatus,
    Cycle,
    FeeItem,
    FeeOrderLine,
    Formula,
    LineState,
    MeterReading,
)
from fees.money import cycle_start, due_date, month_start, months_of, period_title

log = logging.getLogger(__name__)


def _random_public_id():
    """``new_public_id()`` in SQL, for set-based inserts: 96 random bits of a v4 UUID (its version and variant bits
    left out), URL-safe base64, 16 characters."""
    raw = sa.func.uuid_send(sa.func.gen_random_uuid())
    random_bytes = sa.func.substring(raw, 1, 6).op("||")(sa.func.substring(raw, 11, 6))
    return sa.func.translate(sa.func.encode(random_bytes, "base64"), "+/", "-_")


def _billable_households(estate_id: int):
    """Households of the estate with an active membership (a dwelling nobody lives in is not billed)."""
    active = sa.exists().where(
        HouseholdMembership.household_id == Household.id, HouseholdMembership.status == MembershipStatus.active
    )
    return (
        sa.select(Household.id, Household.community_id, Household.floor_area_dm2)
        .join(Building, Building.id == Household.building_id)
        .where(Building.estate_id == estate_id, active)
    )


def _item_rows(item: FeeItem, start: date, run_id: int | None, user_id: int | None):
    """The SELECT that makes one bill per billable household for ``item`` and the period starting ``start``."""
    households = _billable_households(item.estate_id).subquery("h")
    months = months_of(item.cycle)
    reading_id = sa.null()
    conditions = []
    if item.formula is Formula.per_area:
        dm2 = sa.cast(households.c.floor_area_dm2, sa.Numeric)
        quantity = sa.func.round(dm2 / 100, 2)
        amount = sa.func.round(dm2 * item.rate_centifen * months / 10_000)
        conditions.append(households.c.floor_area_dm2.is_not(None))
    elif item.formula is Formula.fixed:
        quantity = sa.cast(sa.literal(1), sa.Numeric)
        amount = sa.func.round(sa.cast(sa.literal(item.rate_centifen * months), sa.Numeric) / 100)
    else:
        months = 1
        quantity = MeterReading.usage
        amount = sa.func.round(MeterReading.usage * item.rate_centifen / 100)
        reading_id = MeterReading.id
    amount = sa.cast(amount, sa.BigInteger)
    columns = {
        "public_id": _random_public_id(),
        "household_id": households.c.id,
        "item_id": sa.literal(item.id, sa.BigInteger),
        "estate_id": sa.literal(item.estate_id, sa.BigInteger),
        "community_id": households.c.community_id,
        "payee_id": sa.literal(item.payee_id, sa.BigInteger),
        "period": sa.literal(start, sa.Date),
        "one_off": sa.false(),
        "title": sa.literal(period_title(item.cycle, start, item.name), sa.String),
        "quantity": quantity,
        "months": sa.literal(months, sa.SmallInteger),
        "rate_centifen": sa.literal(item.rate_centifen, sa.BigInteger),
        "meter_reading_id": reading_id,
        "amount_fen": amount,
        "discount_fen": sa.literal(0, sa.BigInteger),
        "due_on": sa.literal(due_date(start, item.due_days), sa.Date),
        "late_fee_bps_per_day": sa.literal(item.late_fee_bps_per_day, sa.Integer),
        "late_fee_cap_bps": sa.literal(item.late_fee_cap_bps, sa.Integer),
        "late_fee_waived": sa.false(),
        "status": sa.literal(BillStatus.unpaid.value, sa.String),
        "run_id": sa.literal(run_id, sa.BigInteger),
        "created_by_user_id": sa.literal(user_id, sa.BigInteger),
        "created_at": sa.func.now(),
    }
    rows = sa.select(*columns.values()).select_from(households)
    if item.formula is Formula.metered:
        rows = rows.join(
            MeterReading,
            sa.and_(
                MeterReading.household_id == households.c.id,
                MeterReading.item_id == item.id,
                MeterReading.period == start,
            ),
        )
    # A zero line (no usage this month, a free item) is not a bill.
    return list(columns), rows.where(*conditions, amount > 0)


def generate(estate_id: int, period: date, *, run_id: int | None = None, user_id: int | None = None) -> dict:
    """Bill every billable household of the estate for every active periodic item, for the cycle containing the
    month ``period``. Joins the caller's unit of work; safe to run again and concurrently.

    :return: per item public id: ``created`` (new bills), ``billable`` (households with an active membership) and
        ``missing`` (of those, left out for want of a floor area or a reading, or a zero amount).
    """
    items = db.session.scalars(
        sa.select(FeeItem)
        .where(FeeItem.estate_id == estate_id, FeeItem.is_active, FeeItem.cycle != Cycle.one_off)
        .order_by(FeeItem.id)
    ).all()
    billable = db.session.scalar(sa.select(sa.func.count()).select_from(_billable_households(estate_id).subquery()))
    stats: dict[str, Any] = {}
    for item in items:
        start = cycle_start(item.cycle, month_start(period))
        names, rows = _item_rows(item, start, run_id, user_id)
        with_data = db.session.scalar(sa.select(sa.func.count()).select_from(rows.subquery()))
        created = db.session.execute(
            pg_insert(Bill)
            .from_select(names, rows)
            .on_conflict_do_nothing(
                index_elements=["household_id", "item_id", "period"], index_where=sa.text("NOT one_off")
            )
            .returning(Bill.id)
        ).all()
        stats[item.public_id] = {
            "name": item.name,
            "period": start.isoformat(),
            "created": len(created),
            "billable": billable,
            "missing": billable - with_data,
        }
        log.info("estate %s item %s period %s: %s bills created", estate_id, item.id, start, len(created))
    return stats


@outbox.job(timeout=900)
def generate_bills(run_id: int) -> None:
    """The billing job for one run (see ``generate``); a second delivery finds the run done and does nothing."""
    with atomic():
        run = db.session.get(BillingRun, run_id, with_for_update=True, populate_existing=True)
        if run is None or run.status == "done":
            return
        run.stats = generate(run.estate_id, run.period, run_id=run.id, user_id=run.requested_by_user_id)
        run.status, run.finished_at = "done", utcnow()


def request_run(user, estate_public_id: str, period: date) -> BillingRun:
    """Queue billing of an estate for a period (出账); the job runs at once after the commit."""
    with atomic():
        estate = get_estate(estate_public_id)
        authorize(user, "fees.manage", estate, not_found=EstateNotFound)
        run = BillingRun(
            estate_id=estate.id,
            community_id=estate.community_id,
            period=month_start(period),
            requested_by_user_id=user.id,
        )
        db.session.add(run)
        db.session.flush()
        outbox.enqueue(generate_bills, run.id, key=f"fees.generate:{run.id}")
        audit.record(
            "fees.billing_run.request",
            actor=user,
            target=("billing_run", run.public_id),
            after={"estate": estate.public_id, "period": run.period.isoformat()},
        )
        return run


def get_run(user, public_id: str) -> BillingRun:
    run = db.session.scalar(sa.select(BillingRun).where(BillingRun.public_id == public_id))
    if run is None:
        raise BillingRunNotFound()
    authorize(user, "fees.read", run, not_found=BillingRunNotFound)
    return run


# --- one-off bills and adjustments -----------------------------------------------------------------------------


def create_one_off(user, data: dict[str, Any]) -> Bill:
    """Issue a one-off bill (维修分摊, 装修押金 …) to a household against one of its estate's fee items."""
    with atomic():
        item = get_item(data["item_id"])
        authorize(user, "fees.manage", item, not_found=FeeItemNotFound)
        household = db.session.scalar(sa.select(Household).where(Household.public_id == data["household_id"]))
        if household is None or db.session.get(Building, household.building_id).estate_id != item.estate_id:
            raise HouseholdNotFound()
        bill = Bill(
            household_id=household.id,
            item_id=item.id,
            estate_id=item.estate_id,
            community_id=household.community_id,
            payee_id=item.payee_id,
            period=month_start(data.get("period") or data["due_on"]),
            one_off=True,
            title=data["title"],
            amount_fen=data["amount_fen"],
            due_on=data["due_on"],
            late_fee_bps_per_day=item.late_fee_bps_per_day,
            late_fee_cap_bps=item.late_fee_cap_bps,
            created_by_user_id=user.id,
        )
        db.session.add(bill)
        db.session.flush()
        audit.record(
            "fees.bill.create",
            actor=user,
            target=("bill", bill.public_id),
            after={"household": household.public_id, "title": bill.title, "amount_fen": bill.amount_fen},
        )
        return bill


def get_bill(public_id: str, *, lock: bool = False) -> Bill:
    query = sa.select(Bill).where(Bill.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    bill = db.session.scalar(query)
    if bill is None:
        raise BillNotFound()
    return bill


def _in_open_order(bill_id: int) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.exists().where(FeeOrderLine.bill_id == bill_id, FeeOrderLine.state == LineState.open))
        )
    )


def adjust_bill(user, public_id: str, *, kind: str, reason: str, amount_fen: int = 0) -> Bill:
    """A discount (减免), a late-fee waiver or a cancellation, with its reason, audited.

    The bill row is locked first, so an adjustment and a fee order for the same bill are serialised: a bill in an
    open fee order is refused here (409 ``bill_locked``), and an order made after the adjustment sees it.

    :raises BillNotUnpaid: (409) the bill is paid, waived or cancelled.
    :raises BillLocked: (409) the bill is in an open fee order.
    :raises DiscountTooLarge: (422) the discounts would exceed the charge.
    """
    adjustment_kind = AdjustmentKind(kind)
    with atomic():
        bill = get_bill(public_id, lock=True)
        authorize(user, "fees.adjust", bill, not_found=BillNotFound)
        if bill.status is not BillStatus.unpaid:
            raise BillNotUnpaid(details={"status": bill.status.value})
        if _in_open_order(bill.id):
            raise BillLocked()
        before = {
            "discount_fen": bill.discount_fen,
            "late_fee_waived": bill.late_fee_waived,
            "status": bill.status.value,
        }
        if adjustment_kind is AdjustmentKind.discount:
            if amount_fen <= 0 or bill.discount_fen + amount_fen > bill.amount_fen:
                raise DiscountTooLarge(details={"principal_fen": bill.principal_fen})
            bill.discount_fen += amount_fen
            if bill.discount_fen == bill.amount_fen:
                bill.status = BillStatus.waived
        elif adjustment_kind is AdjustmentKind.waive_late_fee:
            bill.late_fee_waived = True
            amount_fen = 0
        else:
            bill.status = BillStatus.cancelled
            amount_fen = 0
        db.session.add(
            BillAdjustment(
                bill_id=bill.id, kind=adjustment_kind, amount_fen=amount_fen, reason=reason, by_user_id=user.id
            )
        )
        db.session.flush()
        audit.record(
            f"fees.bill.{adjustment_kind.value}",
            actor=user,
            target=("bill", bill.public_id),
            before=before,
            after={
                "discount_fen": bill.discount_fen,
                "late_fee_waived": bill.late_fee_waived,
                "status": bill.status.value,
            },
            reason=reason,
        )
        log.info("bill %s: %s (%s fen) by user %s", bill.id, adjustment_kind.value, amount_fen, user.id)
        return bill


def adjustments_of(bill_id: int) -> list[BillAdjustment]:
    return db.session.scalars(
        sa.select(BillAdjustment).where(BillAdjustment.bill_id == bill_id).order_by(BillAdjustment.id)
    ).all()
