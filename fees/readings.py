"""Meter readings (抄表) for metered fee items: one at a time or a CSV for the estate, checked, all rows or none.

The usage is ``current − previous``. A reading below the previous one is refused unless a meter change is written
down (``meter_change_note``): then the usage is ``(old_meter_end − previous) + (current − new_meter_start)``.
The previous reading defaults to the household's latest earlier reading of the same item.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from app import audit
from app.auth.scopes import authorize
from app.community.errors import HouseholdNotFound
from app.community.integrity import flush_checked, refusals
from app.community.models import Building, Household, Unit
from app.csv_import import ImportReport, decode_csv
from app.db import atomic
from app.extensions import db
from fees.errors import FeeItemNotFound, ImportFailed, ItemNotMetered, ReadingExists, ReadingInvalid
from fees.items import get_item
from fees.models import FeeItem, Formula, MeterReading
from fees.money import shanghai_today

log = logging.getLogger(__name__)

MAX_ROWS = 5000
TWO_PLACES = Decimal("0.01")
MAX_READING = Decimal("999999999999.99")

HEADERS = {
    "building": ("building", "楼栋", "楼号"),
    "unit": ("unit", "单元"),
    "room": ("room", "房号", "门牌号"),
    "current": ("current", "本期读数", "读数"),
    "previous": ("previous", "上期读数"),
    "read_on": ("read_on", "抄表日期"),
    "meter_change_note": ("meter_change_note", "换表说明"),
    "old_meter_end": ("old_meter_end", "旧表止数"),
    "new_meter_start": ("new_meter_start", "新表起数"),
}
REQUIRED = ("building", "room", "current")
TEMPLATE = (
    "楼栋,单元,房号,本期读数,上期读数,抄表日期,换表说明,旧表止数,新表起数\n1号楼,1单元,101,1356.20,,2026-11-28,,,\n"
)


@dataclass
class ReadingInput:
    household_id: int
    current: Decimal
    previous: Decimal | None = None
    read_on: date | None = None
    meter_change_note: str | None = None
    old_meter_end: Decimal | None = None
    new_meter_start: Decimal | None = None


def metered_item(user, item_public_id: str) -> FeeItem:
    item = get_item(item_public_id)
    authorize(user, "fees.manage", item, not_found=FeeItemNotFound)
    if item.formula is not Formula.metered:
        raise ItemNotMetered()
    return item


def _previous_readings(item_id: int, household_ids: list[int], period: date) -> dict[int, Decimal]:
    """Each household's latest reading of the item before ``period`` (one query)."""
    if not household_ids:
        return {}
    rows = db.session.execute(
        sa.select(MeterReading.household_id, MeterReading.current_reading)
        .ext(distinct_on(MeterReading.household_id))
        .where(
            MeterReading.item_id == item_id,
            MeterReading.household_id.in_(household_ids),
            MeterReading.period < period,
        )
        .order_by(MeterReading.household_id, MeterReading.period.desc())
    )
    return dict(list(rows))


def _check(entry: ReadingInput, previous: Decimal | None) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The row's values, or the errors by field."""
    errors: dict[str, str] = {}
    if previous is None:
        errors["previous"] = "没有上期读数，请填写"
        return None, errors
    note = (entry.meter_change_note or "").strip() or None
    if entry.current < previous and note is None:
        errors["current"] = f"本期读数 {entry.current} 小于上期读数 {previous}；如已换表，请填写换表说明"
        return None, errors
    if note is not None and (entry.old_meter_end is not None or entry.current < previous):
        old_end = entry.old_meter_end
        new_start = entry.new_meter_start if entry.new_meter_start is not None else Decimal(0)
        if old_end is None:
            errors["old_meter_end"] = "换表时请填写旧表止数"
        elif old_end < previous:
            errors["old_meter_end"] = "旧表止数不能小于上期读数"
        if entry.current < new_start:
            errors["new_meter_start"] = "本期读数不能小于新表起数"
        if errors:
            return None, errors
        usage = (old_end - previous) + (entry.current - new_start)
    else:
        usage = entry.current - previous
        new_start = entry.new_meter_start
    return {
        "household_id": entry.household_id,
        "previous_reading": previous,
        "current_reading": entry.current,
        "usage": usage,
        "read_on": entry.read_on or shanghai_today(),
        "meter_change_note": note,
        "old_meter_end": entry.old_meter_end,
        "new_meter_start": new_start,
    }, errors


def record_reading(user, item_public_id: str, data: dict[str, Any]) -> MeterReading:
    """Enter one household's reading for a period.

    :raises ReadingInvalid: (422) no previous reading known or given, a decrease without a meter-change note.
    :raises ReadingExists: (409) the household already has a reading for the period.
    """
    with atomic():
        item = metered_item(user, item_public_id)
        household = db.session.scalar(sa.select(Household).where(Household.public_id == data["household_id"]))
        if household is None or db.session.get(Building, household.building_id).estate_id != item.estate_id:
            raise HouseholdNotFound()
        period = data["period"]
        out_of_range = {
            name: ["读数须在 0 到 999999999999.99 之间"]
            for name in ("current_reading", "previous_reading", "old_meter_end", "new_meter_start")
            if data.get(name) is not None and not (data[name].is_finite() and 0 <= data[name] <= MAX_READING)
        }
        if out_of_range:
            raise ReadingInvalid(details={"fields": {"json": out_of_range}})
        entry = ReadingInput(
            household_id=household.id,
            current=data["current_reading"],
            previous=data.get("previous_reading"),
            read_on=data.get("read_on"),
            meter_change_note=data.get("meter_change_note"),
            old_meter_end=data.get("old_meter_end"),
            new_meter_start=data.get("new_meter_start"),
        )
        previous = entry.previous
        if previous is None:
            previous = _previous_readings(item.id, [household.id], period).get(household.id)
        values, errors = _check(entry, previous)
        if values is None:
            names = {"current": "current_reading", "previous": "previous_reading"}
            raise ReadingInvalid(details={"fields": {"json": {names.get(k, k): [v] for k, v in errors.items()}}})
        reading = MeterReading(item_id=item.id, period=period, entered_by_user_id=user.id, **values)
        db.session.add(reading)
        flush_checked(unique=ReadingExists())
        audit.record(
            "fees.reading.create",
            actor=user,
            target=("meter_reading", reading.public_id),
            after={"item": item.public_id, "period": period.isoformat(), "usage": str(reading.usage)},
        )
        return reading


def reading_view(reading: MeterReading, household_public_id: str) -> dict[str, Any]:
    return {
        "public_id": reading.public_id,
        "household_id": household_public_id,
        **{
            name: getattr(reading, name)
            for name in (
                "period",
                "previous_reading",
                "current_reading",
                "usage",
                "read_on",
                "meter_change_note",
                "old_meter_end",
                "new_meter_start",
                "created_at",
            )
        },
    }


def list_readings(user, item_public_id: str, period: date, pagination) -> list[dict[str, Any]]:
    item = get_item(item_public_id)
    authorize(user, "fees.read", item, not_found=FeeItemNotFound)
    where = sa.and_(MeterReading.item_id == item.id, MeterReading.period == period)
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(MeterReading).where(where))
    rows = db.session.execute(
        sa.select(MeterReading, Household.public_id)
        .join(Household, Household.id == MeterReading.household_id)
        .where(where)
        .order_by(MeterReading.id)
        .offset(pagination.first_item)
        .limit(pagination.page_size)
    ).all()
    return [reading_view(reading, household_public_id) for reading, household_public_id in rows]


# --- CSV import ------------------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    text = decode_csv(data)
    if text is None:
        raise ImportFailed("无法识别文件编码，请保存为 UTF-8 或 GBK 编码的 CSV", details={"errors": []})
    return text


def _header_map(fieldnames: list[str] | None) -> dict[str, str]:
    if not fieldnames:
        raise ImportFailed("文件为空", details={"errors": [], "template": TEMPLATE})
    mapping: dict[str, str] = {}
    for raw in fieldnames:
        name = (raw or "").strip()
        key = next((k for k, spellings in HEADERS.items() if name.lower() in spellings), None)
        if key is None:
            raise ImportFailed(f"无法识别的列：{name}", details={"errors": [], "template": TEMPLATE})
        mapping[raw] = key
    missing = [key for key in REQUIRED if key not in mapping.values()]
    if missing:
        labels = [HEADERS[key][1] for key in missing]
        raise ImportFailed(f"缺少必填列：{'、'.join(labels)}", details={"errors": [], "template": TEMPLATE})
    return mapping


def _number(text: str, line: int, column: str, report: ImportReport) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        report.add(line, column, "不是有效的数字")
        return None
    if not value.is_finite() or value < 0 or value > MAX_READING or value != value.quantize(TWO_PLACES):
        report.add(line, column, "读数须为非负数，最多两位小数")
        return None
    return value


def _household_keys(estate_id: int) -> dict[tuple[str, str, str], int]:
    rows = db.session.execute(
        sa.select(Building.name, Unit.name, Household.room, Household.id)
        .select_from(Household)
        .join(Building, Building.id == Household.building_id)
        .outerjoin(Unit, Unit.id == Household.unit_id)
        .where(Building.estate_id == estate_id)
    )
    return {(b, u or "", r): household_id for b, u, r, household_id in rows}


def import_readings(user, item_public_id: str, period: date, data: bytes | None) -> dict[str, Any]:
    """Import a period's readings from CSV: every row checked, all rows or none.

    :param data: the CSV bytes; None when the request carried no CSV (refused after the scope check, so a caller
        outside the item's community learns nothing from the answer).
    :raises ImportFailed: (422) with ``details.errors`` (row, column, message; the first 200) and ``error_count``.
    """
    with atomic():
        item = metered_item(user, item_public_id)
        if data is None:
            raise ImportFailed("请上传 CSV 文件（text/csv 或 multipart 的 file 字段）", details={"errors": []})
        reader = csv.DictReader(io.StringIO(_decode(data)))
        mapping = _header_map(reader.fieldnames)
        keys = _household_keys(item.estate_id)
        report = ImportReport()
        parsed: list[tuple[int, ReadingInput]] = []
        seen: dict[int, int] = {}
        for line, raw in enumerate(reader, start=2):
            if line - 1 > MAX_ROWS:
                raise ImportFailed(f"一次最多导入 {MAX_ROWS} 行", details={"errors": []})
            row = {mapping[k]: (v or "").strip() for k, v in raw.items() if k in mapping}
            if not any(row.values()):
                continue
            household_id = keys.get((row.get("building", ""), row.get("unit", ""), row.get("room", "")))
            if household_id is None:
                report.add(line, "room", "本小区没有这个房屋")
                continue
            if household_id in seen:
                report.add(line, "room", f"与第 {seen[household_id]} 行重复")
                continue
            seen[household_id] = line
            current = _number(row.get("current", ""), line, "current", report)
            if current is None:
                if not row.get("current"):
                    report.add(line, "current", "缺少本期读数")
                continue
            read_on = None
            if row.get("read_on"):
                try:
                    read_on = date.fromisoformat(row["read_on"].replace("/", "-"))
                except ValueError:
                    report.add(line, "read_on", "日期格式应为 2026-11-28")
                    continue
            parsed.append(
                (
                    line,
                    ReadingInput(
                        household_id=household_id,
                        current=current,
                        previous=_number(row.get("previous", ""), line, "previous", report),
                        read_on=read_on,
                        meter_change_note=row.get("meter_change_note") or None,
                        old_meter_end=_number(row.get("old_meter_end", ""), line, "old_meter_end", report),
                        new_meter_start=_number(row.get("new_meter_start", ""), line, "new_meter_start", report),
                    ),
                )
            )
        ids = [entry.household_id for _line, entry in parsed]
        known = _previous_readings(item.id, ids, period)
        existing = set(
            db.session.scalars(
                sa.select(MeterReading.household_id).where(
                    MeterReading.item_id == item.id, MeterReading.period == period, MeterReading.household_id.in_(ids)
                )
            )
        )
        rows = []
        for line, entry in parsed:
            if entry.household_id in existing:
                report.add(line, "room", "该户本期已录入读数")
                continue
            values, errors = _check(
                entry, entry.previous if entry.previous is not None else known.get(entry.household_id)
            )
            for column, message in errors.items():
                report.add(line, column, message)
            if values is not None:
                rows.append({**values, "item_id": item.id, "period": period, "entered_by_user_id": user.id})
        if report.count:
            raise ImportFailed(details={"errors": report.errors, "error_count": report.count})
        if rows:
            # Several thousand rows in one statement; the unique constraint still refuses a concurrent import.
            with refusals(unique=ReadingExists()):
                db.session.execute(sa.insert(MeterReading), rows)
        audit.record(
            "fees.reading.import",
            actor=user,
            target=("fee_item", item.public_id),
            after={"period": period.isoformat(), "rows": len(rows)},
        )
        log.info("%s readings of item %s for %s imported by user %s", len(rows), item.id, period, user.id)
        return {"imported": len(rows), "period": period}
