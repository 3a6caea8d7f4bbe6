"""Working-day calendar endpoints: days for any signed-in user, overrides and data coverage for admins."""

from __future__ import annotations

import re
from datetime import date

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from app import calendar
from app.api import Blueprint, Schema
from app.auth import current_user, require
from app.errors import ValidationFailed

blp = Blueprint("calendar", __name__, url_prefix="/api/v1/calendar", description="工作日历")

#: The longest range one GET /days answers, in days (a leap year).
MAX_RANGE_DAYS = 366
# PostgreSQL refuses NUL in text, and other control characters have no place in a holiday's name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@blp.before_app_request
def _forget_overrides() -> None:
    # Tests share one app context across requests, so the per-context cache must not outlive a request there.
    calendar.forget_cache()


def _no_control_characters(value: str) -> None:
    if _CONTROL.search(value):
        raise ma.ValidationError("不能包含控制字符")


class DaySchema(Schema):
    date = fields.Date(attribute="day", metadata={"description": "YYYY-MM-DD"})
    is_workday = fields.Boolean()
    source = fields.Enum(
        calendar.DaySource,
        by_value=True,
        metadata={"description": "override = 人工调整；statutory = 法定节假日数据；fallback = 暂按周一至周五"},
    )
    name = fields.String(allow_none=True, metadata={"description": "所属节日，如 春节；调休上班日为其所补的节日"})


class DayRangeArgsSchema(Schema):
    start = fields.Date(required=True, metadata={"description": "首日（含），YYYY-MM-DD"})
    end = fields.Date(required=True, metadata={"description": f"末日（含），距首日不超过 {MAX_RANGE_DAYS} 天"})

    @ma.validates_schema
    def _range(self, data, **_kwargs) -> None:
        if data["end"] < data["start"]:
            raise ma.ValidationError("结束日期不能早于开始日期", field_name="end")
        if (data["end"] - data["start"]).days + 1 > MAX_RANGE_DAYS:
            raise ma.ValidationError(f"一次最多查询 {MAX_RANGE_DAYS} 天", field_name="end")


class OverrideInputSchema(Schema):
    is_workday = fields.Boolean(required=True, metadata={"description": "true = 上班，false = 放假"})
    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=32), _no_control_characters],
        metadata={"description": "如 春节、春节调休上班"},
    )
    note = fields.String(
        load_default=None, allow_none=True, validate=[validate.Length(max=500), _no_control_characters]
    )

    @ma.post_load
    def _strip(self, data, **_kwargs):
        data["name"] = data["name"].strip()
        if not data["name"]:
            raise ma.ValidationError("名称不能为空", field_name="name")
        return data


class OverrideSchema(Schema):
    date = fields.Date(attribute="day")
    is_workday = fields.Boolean()
    name = fields.String()
    note = fields.String(allow_none=True)
    updated_at = fields.DateTime()


class CoverageArgsSchema(Schema):
    start_year = fields.Integer(
        load_default=None,
        validate=validate.Range(calendar.MIN_OVERRIDE_YEAR, calendar.MAX_OVERRIDE_YEAR),
        metadata={"description": "默认今年"},
    )
    end_year = fields.Integer(
        load_default=None,
        validate=validate.Range(calendar.MIN_OVERRIDE_YEAR, calendar.MAX_OVERRIDE_YEAR),
        metadata={"description": "默认起始年份的下一年"},
    )

    @ma.validates_schema
    def _span(self, data, **_kwargs) -> None:
        start, end = data.get("start_year"), data.get("end_year")
        if start is not None and end is not None:
            if end < start:
                raise ma.ValidationError("结束年份不能早于起始年份", field_name="end_year")
            if end - start + 1 > calendar.MAX_COVERAGE_YEARS:
                raise ma.ValidationError(f"一次最多查询 {calendar.MAX_COVERAGE_YEARS} 年", field_name="end_year")


class YearCoverageSchema(Schema):
    year = fields.Integer()
    source = fields.Enum(
        calendar.YearSource,
        by_value=True,
        metadata={"description": "package = 法定节假日数据包；overrides = 管理员录入；fallback = 暂按周一至周五"},
    )
    override_count = fields.Integer()
    warning = fields.String(allow_none=True)


def _parse_day(text: str) -> date:
    try:
        return fields.Date().deserialize(text)
    except ma.ValidationError:
        raise ValidationFailed(details={"fields": {"path": {"day": ["日期格式应为 YYYY-MM-DD"]}}}) from None


@blp.route("/days")
class Days(MethodView):
    @blp.arguments(DayRangeArgsSchema, location="query")
    @blp.response(200, DaySchema(many=True))
    @require()
    def get(self, args):
        """List days with their working status

        Each day of the closed range [start, end] (at most 366 days), with where the answer comes from.
        """
        return calendar.days_in_range(args["start"], args["end"])


@blp.route("/overrides/<day>")
class Override(MethodView):
    @blp.arguments(OverrideInputSchema)
    @blp.response(200, OverrideSchema)
    @require("admin")
    def put(self, data, day: str):
        """Set a day's working status by hand (admins)

        Creates or replaces the override for the day (YYYY-MM-DD); it wins over the statutory data.
        """
        return calendar.set_override(_parse_day(day), actor=current_user(), **data)

    @blp.response(204)
    @require("admin")
    def delete(self, day: str):
        """Remove a day's override (admins)"""
        calendar.delete_override(_parse_day(day), actor=current_user())


@blp.route("/coverage")
class Coverage(MethodView):
    @blp.arguments(CoverageArgsSchema, location="query")
    @blp.response(200, YearCoverageSchema(many=True))
    @require("admin")
    def get(self, args):
        """Where each year's working days come from (admins)

        By default this year and next; a year with neither statutory data nor overrides carries a warning.
        """
        return calendar.coverage(args["start_year"], args["end_year"])
