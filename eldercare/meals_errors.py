"""Errors of meals, recurring orders and the care balance: stable English codes, Chinese messages."""

from app.errors import APIError, Conflict, NotFound


class MealCutoffPassed(Conflict):
    code, message = "meal_cutoff_passed", "已过当天订餐截止时间"


class DietConflictUnconfirmed(Conflict):
    code, message = "diet_conflict_unconfirmed", "所选菜品与老人的饮食禁忌冲突，请确认后再下单"


class NotAMealOffer(APIError):
    status, code, message = 422, "not_a_meal_offer", "该服务不是助餐服务"


class DishNotFound(NotFound):
    code, message = "dish_not_found", "菜品不存在"


class DishNameTaken(Conflict):
    code, message = "dish_name_taken", "本机构已有同名菜品"


class MenuEntryNotFound(NotFound):
    code, message = "menu_entry_not_found", "菜单中没有该菜品"


class SeriesNotFound(NotFound):
    code, message = "care_series_not_found", "周期服务不存在"


class SeriesEnded(Conflict):
    code, message = "care_series_ended", "周期服务已结束"


class CareBalanceNotFound(NotFound):
    code, message = "care_balance_not_found", "助餐卡不存在"


class CareBalanceExists(Conflict):
    code, message = "care_balance_exists", "该老人已有本机构的助餐卡"


class TopupNotFound(NotFound):
    code, message = "balance_topup_not_found", "充值单不存在"
