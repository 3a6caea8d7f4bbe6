"""Arrears: the staff arrears list and its CSV export, reminders (催缴) on a schedule, and the collection dashboard."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import audit, outbox
from app.accounts.households import household_resident_ids, mask_name
from app.accounts.models import User
from app.accounts.resident_models import HouseholdMembership, MembershipRole, MembershipStatus, Resident
from app.accounts.residents import mask_phone
from app.api import SHANGHAI
from app.auth.scopes import authorize
from app.community.errors import EstateNotFound
from app.community.models import Building, Estate, Household, Unit
from app.community.services import get_estate, household_address
from app.db import atomic
from app.extensions import db
from fees import notify
from fees.models import ArrearsReminder, Bill, BillStatus, ReminderMark
from fees.money import late_fee_sql, shanghai_today, yuan

log = logging.getLogger(__name__)

#: A household is reminded at most once in this many days (``FEES_REMINDER_INTERVAL_DAYS``).
DEFAULT_INTERVAL_DAYS = 7


def _interval_days() -> int:
    return int(current_app.config.get("FEES_REMINDER_INTERVAL_DAYS", DEFAULT_INTERVAL_DAYS))


def _overdue(today: date, estate_id: int | None = None):
    """Per household: overdue unpaid bills, their principal and late fees as of ``today``, the oldest due date."""
    principal = Bill.amount_fen - Bill.discount_fen
    late = late_fee_sql(
        principal, Bill.due_on, today, Bill.late_fee_bps_per_day, Bill.late_fee_cap_bps, Bill.late_fee_waived
    )
    query = (
        sa.select(
            Bill.household_id.label("household_id"),
            Bill.estate_id.label("estate_id"),
            sa.func.count().label("bills"),
            sa.cast(sa.func.sum(principal), sa.BigInteger).label("principal_fen"),
            sa.cast(sa.func.sum(late), sa.BigInteger).label("late_fee_fen"),
            sa.func.min(Bill.due_on).label("oldest_due_on"),
        )
        .where(Bill.status == BillStatus.unpaid, Bill.due_on < today)
        .group_by(Bill.household_id, Bill.estate_id)
    )
    if estate_id is not None:
        query = query.where(Bill.estate_id == estate_id)
    return query


def _heads(household_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """Each household's head: masked name and masked phone."""
    rows = db.session.execute(
        sa.select(HouseholdMembership.household_id, Resident.real_name, User.phone)
        .join(Resident, Resident.id == HouseholdMembership.resident_id)
        .outerjoin(User, User.id == Resident.user_id)
        .where(
            HouseholdMembership.household_id.in_(household_ids),
            HouseholdMembership.status == MembershipStatus.active,
            HouseholdMembership.role == MembershipRole.head,
        )
    )
    return {hid: (mask_name(name) if name else None, mask_phone(phone)) for hid, name, phone in rows}


def _arrears_rows(estate: Estate, today: date, *, offset: int | None = None, limit: int | None = None):
    overdue = _overdue(today, estate.id).subquery()
    query = (
        sa.select(
            overdue,
            Household.public_id.label("household_public_id"),
            Building.name.label("building"),
            Unit.name.label("unit"),
            Household.room,
            ReminderMark.last_sent_on,
        )
        .join(Household, Household.id == overdue.c.household_id)
        .join(Building, Building.id == Household.building_id)
        .outerjoin(Unit, Unit.id == Household.unit_id)
        .outerjoin(ReminderMark, ReminderMark.household_id == overdue.c.household_id)
        .order_by(overdue.c.principal_fen.desc(), overdue.c.household_id)
    )
    if offset is not None:
        query = query.offset(offset).limit(limit)
    rows = db.session.execute(query).all()
    heads = _heads([row.household_id for row in rows])
    return [
        {
            "household_id": row.household_public_id,
            "building": row.building,
            "unit": row.unit,
            "room": row.room,
            "head_name": heads.get(row.household_id, (None, None))[0],
            "head_phone": heads.get(row.household_id, (None, None))[1],
            "bills": row.bills,
            "principal_fen": row.principal_fen,
            "late_fee_fen": row.late_fee_fen,
            "total_fen": row.principal_fen + row.late_fee_fen,
            "oldest_due_on": row.oldest_due_on,
            "last_reminded_on": row.last_sent_on,
        }
        for row in rows
    ]


def arrears_list(user, estate_public_id: str, pagination) -> list[dict[str, Any]]:
    """Staff worklist: households with overdue bills, largest arrears first; names and phones masked."""
    estate = get_estate(estate_public_id)
    authorize(user, "fees.read", estate, not_found=EstateNotFound)
    today = shanghai_today()
    pagination.item_count = db.session.scalar(
        sa.select(sa.func.count()).select_from(_overdue(today, estate.id).subquery())
    )
    return _arrears_rows(estate, today, offset=pagination.first_item, limit=pagination.page_size)


CSV_COLUMNS = (
    ("building", "楼栋"),
    ("unit", "单元"),
    ("room", "房号"),
    ("head_name", "户主"),
    ("head_phone", "联系电话"),
    ("bills", "逾期笔数"),
    ("principal", "欠费本金（元）"),
    ("late_fee", "滞纳金（元）"),
    ("total", "合计（元）"),
    ("oldest_due_on", "最早应缴日"),
    ("last_reminded_on", "上次催缴"),
)


def export_arrears(user, estate_public_id: str) -> tuple[str, str]:
    """The arrears list as CSV (UTF-8 with BOM, so Excel opens it), masked, and the export logged.

    :return: (filename, CSV text)
    """
    with atomic():
        estate = get_estate(estate_public_id)
        authorize(user, "fees.export", estate, not_found=EstateNotFound)
        today = shanghai_today()
        rows = _arrears_rows(estate, today)
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow([label for _key, label in CSV_COLUMNS])
        for row in rows:
            values = {
                **row,
                "principal": yuan(row["principal_fen"]),
                "late_fee": yuan(row["late_fee_fen"]),
                "total": yuan(row["total_fen"]),
            }
            writer.writerow(["" if values[key] is None else values[key] for key, _label in CSV_COLUMNS])
        audit.record(
            "fees.export",
            actor=user,
            target=("estate", estate.public_id),
            after={"export": "arrears", "rows": len(rows), "as_of": today.isoformat()},
        )
        log.info("arrears of estate %s exported by user %s (%s rows)", estate.id, user.id, len(rows))
        return f"arrears-{today.isoformat()}.csv", out.getvalue()


# --- reminders -------------------------------------------------------------------------------------------------


def remind_arrears(*, today: date | None = None, estate_id: int | None = None, by_user=None) -> int:
    """Remind every household with overdue bills that was not reminded in the last N days (joins the caller's unit
    of work). The guard is one upsert on ``fees_reminder_marks``: a household's mark moves to today only if it is N
    days old, so two runs at once (the schedule and a staff click) remind each household once.

    :return: households reminded now.
    """
    today = today or shanghai_today()
    interval = _interval_days()
    overdue = _overdue(today, estate_id).subquery()
    marked = (
        db.session.execute(
            pg_insert(ReminderMark)
            .from_select(
                ["household_id", "last_sent_on"], sa.select(overdue.c.household_id, sa.literal(today, sa.Date))
            )
            .on_conflict_do_update(
                index_elements=[ReminderMark.household_id],
                set_={"last_sent_on": sa.literal(today, sa.Date)},
                where=ReminderMark.last_sent_on <= today - timedelta(days=interval),
            )
            .returning(ReminderMark.household_id)
        )
        .scalars()
        .all()
    )
    if not marked:
        return 0
    rows = {
        row.household_id: row
        for row in db.session.execute(sa.select(overdue).where(overdue.c.household_id.in_(marked)))
    }
    households = {h.id: h for h in db.session.scalars(sa.select(Household).where(Household.id.in_(marked)))}
    for household_id in sorted(marked):
        row, household = rows[household_id], households[household_id]
        total = row.principal_fen + row.late_fee_fen
        delivery = notify.send_arrears_reminder(
            household.public_id,
            household_resident_ids(household_id),
            {
                "address": household_address(household)["label"],
                "count": row.bills,
                "amount": yuan(total),
                "as_of": f"{today.month}月{today.day}日",
            },
            key=f"fees.arrears:{household_id}:{today.isoformat()}",
        )
        db.session.add(
            ArrearsReminder(
                household_id=household_id,
                estate_id=row.estate_id,
                sent_on=today,
                bills_count=row.bills,
                principal_fen=row.principal_fen,
                late_fee_fen=row.late_fee_fen,
                delivery_id=delivery,
                by_user_id=getattr(by_user, "id", None),
            )
        )
    db.session.flush()
    log.info("arrears reminders sent to %s households (estate %s)", len(marked), estate_id or "all")
    return len(marked)


@outbox.periodic("fees.arrears_reminders", "0 10 * * *")
def send_arrears_reminders(slot: str) -> None:
    """Every day at 10:00 Asia/Shanghai: remind households with overdue bills (each at most once in N days)."""
    with atomic():
        remind_arrears(today=datetime.fromisoformat(slot).astimezone(SHANGHAI).date())


def remind_estate(user, estate_public_id: str) -> dict[str, Any]:
    """Staff send reminders for one estate now (the same guard as the schedule)."""
    with atomic():
        estate = get_estate(estate_public_id)
        authorize(user, "fees.manage", estate, not_found=EstateNotFound)
        count = remind_arrears(estate_id=estate.id, by_user=user)
        audit.record("fees.remind", actor=user, target=("estate", estate.public_id), after={"households": count})
        return {"reminded": count, "interval_days": _interval_days()}


# --- dashboard -------------------------------------------------------------------------------------------------

RATE_DEFINITION = (
    "collection_rate = collected_fen / billed_fen. billed_fen: principal of the period's bills after discounts "
    "(cancelled bills excluded). collected_fen: principal paid on those bills (late fees excluded, counted apart "
    "in late_fees_collected_fen)."
)


def _rate(collected: int, billed: int) -> str | None:
    if not billed:
        return None
    return str((Decimal(collected) * 100 / billed).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def dashboard(user, estate_public_id: str, *, start: date, end: date) -> dict[str, Any]:
    """Per period of an estate: billed, collected, collection rate, outstanding and arrears (as of today)."""
    estate = get_estate(estate_public_id)
    authorize(user, "fees.read", estate, not_found=EstateNotFound)
    today = shanghai_today()
    principal = Bill.amount_fen - Bill.discount_fen
    not_cancelled = Bill.status != BillStatus.cancelled
    unpaid = Bill.status == BillStatus.unpaid
    overdue = sa.and_(unpaid, Bill.due_on < today)

    def total(value, condition):
        return sa.cast(sa.func.coalesce(sa.func.sum(value).filter(condition), 0), sa.BigInteger)

    rows = db.session.execute(
        sa.select(
            Bill.period,
            sa.func.count().filter(not_cancelled).label("bills"),
            sa.func.count().filter(Bill.status == BillStatus.paid).label("paid_bills"),
            total(principal, not_cancelled).label("billed_fen"),
            total(Bill.paid_principal_fen, Bill.status == BillStatus.paid).label("collected_fen"),
            total(Bill.paid_late_fee_fen, Bill.status == BillStatus.paid).label("late_fees_collected_fen"),
            total(principal, unpaid).label("outstanding_fen"),
            total(principal, overdue).label("arrears_fen"),
            sa.func.count(sa.distinct(Bill.household_id)).filter(overdue).label("arrears_households"),
        )
        .where(Bill.estate_id == estate.id, Bill.period >= start, Bill.period <= end)
        .group_by(Bill.period)
        .order_by(Bill.period)
    ).all()
    periods = []
    sums = dict.fromkeys(
        (
            "bills",
            "paid_bills",
            "billed_fen",
            "collected_fen",
            "late_fees_collected_fen",
            "outstanding_fen",
            "arrears_fen",
        ),
        0,
    )
    for row in rows:
        values = row._asdict()
        for key in sums:
            sums[key] += values[key]
        values["collection_rate_percent"] = _rate(values["collected_fen"], values["billed_fen"])
        periods.append(values)
    arrears_households = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Bill.household_id))).where(
            Bill.estate_id == estate.id, Bill.period >= start, Bill.period <= end, overdue
        )
    )
    return {
        "estate": {"id": estate.public_id, "name": estate.name},
        "start": start,
        "end": end,
        "as_of": today,
        "periods": periods,
        "total": {
            **sums,
            "arrears_households": arrears_households,
            "collection_rate_percent": _rate(sums["collected_fen"], sums["billed_fen"]),
        },
        "definition": RATE_DEFINITION,
    }
