"""Errors of the community tree."""

from __future__ import annotations

from app.errors import Conflict, NotFound, ValidationFailed


class RegionNotFound(NotFound):
    code, message = "region_not_found", "辖区不存在"


class EstateNotFound(NotFound):
    code, message = "estate_not_found", "小区或院落不存在"


class BuildingNotFound(NotFound):
    code, message = "building_not_found", "楼栋不存在"


class UnitNotFound(NotFound):
    code, message = "unit_not_found", "单元不存在"


class HouseholdNotFound(NotFound):
    code, message = "household_not_found", "房屋不存在"


class UserNotFound(NotFound):
    code, message = "user_not_found", "账号不存在"


class NameTaken(Conflict):
    code, message = "name_taken", "同一级下已有同名记录"


class HasChildren(Conflict):
    code, message = "has_children", "请先删除或迁出下级记录"


class WrongParentKind(ValidationFailed):
    code, message = "wrong_parent_kind", "上级辖区类型不正确"


class ImportFailed(ValidationFailed):
    code, message = "import_failed", "导入文件有误，未导入任何数据"
