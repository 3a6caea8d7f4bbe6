"""CSV import of buildings, units and households into one estate: every row checked, all rows or none."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from app import audit
from app.auth.scopes import authorize
from app.community.errors import EstateNotFound, ImportFailed, NameTaken
from app.community.integrity import flush_checked
from app.community.models import Building, Estate, Household, Unit
from app.csv_import import ImportReport, decode_csv
from app.db import atomic
from app.extensions import db

log = logging.getLogger(__name__)

MAX_ROWS = 5000
#: Row errors listed in the answer; the count covers all of them.

#: Accepted header spellings (Chinese as staff type them, English as exported by other tools).
HEADERS = {
    "building": ("building", "楼栋", "楼号", "楼栋号"),
    "unit": ("unit", "单元", "单元号"),
    "room": ("room", "房号", "门牌号", "室"),
    "floor": ("floor", "楼层", "所在楼层"),
    "floor_area_m2": ("floor_area_m2", "面积", "建筑面积", "面积(m²)", "面积（平方米）", "建筑面积(m²)"),
    "building_floors": ("building_floors", "总层数", "楼层数"),
}
REQUIRED = ("building",)
TEMPLATE = "楼栋,单元,房号,楼层,面积\n3号楼,1单元,502,5,89.50\n"


@dataclass
class _Row:
    line: int
    building: str
    unit: str | None
    room: str | None
    floor: int | None
    floor_area_dm2: int | None
    building_floors: int | None


def _decode(data: bytes) -> str:
    text = decode_csv(data)
    if text is None:
        raise ImportFailed("无法识别文件编码，请保存为 UTF-8 或 GBK 编码的 CSV", details={"errors": []})
    return text


def _header_map(fieldnames: list[str] | None) -> dict[str, str]:
    if not fieldnames:
        raise ImportFailed("文件为空", details={"errors": [], "template": TEMPLATE})
    mapping: dict[str, str] = {}
    unknown = []
    for raw in fieldnames:
        name = (raw or "").strip()
        key = next((k for k, spellings in HEADERS.items() if name.lower() in spellings), None)
        if key is None:
            unknown.append(name)
        elif key in mapping:
            raise ImportFailed(f"列“{name}”重复", details={"errors": [], "template": TEMPLATE})
        else:
            mapping[key] = raw
    missing = [key for key in REQUIRED if key not in mapping]
    if missing or unknown:
        raise ImportFailed(
            "表头不正确",
            details={"errors": [], "missing_columns": missing, "unknown_columns": unknown, "template": TEMPLATE},
        )
    return mapping


def _text(value: str | None, line: int, column: str, report: ImportReport, *, limit: int = 32) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > limit:
        report.add(line, column, f"不能超过 {limit} 个字符")
        return None
    return text


def _integer(value: str | None, line: int, column: str, report: ImportReport, low: int, high: int) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        report.add(line, column, "应为整数")
        return None
    if not low <= number <= high:
        report.add(line, column, f"应在 {low} 到 {high} 之间")
        return None
    return number


def _area(value: str | None, line: int, report: ImportReport) -> int | None:
    text = (value or "").strip().removesuffix("㎡").removesuffix("m²").strip()
    if not text:
        return None
    try:
        area = Decimal(text)
    except InvalidOperation:
        report.add(line, "floor_area_m2", "面积应为数字，例如 89.50")
        return None
    if not area.is_finite() or area <= 0 or area >= 100000:
        report.add(line, "floor_area_m2", "面积应大于 0 且小于 100000 平方米")
        return None
    hundredths = area * 100
    if hundredths != hundredths.to_integral_value():
        report.add(line, "floor_area_m2", "面积最多保留两位小数")
        return None
    return int(hundredths)


def _parse(text: str, report: ImportReport) -> list[_Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = _header_map(reader.fieldnames)
    rows: list[_Row] = []
    for index, record in enumerate(reader):
        line = index + 2  # the header is line 1, as a spreadsheet numbers rows
        if index >= MAX_ROWS:
            raise ImportFailed(f"一次最多导入 {MAX_ROWS} 行", details={"errors": []})
        if None in record:  # more cells than headers
            report.add(line, "", "该行的列数多于表头")
            continue
        if not any((value or "").strip() for value in record.values()):
            continue  # blank lines at the end of a spreadsheet
        get = {key: record.get(header) for key, header in columns.items()}
        building = _text(get.get("building"), line, "building", report)
        if building is None and (get.get("building") or "").strip() == "":
            report.add(line, "building", "楼栋不能为空")
        unit = _text(get.get("unit"), line, "unit", report)
        room = _text(get.get("room"), line, "room", report)
        floor = _integer(get.get("floor"), line, "floor", report, -10, 200)
        area = _area(get.get("floor_area_m2"), line, report)
        floors = _integer(get.get("building_floors"), line, "building_floors", report, 1, 200)
        if room is None and (floor is not None or area is not None):
            report.add(line, "room", "填写了楼层或面积时，房号不能为空")
        if building is not None:
            rows.append(_Row(line, building, unit, room, floor, area, floors))
    return rows


def check_access(user, estate_public_id: str) -> None:
    """Refuse before the upload is read: 404 outside the caller's scope, 403 below ``community.manage`` (so an
    outsider learns nothing, not even what the body should be)."""
    estate = db.session.scalar(sa.select(Estate).where(Estate.public_id == estate_public_id))
    if estate is None:
        raise EstateNotFound()
    authorize(user, "community.manage", estate, not_found=EstateNotFound)


def import_households(user, estate_public_id: str, data: bytes) -> dict[str, int]:
    """Import rows of ``楼栋,单元,房号,楼层,面积`` (unit, room, floor, area optional; a row without a room creates just
    the building and unit). Existing buildings and units are reused; a room that already exists is an error.

    :raises ImportFailed: (422) with ``details.errors`` = ``[{row, column, message}]``; nothing is imported.
    :return: counts of buildings, units and households created.
    """
    with atomic():
        estate = db.session.scalar(sa.select(Estate).where(Estate.public_id == estate_public_id))
        if estate is None:
            raise EstateNotFound()
        authorize(user, "community.manage", estate, not_found=EstateNotFound)
        # One import per estate at a time: the second waits, then sees the first one's rooms as existing.
        db.session.execute(sa.select(Estate.id).where(Estate.id == estate.id).with_for_update())

        report = ImportReport()
        rows = _parse(_decode(data), report)
        if not rows and not report.count:
            raise ImportFailed("文件中没有数据行", details={"errors": [], "template": TEMPLATE})

        buildings = {b.name: b for b in db.session.scalars(sa.select(Building).where(Building.estate_id == estate.id))}
        units = {
            (u.building_id, u.name): u
            for u in db.session.scalars(
                sa.select(Unit).join(Building, Building.id == Unit.building_id).where(Building.estate_id == estate.id)
            )
        }
        unit_names = {u.id: u.name for u in units.values()}
        existing = {
            (building_name, unit_names.get(unit_id), room)
            for building_name, unit_id, room in db.session.execute(
                sa.select(Building.name, Household.unit_id, Household.room)
                .join(Building, Building.id == Household.building_id)
                .where(Building.estate_id == estate.id)
            )
        }
        seen: dict[tuple, int] = {}
        for row in rows:
            if row.room is None:
                continue
            key = (row.building, row.unit, row.room)
            if key in existing:
                report.add(row.line, "room", "该房屋已存在")
            elif key in seen:
                report.add(row.line, "room", f"与第 {seen[key]} 行重复")
            else:
                seen[key] = row.line
        if report.count:
            raise ImportFailed(details={"errors": report.errors, "error_count": report.count})

        created = {"buildings": 0, "units": 0, "households": 0}
        for row in rows:
            building = buildings.get(row.building)
            if building is None:
                building = Building(
                    estate_id=estate.id, community_id=estate.community_id, name=row.building, floors=row.building_floors
                )
                db.session.add(building)
                db.session.flush()
                buildings[row.building] = building
                created["buildings"] += 1
            unit = None
            if row.unit is not None:
                unit = units.get((building.id, row.unit))
                if unit is None:
                    unit = Unit(building_id=building.id, name=row.unit)
                    db.session.add(unit)
                    db.session.flush()
                    units[(building.id, row.unit)] = unit
                    created["units"] += 1
            if row.room is not None:
                db.session.add(
                    Household(
                        building_id=building.id,
                        unit_id=unit.id if unit else None,
                        community_id=estate.community_id,
                        room=row.room,
                        floor=row.floor,
                        floor_area_dm2=row.floor_area_dm2,
                    )
                )
                created["households"] += 1
        flush_checked(unique=NameTaken("导入期间数据已变化，请重试"))
        audit.record("community.import", actor=user, target=("estate", estate.public_id), after=created)
        log.info("import into estate %s by user %s: %s", estate.id, user.id, created)
        return created
