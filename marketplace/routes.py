"""Marketplace views: parse, permission, one service call, return."""

from __future__ import annotations

from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from app.ratelimit import limit_from_setting, register_early_answer
from marketplace import blp, catalogue, catalogue_cache, fulfilment, orders, vendors
from marketplace.models import OrderStatus, VendorStatus
from marketplace.schemas import (
    BrowseArgsSchema,
    MyVendorSchema,
    OrderCancelSchema,
    OrderCreateSchema,
    OrderDetailSchema,
    OrderPageSchema,
    OrderStepCreateSchema,
    ProductCreateSchema,
    ProductPageSchema,
    ProductSchema,
    ProductUpdateSchema,
    VendorCreateSchema,
    VendorDecisionSchema,
    VendorOrderQueryArgsSchema,
    VendorPageSchema,
    VendorProductPageSchema,
    VendorProductSchema,
    VendorQueryArgsSchema,
    VendorSchema,
    VendorStaffCreateSchema,
    VendorStaffSchema,
    VendorUpdateSchema,
)

# --- vendors -----------------------------------------------------------------------------------------------------


@blp.route("/vendors")
class Vendors(MethodView):
    @idempotent
    @blp.arguments(VendorCreateSchema)
    @blp.response(201, VendorSchema)
    @scoped(also="any signed-in account; the applicant becomes the vendor's owner")
    @limit_from_setting("MARKETPLACE_VENDOR_APPLY_RATE_LIMIT")
    def post(self, data):
        """Apply to open a vendor

        Community staff of the communities served approve, reject, suspend or reinstate it. At most
        `MARKETPLACE_VENDOR_APPLY_RATE_LIMIT` applications per account (429 `rate_limited`).
        """
        return vendors.apply_vendor(current_user(), data)

    @blp.arguments(VendorQueryArgsSchema, location="query")
    @blp.response(200, VendorPageSchema)
    @scoped("marketplace.vendor.decide")
    def get(self, args):
        """Vendors serving my communities (staff worklist)"""
        status = VendorStatus(args["status"]) if args["status"] else None
        return vendors.vendor_worklist(current_user(), status=status, cursor=args["cursor"], limit=args["limit"])


@blp.route("/my-vendors")
class MyVendors(MethodView):
    @blp.response(200, MyVendorSchema(many=True))
    @scoped(also="any signed-in account: the vendors where it holds a role")
    def get(self):
        """Vendors where I work, with my role"""
        return vendors.my_vendor_views(current_user())


@blp.route("/vendors/<vendor_id>")
class VendorById(MethodView):
    @blp.response(200, VendorSchema)
    @scoped("marketplace.vendor.read")
    def get(self, vendor_id):
        """A vendor, for its staff and the community staff deciding on it"""
        return vendors.read_vendor(current_user(), vendor_id)

    @blp.arguments(VendorUpdateSchema)
    @blp.response(200, VendorSchema)
    @scoped("marketplace.vendor.manage")
    def patch(self, data, vendor_id):
        """Edit the shop's contact and opening hours (owner only)"""
        return vendors.update_vendor(current_user(), vendor_id, data)


def _decision_view(decision: str, summary: str):
    class Decision(MethodView):
        @blp.arguments(VendorDecisionSchema)
        @blp.response(200, VendorSchema)
        @scoped("marketplace.vendor.decide")
        def post(self, data, vendor_id):
            return vendors.decide_vendor(
                current_user(), vendor_id, decision, note=data["note"], payee_id=data["payee_id"]
            )

    Decision.post.__doc__ = summary
    Decision.__name__ = f"Vendor{decision.capitalize()}"
    return Decision


for _decision, _summary in {
    "approve": "Approve a vendor (naming its payee)",
    "reject": "Reject a vendor application",
    "suspend": "Suspend a vendor",
    "reinstate": "Reinstate a suspended vendor",
}.items():
    blp.route(f"/vendors/<vendor_id>/{_decision}", endpoint=f"VendorDecision_{_decision}")(
        _decision_view(_decision, _summary)
    )


@blp.route("/vendors/<vendor_id>/staff")
class VendorStaff(MethodView):
    @blp.arguments(VendorStaffCreateSchema)
    @blp.response(201, VendorStaffSchema)
    @scoped("marketplace.vendor.manage")
    def post(self, data, vendor_id):
        """Give an account a clerk or courier role (owner only)"""
        return vendors.add_staff(current_user(), vendor_id, user_public_id=data["user_id"], role=data["role"])


# --- products ----------------------------------------------------------------------------------------------------


@blp.route("/vendors/<vendor_id>/products")
class VendorProducts(MethodView):
    @idempotent
    @blp.arguments(ProductCreateSchema)
    @blp.response(201, VendorProductSchema)
    @scoped("marketplace.product.manage")
    def post(self, data, vendor_id):
        """List a product"""
        return catalogue.create_product(current_user(), vendor_id, data)

    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, VendorProductPageSchema)
    @scoped("marketplace.product.manage")
    def get(self, args, vendor_id):
        """A vendor's listings, on shelf or not"""
        return catalogue.vendor_products(current_user(), vendor_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/vendor-products/<product_id>")
class VendorProductById(MethodView):
    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, VendorProductSchema)
    @scoped("marketplace.product.manage")
    def patch(self, data, product_id):
        """Edit a listing; restock or write off with stock_delta"""
        return catalogue.update_product(current_user(), product_id, data)


@blp.route("/products")
class Products(MethodView):
    @blp.arguments(BrowseArgsSchema, location="query")
    @blp.response(200, ProductPageSchema)
    @scoped(also="residents: products of approved vendors serving their communities")
    def get(self, args):
        """Browse products

        Cursor pages; the number of SQL statements does not grow with the page size.
        """
        return catalogue_cache.cached_json(current_user(), lambda scope: catalogue.browse_page(scope, **args), args)


@blp.route("/products/<product_id>")
class ProductById(MethodView):
    @blp.response(200, ProductSchema)
    @scoped(also="residents of a community the vendor serves")
    def get(self, product_id):
        """A product"""
        return catalogue_cache.cached_json(current_user(), lambda scope: catalogue.product_page(scope, product_id), {})


# A repeat browse answers from the catalogue cache before the limiter's hook, webargs and these views.
for _view in (Products, ProductById):
    register_early_answer(f"{blp.name}.{_view.__name__}", catalogue_cache.early_answer)


# --- orders ------------------------------------------------------------------------------------------------------


@blp.route("/orders")
class Orders(MethodView):
    @idempotent
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderDetailSchema)
    @scoped(also="a resident, or a delegate holding a marketplace delegation (for_resident_id)")
    def post(self, data):
        """Place an order

        Totals are computed on the server; stock is reserved now and released if the order is not paid within
        15 minutes. Pay it through POST /api/v1/payments with kind marketplace.market_order.
        """
        return orders.place_order(current_user(), data)  # with its steps, as order_detail shows them

    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, OrderPageSchema)
    @scoped(also="the caller's own orders and those placed for them")
    def get(self, args):
        """My orders, newest first"""
        return orders.my_orders(current_user(), cursor=args["cursor"], limit=args["limit"])


@blp.route("/orders/<order_id>")
class OrderById(MethodView):
    @blp.response(200, OrderDetailSchema)
    @scoped(also="the resident, whoever placed it, a marketplace delegate, the vendor's staff")
    def get(self, order_id):
        """An order with its steps"""
        return orders.order_detail(orders.order_visible_to(current_user(), order_id))


@blp.route("/orders/<order_id>/cancel")
class OrderCancel(MethodView):
    @blp.arguments(OrderCancelSchema)
    @blp.response(200, OrderDetailSchema)
    @scoped(also="the resident, whoever placed it, a marketplace delegate")
    def post(self, data, order_id):
        """Cancel an order before the vendor starts preparing (a paid order is refunded)"""
        return orders.order_detail(orders.cancel_order(current_user(), order_id, reason=data["reason"]))


@blp.route("/vendors/<vendor_id>/orders")
class VendorOrders(MethodView):
    @blp.arguments(VendorOrderQueryArgsSchema, location="query")
    @blp.response(200, OrderPageSchema)
    @scoped("marketplace.order.read")
    def get(self, args, vendor_id):
        """A vendor's orders (worklist)"""
        status = OrderStatus(args["status"]) if args["status"] else None
        return fulfilment.vendor_orders(
            current_user(), vendor_id, status=status, cursor=args["cursor"], limit=args["limit"]
        )


def _step_view(step: str, summary: str):
    action = fulfilment.VENDOR_STEPS[step][2]

    class Step(MethodView):
        @blp.arguments(OrderStepCreateSchema)
        @blp.response(200, OrderDetailSchema)
        @scoped(action)
        def post(self, data, order_id):
            return orders.order_detail(fulfilment.vendor_step(current_user(), order_id, step, note=data["note"]))

    Step.post.__doc__ = summary
    Step.__name__ = f"Order{step.capitalize()}"
    return Step


for _step, _summary in {
    "accept": "Accept a paid order",
    "reject": "Reject an order (stock returned, refunded in full; note required)",
    "prepare": "Start preparing an order",
    "ready": "Mark an order ready (delivered or ready to collect)",
    "complete": "Complete an order",
}.items():
    blp.route(f"/orders/<order_id>/{_step}", endpoint=f"OrderStep_{_step}")(_step_view(_step, _summary))
