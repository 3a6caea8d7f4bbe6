"""Views of meals (dishes, menus, meal orders), recurring orders and care balances: parse, permission, one service
call, return."""

from __future__ import annotations

from datetime import date, time

from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from eldercare import balance_payable as _balance_payable  # noqa: F401  (registers eldercare.balance_topup)
from eldercare import balances, blp, meals, recurring
from eldercare import demo as _demo  # noqa: F401  (registers the demo seeder)
from eldercare import recurring_jobs as _recurring_jobs  # noqa: F401  (registers the jobs)
from eldercare.meal_schemas import (
    BalanceEntryPageSchema,
    CareBalanceIssueSchema,
    CareBalanceQueryArgsSchema,
    CareBalanceSchema,
    DishCreateSchema,
    DishPageSchema,
    DishSchema,
    MealOrderCreateSchema,
    MealOrderSchema,
    MealQuoteSchema,
    MealSettingsSchema,
    MenuEntryPageSchema,
    MenuEntrySchema,
    MenuPublishSchema,
    MenuQueryArgsSchema,
    SeriesCreateSchema,
    SeriesEndSchema,
    SeriesPageSchema,
    SeriesPauseSchema,
    SeriesQueryArgsSchema,
    SeriesResumeSchema,
    SeriesSchema,
    TopupCreateSchema,
    TopupSchema,
)
from eldercare.schemas import CareOrderSchema

FAMILY = "the elder, or a family member with an eldercare delegation"

# --- meals ---------------------------------------------------------------------------------------------------------


@blp.route("/providers/<provider_id>/meal-settings")
class ProviderMealSettings(MethodView):
    @blp.arguments(MealSettingsSchema)
    @blp.response(200, MealSettingsSchema)
    @scoped("eldercare.provider.manage")
    def put(self, data, provider_id):
        """Set the daily meal ordering cut-off and the serving time"""
        return meals.set_settings(
            current_user(),
            provider_id,
            cutoff=time.fromisoformat(data["cutoff"]),
            serve_at=time.fromisoformat(data["serve_at"]),
        )


@blp.route("/providers/<provider_id>/dishes")
class ProviderDishes(MethodView):
    @blp.arguments(DishCreateSchema)
    @blp.response(201, DishSchema)
    @scoped("eldercare.provider.manage")
    def post(self, data, provider_id):
        """Add a dish with its diet tags and the diet needs it conflicts with"""
        return meals.create_dish(current_user(), provider_id, data)

    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, DishPageSchema)
    @scoped("eldercare.provider.read")
    def get(self, args, provider_id):
        """A provider's dishes, newest first"""
        return meals.list_dishes(current_user(), provider_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/providers/<provider_id>/menus/<day>")
class ProviderMenu(MethodView):
    @blp.arguments(MenuPublishSchema)
    @blp.response(200, MenuEntrySchema(many=True))
    @scoped("eldercare.provider.manage")
    def put(self, data, provider_id, day):
        """Publish a day's menu for one meal offer (dishes not listed are taken off)"""
        from app.errors import ValidationFailed

        try:
            parsed = date.fromisoformat(day)
        except ValueError:
            raise ValidationFailed(details={"fields": {"day": ["日期格式为 YYYY-MM-DD"]}}) from None
        return meals.publish_menu(current_user(), provider_id, parsed, data)


@blp.route("/meals/menus")
class MealMenus(MethodView):
    @blp.arguments(MenuQueryArgsSchema, location="query")
    @blp.response(200, MenuEntryPageSchema)
    @scoped(also="any signed-in account; with elder_id: " + FAMILY + " (diet conflicts shown)")
    def get(self, args):
        """A day's menus of approved providers, with the cut-off and, for an elder, the diet conflicts"""
        return meals.browse_menu(
            current_user(),
            day=args["day"],
            community_public_id=args["community_id"],
            elder_id=args["elder_id"],
            cursor=args["cursor"],
            limit=args["limit"],
        )


@blp.route("/meals/quote")
class MealQuote(MethodView):
    @blp.arguments(MealOrderCreateSchema)
    @blp.response(200, MealQuoteSchema)
    @scoped(also=FAMILY + ", staff by phone with a reason")
    def post(self, data):
        """Price, subsidy, copay, cut-off and diet conflicts of a dish before ordering (nothing is held)"""
        return meals.quote_meal(current_user(), data)


@blp.route("/meals/orders")
class MealOrders(MethodView):
    @idempotent
    @blp.arguments(MealOrderCreateSchema)
    @blp.response(201, MealOrderSchema)
    @scoped(also=FAMILY + " (elder_id), staff by phone (elder_id and reason)")
    def post(self, data):
        """Order a dish from a day's menu

        Refused after the provider's cut-off for the day (409 meal_cutoff_passed); a dish that conflicts with the
        elder's diet notes needs confirm_diet_conflict (409 diet_conflict_unconfirmed lists the conflicts).
        """
        return meals.place_meal_order(current_user(), data)


# --- recurring orders ----------------------------------------------------------------------------------------------


@blp.route("/series")
class CareSeriesList(MethodView):
    @idempotent
    @blp.arguments(SeriesCreateSchema)
    @blp.response(201, SeriesSchema)
    @scoped(also=FAMILY + " (elder_id), staff by phone (elder_id and reason)")
    def post(self, data):
        """Start a recurring order (every working day, or weekly); the next two weeks are ordered now"""
        series = recurring.create_series(current_user(), data)
        return recurring.series_view(series)

    @blp.arguments(SeriesQueryArgsSchema, location="query")
    @blp.response(200, SeriesPageSchema)
    @scoped(also=FAMILY)
    def get(self, args):
        """An elder's recurring orders, newest first"""
        return recurring.elder_series(current_user(), args["elder_id"], cursor=args["cursor"], limit=args["limit"])


@blp.route("/series/<series_id>")
class CareSeriesById(MethodView):
    @blp.response(200, SeriesSchema)
    @scoped(also=FAMILY + ", the provider's admin")
    def get(self, series_id):
        """A recurring order with its pauses and coming occurrences"""
        return recurring.read_series(current_user(), series_id)


@blp.route("/series/<series_id>/pause")
class CareSeriesPause(MethodView):
    @blp.arguments(SeriesPauseSchema)
    @blp.response(200, SeriesSchema)
    @scoped(also=FAMILY)
    def post(self, data, series_id):
        """Pause a recurring order (a hospital stay); occurrences in the paused days are cancelled"""
        series = recurring.pause_series(
            current_user(), series_id, from_day=data["from_"], to_day=data["to"], reason=data["reason"]
        )
        return recurring.series_view(series)


@blp.route("/series/<series_id>/resume")
class CareSeriesResume(MethodView):
    @blp.arguments(SeriesResumeSchema)
    @blp.response(200, SeriesSchema)
    @scoped(also=FAMILY)
    def post(self, data, series_id):
        """Resume a paused recurring order"""
        return recurring.series_view(recurring.resume_series(current_user(), series_id, on=data["on"]))


@blp.route("/series/<series_id>/end")
class CareSeriesEnd(MethodView):
    @blp.arguments(SeriesEndSchema)
    @blp.response(200, SeriesSchema)
    @scoped(also=FAMILY)
    def post(self, data, series_id):
        """End a recurring order; occurrences not yet started are cancelled"""
        return recurring.series_view(recurring.end_series(current_user(), series_id, reason=data["reason"]))


# --- care balances -------------------------------------------------------------------------------------------------


@blp.route("/providers/<provider_id>/balances")
class ProviderCareBalances(MethodView):
    @blp.arguments(CareBalanceIssueSchema)
    @blp.response(201, CareBalanceSchema)
    @scoped("eldercare.provider.manage")
    def post(self, data, provider_id):
        """Issue a care balance (助餐卡) to an elder in one of the provider's communities"""
        return balances.issue_balance(current_user(), provider_id, elder_id=data["elder_id"])


@blp.route("/balances")
class CareBalances(MethodView):
    @blp.arguments(CareBalanceQueryArgsSchema, location="query")
    @blp.response(200, CareBalanceSchema(many=True))
    @scoped(also=FAMILY)
    def get(self, args):
        """An elder's care balances (one per provider at most)"""
        return balances.elder_balances(current_user(), args["elder_id"])


@blp.route("/balances/<balance_id>")
class CareBalanceById(MethodView):
    @blp.response(200, CareBalanceSchema)
    @scoped(also=FAMILY + ", the provider's admin")
    def get(self, balance_id):
        """A care balance"""
        return balances.read_balance(current_user(), balance_id)


@blp.route("/balances/<balance_id>/ledger")
class CareBalanceLedger(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, BalanceEntryPageSchema)
    @scoped(also=FAMILY + ", the provider's admin")
    def get(self, args, balance_id):
        """A care balance's movements (top-ups, draws, refunds), newest first"""
        return balances.ledger(current_user(), balance_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/balances/<balance_id>/topups")
class CareBalanceTopups(MethodView):
    @idempotent
    @blp.arguments(TopupCreateSchema)
    @blp.response(201, TopupSchema)
    @scoped(also=FAMILY)
    def post(self, data, balance_id):
        """Ask to top up a care balance; pay it with POST /api/v1/payments (kind eldercare.balance_topup)"""
        topup = balances.request_topup(current_user(), balance_id, amount_fen=data["amount_fen"])
        return balances.topup_view(topup)


@blp.route("/orders/<order_id>/pay-from-balance")
class CareOrderPayFromBalance(MethodView):
    @blp.response(200, CareOrderSchema)
    @scoped(also=FAMILY)
    def post(self, order_id):
        """Pay a care order's copay from the elder's care balance with its provider"""
        return balances.pay_order_from_balance(current_user(), order_id)
