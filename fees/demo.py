"""Demo data for fees: the property company as payee, fee items for 幸福家园小区 and 老槐树院, meter readings, and
bills for last month (overdue, so a late fee shows) and this month, the elder's courtyard flat included.

In ``make run`` the daughter (+8619900000003) signs in with dev-login, lists ``GET /api/v1/fees/households`` (her
flat and her mother's), makes a fee order of her mother's bills, pays it with the sandbox channel, confirms it, and
reads the receipt.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from app.accounts.resident_models import HouseholdMembership, MembershipStatus
from app.community.models import Building, Estate, Household
from app.demo import seeder
from app.extensions import db
from fees.billing import generate
from fees.models import Cycle, FeeItem, FeeKind, Formula, MeterReading
from fees.money import add_months, month_start, shanghai_today

PAYEE_NAME = "幸福物业服务有限公司（演示）"


def _item(estate: Estate, payee_id: int, name: str, kind: FeeKind, formula: Formula, rate: int, **extra) -> FeeItem:
    item = FeeItem(
        estate_id=estate.id,
        community_id=estate.community_id,
        payee_id=payee_id,
        name=name,
        kind=kind,
        formula=formula,
        rate_centifen=rate,
        cycle=Cycle.monthly,
        due_days=15,
        **extra,
    )
    db.session.add(item)
    db.session.flush()
    return item


@seeder("fees", order=60)
def seed_fees() -> None:
    from payments.models import Payee, PayeeKind

    estates = {
        e.name: e for e in db.session.scalars(sa.select(Estate).where(Estate.name.in_(["幸福家园小区", "老槐树院"])))
    }
    if len(estates) < 2:
        return  # the identity seeder did not run (a test seeding only some domains)
    payee = Payee(name=PAYEE_NAME, kind=PayeeKind.property_company)
    db.session.add(payee)
    db.session.flush()
    late = {"late_fee_bps_per_day": 5, "late_fee_cap_bps": 10000}  # 万分之五每天，最多不超过本金
    estate, courtyard = estates["幸福家园小区"], estates["老槐树院"]
    _item(estate, payee.id, "物业费", FeeKind.property, Formula.per_area, 15000, **late)  # 1.50 元/㎡·月
    _item(estate, payee.id, "垃圾处理费", FeeKind.garbage, Formula.fixed, 80000)  # 8.00 元/户·月
    electricity = _item(
        estate, payee.id, "公摊电费", FeeKind.electricity, Formula.metered, 4883, unit_label="kWh"
    )  # 0.4883 元/kWh
    _item(courtyard, payee.id, "物业费", FeeKind.property, Formula.per_area, 8000, **late)  # 0.80 元/㎡·月
    _item(courtyard, payee.id, "卫生费", FeeKind.garbage, Formula.fixed, 50000)  # 5.00 元/户·月

    this_month = month_start(shanghai_today())
    last_month = add_months(this_month, -1)
    occupied = db.session.scalars(
        sa.select(Household.id)
        .join(Building, Building.id == Household.building_id)
        .where(
            Building.estate_id == estate.id,
            sa.exists().where(
                HouseholdMembership.household_id == Household.id,
                HouseholdMembership.status == MembershipStatus.active,
            ),
        )
        .order_by(Household.id)
    ).all()
    for offset, household_id in enumerate(occupied):
        start = Decimal(1200 + 150 * offset)
        for number, period in enumerate((last_month, this_month)):
            previous = start + Decimal("86.40") * number
            db.session.add(
                MeterReading(
                    item_id=electricity.id,
                    household_id=household_id,
                    period=period,
                    previous_reading=previous,
                    current_reading=previous + Decimal("86.40"),
                    usage=Decimal("86.40"),
                    read_on=period,
                )
            )
    db.session.flush()
    for period in (last_month, this_month):
        generate(estate.id, period)
        generate(courtyard.id, period)
