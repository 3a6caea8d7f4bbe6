"""Grocery orders: placement with stock reserved by conditional UPDATE, expiry, the resident's side (reads,
cancellation with refund) and ``record_step``, which records every step as an ``OrderEvent`` and tells the resident.
The vendor's steps are in ``fulfilment.py``.

Stock is never read and written back in Python. Placement runs, per product (in a fixed order, so two orders never
wait on each other's rows crosswise)::

    UPDATE marketplace_products SET stock = stock - :q
    WHERE public_id = :p AND vendor_id = :v AND on_shelf AND stock >= :q RETURNING …

and the row lock that UPDATE takes makes the second of two buyers of the last unit re-check ``stock >= :q`` against
the first one's committed result. Stock goes back only after one statement claims the release
(``UPDATE … SET stock_released_at = now() WHERE stock_released_at IS NULL``), so an order cancelled, expired or
rejected — or an expiry job delivered twice, or a cancel racing the expiry — releases it exactly once.
"""

from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from app import outbox
from app.accounts.delegation import delegate_or_refuse
from app.accounts.residents import require_resident, resident_for_user
from app.api import keyset_page
from app.auth.scopes import acting_for, can
from app.db import atomic, utcnow
from app.errors import ValidationFailed
from app.extensions import db, redis_client
from marketplace import notify
from marketplace.catalogue import line_amount_fen
from marketplace.errors import (
    CommunityNotServed,
    OrderNotFound,
    OrderStateConflict,
    ProductNotFound,
    ProductUnavailable,
    StockInsufficient,
    VendorNotOpen,
)
from marketplace.models import (
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Product,
    Vendor,
    VendorCommunity,
    VendorStatus,
)
from marketplace.vendors import get_vendor

log = logging.getLogger(__name__)

KIND = "marketplace.market_order"
DEFAULT_UNPAID_MINUTES = 15
#: A resident may cancel until the vendor starts preparing; a paid order is refunded automatically.
CANCELLABLE = (OrderStatus.pending_payment, OrderStatus.paid, OrderStatus.accepted)


def unpaid_minutes() -> int:
    return int(current_app.config.get("MARKETPLACE_UNPAID_MINUTES", DEFAULT_UNPAID_MINUTES))


def get_order(public_id: str, *, lock: bool = False) -> Order | None:
    query = sa.select(Order).where(Order.public_id == public_id)
    if lock:  # and re-read: an earlier unlocked read in this session may hold a stale status
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def record_step(
    order: Order,
    from_status: OrderStatus | None,
    *,
    actor=None,
    note: str | None = None,
    vendor_name: str | None = None,
) -> OrderEvent:
    """Record the step that brought ``order`` to its current status, and tell the resident (``vendor_name``, when
    the caller has it, saves reading it)."""
    event = OrderEvent(
        order_id=order.id,
        from_status=from_status.value if from_status else None,
        to_status=order.status.value,
        actor_user_id=getattr(actor, "id", None),
        note=note,
    )
    db.session.add(event)
    db.session.flush()
    _on_step(order, from_status, actor)
    if vendor_name is None:
        vendor_name = db.session.scalar(sa.select(Vendor.name).where(Vendor.id == order.vendor_id))
    notify.notify_order_step(order, vendor_name, event.id, note)
    log.info(
        "market order %s %s → %s by user %s",
        order.id,
        event.from_status,
        event.to_status,
        getattr(actor, "id", None),
    )
    return event


#: Leaving ``preparing`` for one of these refunds the order in full elsewhere: no adjustment refund on top.
_REFUNDED_IN_FULL = (OrderStatus.cancelled, OrderStatus.rejected, OrderStatus.expired)


def _on_step(order: Order, from_status: OrderStatus | None, actor) -> None:
    """What every path to a status does, in the step's unit of work: leaving ``preparing`` settles the vendor's
    adjustments (one refund for weights and missing items); reaching ``completed`` (the vendor's step, auto-confirm,
    a locker pickup) asks payments to share the platform's commission (once per payment, guarded there too)."""
    leaving_preparing = from_status is OrderStatus.preparing and order.status is not OrderStatus.preparing
    if leaving_preparing and order.status not in _REFUNDED_IN_FULL:
        from marketplace.adjustments import settle_adjustments

        settle_adjustments(order, actor=actor)
    if order.status is OrderStatus.completed and from_status is not OrderStatus.completed and order.payment_public_id:
        from payments.gateways.profit_sharing import request_profit_sharing

        request_profit_sharing(order.payment_public_id, actor=actor)


# --- placement ---------------------------------------------------------------------------------------------------


@functools.cache
def _reserve_statements() -> tuple[sa.Update, sa.Select]:
    """The conditional UPDATE that takes stock, and the SELECT that says why it took none: built once."""
    product = sa.bindparam("reserve_product", type_=sa.String)
    vendor = sa.bindparam("reserve_vendor", type_=sa.BigInteger)
    quantity = sa.bindparam("reserve_quantity", type_=sa.Integer)
    # The table, not the entity: an ORM-enabled UPDATE ran SQLAlchemy's bulk-update machinery on every order.
    t = Product.__table__
    take = (
        sa.update(t)
        .where(t.c.public_id == product, t.c.vendor_id == vendor, t.c.on_shelf, t.c.stock >= quantity)
        .values(stock=t.c.stock - quantity)
        .returning(
            t.c.id,
            t.c.public_id,
            t.c.name,
            t.c.unit,
            t.c.storage_zone,
            t.c.price_fen,
            t.c.weighed,
            t.c.estimated_weight_g,
            t.c.stock,
            t.c.low_stock_threshold,
        )
    )
    why = sa.select(t.c.on_shelf, t.c.stock).where(t.c.public_id == product, t.c.vendor_id == vendor)
    return take, why


def _reserve(vendor: Vendor, product_public_id: str, quantity: int) -> dict[str, Any]:
    """Take ``quantity`` from a product's stock in one conditional UPDATE, or raise why not."""
    take, why = _reserve_statements()
    params = {"reserve_product": product_public_id, "reserve_vendor": vendor.id, "reserve_quantity": quantity}
    row = db.session.execute(take, params).mappings().one_or_none()
    if row is not None:
        return dict(row)
    found = db.session.execute(why, params).one_or_none()
    if found is None:
        raise ProductNotFound(details={"product_id": product_public_id})
    if not found.on_shelf:
        raise ProductUnavailable(details={"product_id": product_public_id})
    if found.stock == 0:
        _remember_sold_out(vendor.public_id, product_public_id)
    raise StockInsufficient(details={"product_id": product_public_id, "requested": quantity, "available": found.stock})


# A product found sold out is remembered in Redis for ``MARKETPLACE_SOLD_OUT_SECONDS`` (2): the next buyers within
# that time get the same 409 from one Redis read instead of a transaction (a flash sale's 900 late buyers cost one
# statement every 2 seconds, not 900 × 3). Stock given back or added in that time (an unpaid order expiring, the
# vendor restocking) can be bought once the mark lapses, at most that many seconds later; nothing is ever sold that
# is not in stock, since only the conditional UPDATE above takes stock. Redis down: every buyer goes to PostgreSQL.
# The mark is keyed by the public ids the request names, so a buyer ordering for themself is refused before any
# statement (their resident and the vendor are not read): a sold-out product then answers 409 even to a caller the
# vendor does not serve, who learns only that it is sold out. An order for another resident reads the delegation
# first (403 without its scope).


def _sold_out_key(vendor_public_id: str, product_public_id: str) -> str:
    return f"linli:marketplace:sold-out:{vendor_public_id}:{product_public_id}"


def _remember_sold_out(vendor_public_id: str, product_public_id: str) -> None:
    seconds = current_app.config.get("MARKETPLACE_SOLD_OUT_SECONDS", 2)
    if seconds > 0:
        key = _sold_out_key(vendor_public_id, product_public_id)
        redis_client.call(lambda client: client.set(key, 1, ex=seconds), default=None)


def _refuse_if_seen_sold_out(vendor_public_id: str, quantities: dict[str, int]) -> None:
    """Raise the 409 a reservation would, for the first product remembered sold out (see above)."""
    if not current_app.config.get("MARKETPLACE_SOLD_OUT_SECONDS", 2):
        return
    products = sorted(quantities)
    keys = [_sold_out_key(vendor_public_id, product) for product in products]
    marks = redis_client.call(lambda client: client.mget(keys), default=None) or []
    for product, mark in zip(products, marks, strict=False):
        if mark is not None:
            raise StockInsufficient(details={"product_id": product, "requested": quantities[product], "available": 0})


@functools.cache
def _buyer_and_vendor_query(by: str) -> sa.Select:
    """(resident id, resident erased at, the vendor, the lowest community the vendor serves among the resident's)
    for the resident ``by`` ``user_id`` or ``resident_id`` and the vendor ``vendor_id`` (public): built once, so a
    placement pays no statement construction for it."""
    from app.accounts.resident_models import HouseholdMembership, MembershipStatus, Resident
    from app.community.models import Household

    memberships = (
        sa.select(Household.community_id)
        .join(HouseholdMembership, HouseholdMembership.household_id == Household.id)
        .where(
            HouseholdMembership.resident_id == Resident.id,
            HouseholdMembership.status.in_([MembershipStatus.pending, MembershipStatus.active]),
        )
        .correlate(Resident)
    )
    served = (
        sa.select(sa.func.min(VendorCommunity.community_id))
        .where(
            VendorCommunity.vendor_id == Vendor.id,
            sa.or_(
                VendorCommunity.community_id == Resident.registered_community_id,
                VendorCommunity.community_id.in_(memberships),
            ),
        )
        .correlate(Resident, Vendor)
        .scalar_subquery()
    )
    which = Resident.user_id if by == "user_id" else Resident.id
    return (
        sa.select(Resident.id, Resident.erased_at, Vendor, served)
        .select_from(Resident)
        .join(Vendor, Vendor.public_id == sa.bindparam("vendor_id", type_=sa.String))
        .where(which == sa.bindparam("who", type_=sa.BigInteger))
    )


def _buyer_and_vendor(user, data: dict[str, Any]) -> tuple[int, Vendor, int | None]:
    """The id of the resident the order is for, the vendor, and the lowest community the vendor serves among the
    resident's (None when it serves none of them): one statement when the caller orders for themself (a delegate's
    ``acting_for`` reads and records the delegation first)."""
    subject = acting_for(user, data["for_resident_id"], "marketplace") if data.get("for_resident_id") else None
    query = _buyer_and_vendor_query("resident_id" if subject is not None else "user_id")
    who = subject.id if subject is not None else user.id
    row = db.session.execute(query, {"who": who, "vendor_id": data["vendor_id"]}).one_or_none()
    if row is None:
        if subject is None:
            require_resident(user)  # raises when the caller has given no details
        get_vendor(data["vendor_id"])  # raises: the vendor does not exist
        raise VendorNotOpen()  # not reached: one of the two above is missing
    resident_id, erased_at, vendor, community_id = row
    if subject is None and erased_at is not None:
        require_resident(user)  # raises: the caller's resident was erased
    return resident_id, vendor, community_id


@contextmanager
def _shown_as_written():
    """The placed order is answered from what its unit of work loaded and wrote (lines, vendor, its first step):
    its commit does not expire them, so the answer needs no second read."""
    session = db.session()
    expiring = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = expiring


def place_order(user, data: dict[str, Any]) -> Order:
    """Place an order for oneself, or for the resident named by ``for_resident_id`` (needs a ``marketplace``
    delegation); stock is reserved now and released if the order is not paid within ``MARKETPLACE_UNPAID_MINUTES``.

    Seven statements for a one-line order: the buyer, vendor and shared community (one), one conditional
    ``UPDATE`` per product, the order, its lines (one ``INSERT`` for all), its first step, the resident's message
    (delivered to their inbox in that statement, no job) and the expiry job. A product remembered sold out is refused
    without touching stock, before any statement for one's own order, after the delegation for another's (see
    above). The returned order carries ``steps`` and ``adjustments`` as ``order_detail`` sets them.

    :raises StockInsufficient: a product has fewer units left than asked (nothing is reserved then).
    """
    window_start, window_end = data.get("window_start"), data.get("window_end")
    if window_start and window_end and window_end <= window_start:
        raise ValidationFailed(details={"fields": {"window_end": ["送达时段结束须晚于开始"]}})
    quantities: dict[str, int] = {}
    for line in data["lines"]:
        quantities[line["product_id"]] = quantities.get(line["product_id"], 0) + line["quantity"]
    with _shown_as_written(), atomic():
        if not data.get("for_resident_id"):
            _refuse_if_seen_sold_out(data["vendor_id"], quantities)
        resident_id, vendor, community_id = _buyer_and_vendor(user, data)
        if vendor.status is not VendorStatus.approved:
            raise VendorNotOpen(details={"status": vendor.status.value})
        if community_id is None:
            raise CommunityNotServed()
        if data.get("for_resident_id"):
            _refuse_if_seen_sold_out(vendor.public_id, quantities)
        reserved = [(pid, q, _reserve(vendor, pid, q)) for pid, q in sorted(quantities.items())]
        now = utcnow()
        order = Order(
            vendor_id=vendor.id,
            resident_id=resident_id,
            placed_by_user_id=user.id,
            community_id=community_id,
            fulfilment=Fulfilment(data.get("fulfilment", "locker")),
            window_start=window_start,
            window_end=window_end,
            note=data.get("note"),
            status=OrderStatus.pending_payment,
            total_fen=0,
            refunded_fen=0,
            paid_at=None,
            payment_public_id=None,
            stock_released_at=None,
            expires_at=now + timedelta(minutes=unpaid_minutes()),
        )
        order.vendor = vendor
        for _pid, quantity, row in reserved:
            amount = line_amount_fen(
                row["price_fen"],
                quantity,
                unit=row["unit"],
                weighed=row["weighed"],
                estimated_weight_g=row["estimated_weight_g"],
            )
            order.total_fen += amount
            order.lines.append(
                OrderLine(
                    product_id=row["id"],
                    name=row["name"],
                    unit=row["unit"],
                    storage_zone=row["storage_zone"],
                    price_fen=row["price_fen"],
                    quantity=quantity,
                    weighed=row["weighed"],
                    estimated_weight_g=row["estimated_weight_g"],
                    amount_fen=amount,
                )
            )
        db.session.add(order)
        db.session.flush()
        event = record_step(order, None, actor=user, vendor_name=vendor.name)
        from marketplace import jobs

        outbox.enqueue(
            jobs.expire_unpaid_order, order.id, run_at=order.expires_at, key=f"marketplace.expire:{order.id}"
        )
        for _pid, quantity, row in reserved:
            if row["stock"] <= row["low_stock_threshold"] < row["stock"] + quantity:
                notify.notify_low_stock(vendor, row, row["stock"])
        order.steps = [event]
        order.adjustments = []  # a new order has none (``adjustments_of`` reads them once preparing starts)
        return order


def release_stock(order_id: int) -> bool:
    """Give an order's reserved stock back, at most once in the order's life.

    :return: whether this call released it.
    """
    claimed = db.session.execute(
        sa.update(Order)
        .where(Order.id == order_id, Order.stock_released_at.is_(None))
        .values(stock_released_at=utcnow())
        .returning(Order.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if claimed is None:
        return False
    # Row by row in the order placement locks them (product public id), so a release and a placement sharing two
    # products never wait on each other crosswise.
    lines = db.session.execute(
        sa.select(OrderLine.product_id, OrderLine.quantity)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.order_id == order_id)
        .order_by(Product.public_id)
    ).all()
    for product_id, quantity in lines:
        db.session.execute(
            sa.update(Product)
            .where(Product.id == product_id)
            .values(stock=Product.stock + quantity)
            .execution_options(synchronize_session=False)
        )
    log.info("market order %s released its stock", order_id)
    return True


def expire_order(order_id: int) -> bool:
    """Close an order still unpaid at its due time and give its stock back (a no-op for any other state)."""
    with atomic():
        order = db.session.get(Order, order_id, with_for_update=True, populate_existing=True)
        if order is None or order.status is not OrderStatus.pending_payment:
            return False
        if order.expires_at > utcnow():
            # Not due yet (an early delivery): schedule the real deadline rather than close the order early.
            from marketplace import jobs

            outbox.enqueue(
                jobs.expire_unpaid_order,
                order.id,
                run_at=order.expires_at,
                key=f"marketplace.expire:{order.id}:{order.expires_at.timestamp():.0f}",
            )
            return False
        order.status = OrderStatus.expired
        release_stock(order.id)
        db.session.flush()
        record_step(order, OrderStatus.pending_payment)
        return True


def refund_rest(order: Order, reason: str, key: str, actor=None) -> None:
    """Refund whatever of a paid order has not been refunded yet (sent after commit by payments), closing its line
    accounts so no after-sales refund can follow (see ``adjustments.refund_rest``)."""
    from marketplace.adjustments import refund_rest as refund_what_is_left

    refund_what_is_left(order, reason, key, actor=actor)


# --- the resident's side --------------------------------------------------------------------------------------------


def _visible_to_resident(user, order: Order) -> bool:
    if order.placed_by_user_id == user.id:
        return True
    resident = resident_for_user(user)
    return resident is not None and resident.id == order.resident_id


def order_for_resident(user, public_id: str, *, lock: bool = False) -> Order:
    """An order the caller placed or that is for them; a delegate with ``marketplace`` scope reaches the subject's
    orders through ``acting_for`` (recorded); a family member whose delegation lacks the scope (or is no longer
    active) gets 403 ``delegation_denied``, anyone else 404."""
    order = get_order(public_id, lock=lock)
    if order is None:
        raise OrderNotFound()
    if not _visible_to_resident(user, order):
        delegate_or_refuse(user, "marketplace", resident_id=order.resident_id, not_found=OrderNotFound)
    return order


def order_visible_to(user, public_id: str) -> Order:
    """For the detail view: the resident's side (see ``order_for_resident``) or the vendor's staff."""
    order = get_order(public_id)
    if order is not None and can(user, "marketplace.order.read", order):
        return order
    return order_for_resident(user, public_id)


def cancel_order(user, public_id: str, *, reason: str | None = None) -> Order:
    """The resident cancels before the vendor starts preparing: stock goes back, a paid order is refunded in full.

    :raises OrderStateConflict: the vendor is already preparing it (or it is over).
    """
    with atomic():
        order = order_for_resident(user, public_id, lock=True)
        if order.status not in CANCELLABLE:
            raise OrderStateConflict(details={"status": order.status.value})
        before = order.status
        order.status = OrderStatus.cancelled
        release_stock(order.id)
        if before is not OrderStatus.pending_payment:
            refund_rest(order, reason or "用户取消订单", "cancel", actor=user)
        db.session.flush()
        record_step(order, before, actor=user, note=reason)
        return order


def my_orders(user, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Orders the caller placed or that are for them, newest first."""
    resident = resident_for_user(user)
    mine = Order.placed_by_user_id == user.id
    if resident is not None:
        mine = sa.or_(mine, Order.resident_id == resident.id)
    query = sa.select(Order).where(mine).options(selectinload(Order.lines), selectinload(Order.vendor))
    return keyset_page(db.session, query, [Order.id], cursor=cursor, limit=limit)


def order_detail(order: Order) -> Order:
    """Load what the detail view shows (lines, vendor, steps, the vendor's adjustments) in four statements."""
    order = db.session.scalar(
        sa.select(Order)
        .where(Order.id == order.id)
        .options(selectinload(Order.lines), selectinload(Order.vendor))
        .execution_options(populate_existing=True)
    )
    order.steps = list(
        db.session.scalars(sa.select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))
    )
    from marketplace.adjustments import adjustments_of

    order.adjustments = adjustments_of(order)
    return order
