"""Smart-locker views: cabinets (community staff), the vendor's dispatch and delivery steps and cabinet view, an order's
locker (resident and vendor), and the signed device endpoints. Parse, permission, one service call, return."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user
from app.auth.scopes import scoped
from app.db import utcnow
from marketplace import blp, fulfilment, lockers, lockers_flow, orders
from marketplace.devices import device_signed
from marketplace.locker_models import LockerCodeKind
from marketplace.locker_schemas import (
    CodeSchema,
    DepositSchema,
    DeviceStateSchema,
    DispatchSchema,
    DoorClosedSchema,
    FaultCreateSchema,
    FaultSchema,
    HeartbeatSchema,
    LockerCreateSchema,
    LockerDetailSchema,
    LockerPageSchema,
    LockerQueryArgsSchema,
    LockerRestoreSchema,
    LockerSecretSchema,
    OpenedSchema,
    OrderLockerSchema,
    UncollectedPolicyOutSchema,
    UncollectedPolicySchema,
    VendorLockerSchema,
)
from marketplace.schemas import OrderDetailSchema, OrderStepCreateSchema

# --- cabinets (community staff) -------------------------------------------------------------------------------------


@blp.route("/lockers")
class Lockers(MethodView):
    @blp.arguments(LockerCreateSchema)
    @blp.response(201, LockerSecretSchema)
    @scoped("marketplace.locker.manage")
    def post(self, data):
        """Install a cabinet in a courtyard

        Cells are numbered from 1 in the order of the groups given. The device secret is returned this once.
        """
        return lockers.locker_detail(lockers.create_locker(current_user(), data))

    @blp.arguments(LockerQueryArgsSchema, location="query")
    @blp.response(200, LockerPageSchema)
    @scoped("marketplace.locker.read")
    def get(self, args):
        """Cabinets in my communities, with free cells per zone"""
        return lockers.staff_lockers(
            current_user(), estate_public_id=args["estate_id"], cursor=args["cursor"], limit=args["limit"]
        )


@blp.route("/lockers/<locker_id>")
class LockerById(MethodView):
    @blp.response(200, LockerDetailSchema)
    @scoped("marketplace.locker.read")
    def get(self, locker_id):
        """A cabinet with its cells, their state and temperatures"""
        return lockers.locker_detail(lockers.locker_for(current_user(), locker_id, "marketplace.locker.read"))


@blp.route("/lockers/<locker_id>/secret")
class LockerSecret(MethodView):
    @blp.response(200, LockerSecretSchema)
    @scoped("marketplace.locker.manage")
    def post(self, locker_id):
        """Issue a new device secret (the old one stops working at once)"""
        return lockers.locker_detail(lockers.rotate_secret(current_user(), locker_id))


@blp.route("/lockers/<locker_id>/restore")
class LockerRestore(MethodView):
    @blp.arguments(LockerRestoreSchema)
    @blp.response(200, LockerDetailSchema)
    @scoped("marketplace.locker.manage")
    def post(self, data, locker_id):
        """Put a cabinet back in service (its empty out-of-service cells become free)"""
        return lockers.locker_detail(lockers.restore_locker(current_user(), locker_id, data["note"]))


# --- vendors --------------------------------------------------------------------------------------------------------


@blp.route("/vendors/<vendor_id>/lockers")
class VendorLockers(MethodView):
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, LockerPageSchema)
    @scoped("marketplace.order.read")
    def get(self, args, vendor_id):
        """Cabinets in the communities the vendor serves, with free cells per zone"""
        return lockers.vendor_lockers(current_user(), vendor_id, cursor=args["cursor"], limit=args["limit"])


@blp.route("/vendors/<vendor_id>/lockers/<locker_id>")
class VendorLockerById(MethodView):
    @blp.response(200, VendorLockerSchema)
    @scoped("marketplace.order.read")
    def get(self, vendor_id, locker_id):
        """A cabinet as the vendor sees it (its own orders named, others' only as occupied)"""
        return lockers.vendor_locker(current_user(), vendor_id, locker_id)


@blp.route("/vendors/<vendor_id>/uncollected-policy")
class VendorUncollectedPolicy(MethodView):
    @blp.arguments(UncollectedPolicySchema)
    @blp.response(200, UncollectedPolicyOutSchema)
    @scoped("marketplace.vendor.manage")
    def put(self, data, vendor_id):
        """State the refund for locker orders never collected (owner only; audited)"""
        return lockers.set_uncollected_policy(current_user(), vendor_id, data["refund_bps"])

    @blp.response(200, UncollectedPolicyOutSchema)
    @scoped(also="any signed-in account: the policy is stated to residents before they order")
    def get(self, vendor_id):
        """The vendor's refund for locker orders never collected"""
        return lockers.uncollected_policy(vendor_id)


@blp.route("/orders/<order_id>/dispatch")
class OrderDispatch(MethodView):
    @blp.arguments(OrderStepCreateSchema)
    @blp.response(200, DispatchSchema)
    @scoped("marketplace.order.fulfil")
    def post(self, data, order_id):
        """Send a prepared order out for delivery

        A locker order reserves cells of its coldest line's zone in the resident's courtyard cabinet and returns the
        courier code; with no free cell it stays preparing, switched to collection at the shop (the resident is told).
        """
        order = fulfilment.vendor_step(current_user(), order_id, "dispatch", note=data["note"])
        detail = orders.order_detail(order)
        detail.dispatch = getattr(order, "dispatch", {})
        return detail


@blp.route("/orders/<order_id>/delivered")
class OrderDelivered(MethodView):
    @blp.arguments(OrderStepCreateSchema)
    @blp.response(200, OrderDetailSchema)
    @scoped("marketplace.order.fulfil")
    def post(self, data, order_id):
        """Mark a home-delivery order delivered"""
        return orders.order_detail(fulfilment.vendor_step(current_user(), order_id, "delivered", note=data["note"]))


@blp.route("/orders/<order_id>/locker")
class OrderLocker(MethodView):
    @blp.response(200, OrderLockerSchema)
    @scoped(
        also="the resident, whoever placed it and marketplace delegates (pickup code); the vendor's staff "
        "(courier and retrieval codes)"
    )
    def get(self, order_id):
        """Where an order is in a locker, with the code the caller may use"""
        return lockers.order_locker_view(current_user(), order_id)


# --- devices (signed requests) --------------------------------------------------------------------------------------

D = "/devices/lockers/<locker_id>"


@blp.route(f"{D}/deposit")
class DeviceDeposit(MethodView):
    @device_signed
    @blp.arguments(DepositSchema)
    @blp.response(200, OpenedSchema)
    def post(self, data, locker_id):
        """Device: the courier deposits an order (courier code); the order's reserved cells open"""
        return lockers_flow.deposit(g.locker.id, data["order_id"], data["courier_code"])


@blp.route(f"{D}/door-closed")
class DeviceDoorClosed(MethodView):
    @device_signed
    @blp.arguments(DoorClosedSchema)
    @blp.response(200, DeviceStateSchema)
    def post(self, data, locker_id):
        """Device: a cell's door was closed"""
        lockers_flow.door_closed(g.locker.id, data["cell"])
        g.locker.server_time = utcnow()
        return g.locker


@blp.route(f"{D}/open")
class DeviceOpen(MethodView):
    @device_signed
    @blp.arguments(CodeSchema)
    @blp.response(200, OpenedSchema)
    def post(self, data, locker_id):
        """Device: open an order's cells with its pickup code (the order completes)

        Wrong codes are counted per cabinet; past the limit the cabinet answers 429 for a while.
        """
        return lockers_flow.open_with_code(g.locker.id, data["code"], LockerCodeKind.pickup)


@blp.route(f"{D}/retrieve")
class DeviceRetrieve(MethodView):
    @device_signed
    @blp.arguments(CodeSchema)
    @blp.response(200, OpenedSchema)
    def post(self, data, locker_id):
        """Device: the vendor opens uncollected cells with its retrieval code (the cells are freed)"""
        return lockers_flow.open_with_code(g.locker.id, data["code"], LockerCodeKind.retrieval)


@blp.route(f"{D}/heartbeat")
class DeviceHeartbeat(MethodView):
    @device_signed
    @blp.arguments(HeartbeatSchema)
    @blp.response(200, DeviceStateSchema)
    def post(self, data, locker_id):
        """Device: I am alive; here are my cells' temperatures"""
        locker = lockers_flow.heartbeat(g.locker.id, data["cells"])
        locker.server_time = utcnow()
        return locker


@blp.route(f"{D}/faults")
class DeviceFaults(MethodView):
    @device_signed
    @blp.arguments(FaultCreateSchema)
    @blp.response(201, FaultSchema)
    def post(self, data, locker_id):
        """Device: report a fault (a fault naming a cell takes it out of service)"""
        return lockers_flow.report_fault(g.locker.id, data)
