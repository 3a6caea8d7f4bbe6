"""The prepaid care balance (助餐卡): one per elder and provider, issued by the provider, topped up by the family
through payments (kind ``eldercare.balance_topup``, paid to the provider's payee), drawn for copays of recurring
orders (and, when the family asks, of a one-off order), refunded to the balance when such an order is cancelled or
declined.

``balance_fen`` changes only while its row is locked (``SELECT … FOR UPDATE``), and the CHECK ``balance_fen >= 0``
backs that up: a draw reads the balance under the lock and takes the copay only when it is covered, so concurrent
draws never spend the same fen twice. Every movement is a ledger row with a unique key (``topup:<topup>``,
``draw:<order>``, ``refund:<order>``): a top-up credited twice, or a refund asked for twice, happens once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert

from app import push
from app.accounts.profile import get_profile
from app.accounts.resident_models import Resident
from app.api import SHANGHAI, keyset_page
from app.auth.scopes import acting_for, can
from app.community.integrity import refusals
from app.db import atomic, utcnow
from app.errors import APIError, Conflict
from app.extensions import db
from eldercare.access import refuse
from eldercare.errors import CareOrderNotFound, CareOrderStateConflict, CommunityNotServed
from eldercare.meal_models import BalanceEntry, BalanceEntryKind, BalanceTopup, CareBalance, TopupStatus
from eldercare.meals_errors import CareBalanceExists, CareBalanceNotFound
from eldercare.models import CareOrder, CareOrderStatus, Provider
from eldercare.providers import provider_for

log = logging.getLogger(__name__)

TOPUP_KIND = "eldercare.balance_topup"
LOW_EVENT = "eldercare.balance_low"
#: Orders whose drawn copay goes back to the balance.
REFUNDABLE = (CareOrderStatus.cancelled, CareOrderStatus.declined, CareOrderStatus.expired, CareOrderStatus.no_show)

push.register_event(
    LOW_EVENT,
    "助餐卡余额不足",
    channels=("inbox",),
    scope="eldercare",
    title="{provider}助餐卡余额不足",
    body="{elder}{day}的{item}需自付{copay}元，助餐卡余额{balance}元，请及时充值或单独支付，否则该次服务将在{deadline}取消。",
)


class BalanceInsufficient(Conflict):
    code, message = "care_balance_insufficient", "助餐卡余额不足，请先充值"


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


# --- reading -------------------------------------------------------------------------------------------------------


def get_balance(public_id: str, *, lock: bool = False) -> CareBalance | None:
    query = sa.select(CareBalance).where(CareBalance.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def _family_side(user, balance: CareBalance, reason: str | None = None) -> bool:
    """The elder, or a family member holding an ``eldercare`` delegation (recorded by ``acting_for``)."""
    elder_public_id = db.session.scalar(sa.select(Resident.public_id).where(Resident.id == balance.resident_id))
    try:
        acting_for(user, elder_public_id, "eldercare", reason=reason)
    except APIError:
        return False
    return True


def balance_visible_to(user, public_id: str, *, family_only: bool = False) -> CareBalance:
    """The elder's side (elder, ``eldercare`` delegate) or, unless ``family_only``, the provider's admin; a family
    member whose delegation lacks ``eldercare`` gets 403 ``delegation_denied``, anyone else 404 (a caregiver,
    another provider's people)."""
    balance = get_balance(public_id)
    if balance is None:
        raise CareBalanceNotFound()
    if not family_only and can(user, "eldercare.order.decide", balance):
        return balance
    if _family_side(user, balance):
        return balance
    refuse(user, balance.resident_id, CareBalanceNotFound())


def read_balance(user, public_id: str) -> dict[str, Any]:
    with atomic():
        return balance_view(balance_visible_to(user, public_id))


def balance_view(balance: CareBalance, elder_public_id: str | None = None, provider=None) -> dict[str, Any]:
    """``elder_public_id`` and ``provider`` (public id, name): given by a list, which reads them once for all."""
    if provider is None:
        provider = db.session.execute(
            sa.select(Provider.public_id, Provider.name).where(Provider.id == balance.provider_id)
        ).one()
    provider_public_id, provider_name = provider
    if elder_public_id is None:
        elder_public_id = db.session.scalar(sa.select(Resident.public_id).where(Resident.id == balance.resident_id))
    return {
        "id": balance.public_id,
        "elder_id": elder_public_id,
        "provider_id": provider_public_id,
        "provider_name": provider_name,
        "balance_fen": balance.balance_fen,
        "created_at": balance.created_at,
    }


def elder_balances(user, elder_id: str) -> list[dict[str, Any]]:
    """An elder's care balances (one per provider at most), for the elder or an ``eldercare`` delegate."""
    with atomic():
        subject = acting_for(user, elder_id, "eldercare", reason="查看助餐卡")
        rows = db.session.execute(
            sa.select(CareBalance, Provider.public_id, Provider.name)
            .join(Provider, Provider.id == CareBalance.provider_id)
            .where(CareBalance.resident_id == subject.id)
            .order_by(CareBalance.id)
        )
        return [balance_view(b, subject.public_id, (public_id, name)) for b, public_id, name in rows]


def ledger(user, public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """A balance's movements, newest first."""
    with atomic():
        balance = balance_visible_to(user, public_id)
        query = sa.select(BalanceEntry).where(BalanceEntry.balance_id == balance.id)
        page = keyset_page(db.session, query, [BalanceEntry.id], cursor=cursor, limit=limit)
        orders = dict(
            db.session.execute(
                sa.select(CareOrder.id, CareOrder.public_id).where(
                    CareOrder.id.in_([e.order_id for e in page["items"] if e.order_id])
                )
            ).all()
        )
        page["items"] = [
            {
                "kind": e.kind.value,
                "amount_fen": e.amount_fen,
                "balance_after_fen": e.balance_after_fen,
                "order_id": orders.get(e.order_id),
                "created_at": e.created_at,
            }
            for e in page["items"]
        ]
        return page


# --- issuing and topping up ----------------------------------------------------------------------------------------


def issue_balance(user, provider_public_id: str, *, elder_id: str) -> dict[str, Any]:
    """The provider admin issues a care balance to an elder living in a community it serves (empty until topped up).

    :raises CommunityNotServed: the elder lives outside the provider's communities.
    :raises CareBalanceExists: the elder already holds this provider's balance.
    """
    with atomic():
        provider = provider_for(user, provider_public_id, "eldercare.provider.manage")
        resident = db.session.scalar(
            sa.select(Resident).where(Resident.public_id == elder_id, Resident.erased_at.is_(None))
        )
        if resident is None:
            from app.accounts.errors import ResidentNotFound

            raise ResidentNotFound()
        lives_in = {h["community_id"] for h in get_profile(resident.id).households}
        if not lives_in & provider.scope_community_ids():
            raise CommunityNotServed()
        balance = CareBalance(resident_id=resident.id, provider_id=provider.id, issued_by_user_id=user.id)
        with refusals(unique=CareBalanceExists()):
            db.session.add(balance)
        log.info("care balance %s issued by user %s for resident %s", balance.id, user.id, resident.id)
        return balance_view(balance)


def request_topup(user, balance_public_id: str, *, amount_fen: int) -> BalanceTopup:
    """The elder or an ``eldercare`` delegate asks to top up; it is paid through ``POST /api/v1/payments`` with
    ``{"kind": "eldercare.balance_topup", "ids": [topup id]}`` to the provider's payee."""
    with atomic():
        balance = get_balance(balance_public_id)
        if balance is None:
            raise CareBalanceNotFound()
        if not _family_side(user, balance, reason="助餐卡充值"):
            refuse(user, balance.resident_id, CareBalanceNotFound())
        ttl = int(current_app.config.get("PAYMENTS_DEFAULT_TTL_MINUTES", 120))
        topup = BalanceTopup(
            balance_id=balance.id,
            amount_fen=amount_fen,
            requested_by_user_id=user.id,
            expires_at=utcnow() + timedelta(minutes=ttl),
        )
        db.session.add(topup)
        db.session.flush()
        log.info("top-up %s of %s fen asked by user %s for balance %s", topup.id, amount_fen, user.id, balance.id)
        return topup


def topup_view(topup: BalanceTopup) -> dict[str, Any]:
    return {
        "id": topup.public_id,
        "balance_id": db.session.scalar(sa.select(CareBalance.public_id).where(CareBalance.id == topup.balance_id)),
        "amount_fen": topup.amount_fen,
        "status": topup.status.value,
        "expires_at": topup.expires_at,
        "paid_at": topup.paid_at,
        "payable": {"kind": TOPUP_KIND, "id": topup.public_id},
    }


def _entry(balance: CareBalance, kind: BalanceEntryKind, amount: int, key: str, **refs) -> bool:
    """Insert a ledger row unless its key exists (``balance`` locked by the caller); whether it was inserted."""
    after = balance.balance_fen + (amount if kind is not BalanceEntryKind.draw else -amount)
    inserted = db.session.execute(
        insert(BalanceEntry)
        .values(
            balance_id=balance.id,
            kind=kind,
            amount_fen=amount,
            balance_after_fen=after,
            idempotency_key=key,
            **refs,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(BalanceEntry.id)
    ).scalar()
    if inserted is None:
        return False
    balance.balance_fen = after
    db.session.flush()
    return True


def _locked(balance_id: int) -> CareBalance:
    return db.session.get(CareBalance, balance_id, with_for_update=True, populate_existing=True)


def credit_topup(topup: BalanceTopup, *, paid_at, payment_public_id: str) -> None:
    """Credit a paid top-up once, then pay the elder's occurrences waiting for the balance (flush only)."""
    balance = _locked(topup.balance_id)
    if _entry(balance, BalanceEntryKind.topup, topup.amount_fen, f"topup:{topup.public_id}", topup_id=topup.id):
        topup.status, topup.paid_at, topup.payment_public_id = TopupStatus.paid, paid_at, payment_public_id
        db.session.flush()
        log.info("top-up %s credited %s fen to balance %s", topup.id, topup.amount_fen, balance.id)
        pay_waiting(balance)


# --- drawing and refunding -----------------------------------------------------------------------------------------


def _balance_for(order: CareOrder) -> CareBalance | None:
    return db.session.scalar(
        sa.select(CareBalance)
        .where(CareBalance.resident_id == order.resident_id, CareBalance.provider_id == order.provider_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def draw_for_order(order: CareOrder) -> bool:
    """Pay a pending order's copay from the elder's balance with its provider, if the balance covers it (flush only).

    The balance row is locked first and read under the lock, so concurrent draws are serialised; an order drawn
    before (same ledger key) is not drawn again.

    :return: whether the copay is paid from the balance now.
    """
    if order.status is not CareOrderStatus.pending_payment or order.copay_fen <= 0:
        return False
    balance = _balance_for(order)
    if balance is None or balance.balance_fen < order.copay_fen:
        return False
    if not _entry(balance, BalanceEntryKind.draw, order.copay_fen, f"draw:{order.public_id}", order_id=order.id):
        return False
    order.status, order.paid_at, order.expires_at = CareOrderStatus.submitted, utcnow(), None
    db.session.flush()
    log.info("care order %s copay %s fen drawn from balance %s", order.id, order.copay_fen, balance.id)
    return True


def pay_order_from_balance(user, order_public_id: str) -> CareOrder:
    """The elder or family pays a pending order's copay from the care balance with its provider.

    :raises CareOrderStateConflict: the order does not wait for its copay.
    :raises BalanceInsufficient: no balance with this provider, or it does not cover the copay.
    """
    from eldercare import orders

    with atomic():
        order = orders.get_order(order_public_id, lock=True)
        if order is None:
            raise CareOrderNotFound()
        subject = db.session.get(Resident, order.resident_id)
        try:
            acting_for(user, subject.public_id, "eldercare", reason="助餐卡支付")
        except APIError:
            refuse(user, subject.id, CareOrderNotFound())
        if order.status is not CareOrderStatus.pending_payment:
            raise CareOrderStateConflict(details={"status": order.status.value})
        if not draw_for_order(order):
            raise BalanceInsufficient(details={"copay_fen": order.copay_fen})
        orders.notify(order)
        return order


def refund_order(order: CareOrder) -> bool:
    """Give a drawn copay back to the balance once, when the order was cancelled, declined or expired (flush only).

    :return: whether this call refunded it.
    """
    if order.status not in REFUNDABLE:
        return False
    drawn = db.session.scalar(sa.select(BalanceEntry).where(BalanceEntry.idempotency_key == f"draw:{order.public_id}"))
    if drawn is None:
        return False
    # A late cancellation leaves the provider its fee (``cancellation_fee_fen``); the rest goes back.
    amount = drawn.amount_fen - min(drawn.amount_fen, getattr(order, "cancellation_fee_fen", 0) or 0)
    if amount <= 0:
        return False
    balance = _locked(drawn.balance_id)
    if not _entry(balance, BalanceEntryKind.refund, amount, f"refund:{order.public_id}", order_id=order.id):
        return False
    order.refunded_fen = min(order.copay_fen, order.refunded_fen + amount)
    db.session.flush()
    log.info("care order %s copay %s fen refunded to balance %s", order.id, amount, balance.id)
    return True


def refund_due(*, batch: int = 200) -> int:
    """Refund to the balance every drawn copay of an order that was since cancelled or declined (the sweep behind
    the periodic job; cancellations through ``orders`` do not call this module)."""
    refund = sa.orm.aliased(BalanceEntry)
    order_ids = db.session.scalars(
        sa.select(CareOrder.id)
        .join(BalanceEntry, BalanceEntry.order_id == CareOrder.id)
        .where(
            BalanceEntry.kind == BalanceEntryKind.draw,
            CareOrder.status.in_(REFUNDABLE),
            CareOrder.cancellation_fee_fen < BalanceEntry.amount_fen,  # a fee keeping it all leaves nothing to give
            ~sa.exists().where(refund.order_id == CareOrder.id, refund.kind == BalanceEntryKind.refund),
        )
        .order_by(CareOrder.id)
        .limit(batch)
    ).all()
    done = 0
    for order_id in order_ids:
        order = db.session.get(CareOrder, order_id, with_for_update=True, populate_existing=True)
        done += refund_order(order)
    return done


def pay_waiting(balance: CareBalance) -> int:
    """After a top-up, pay the elder's recurring occurrences with this provider still waiting for their copay,
    soonest first, while the balance covers them (flush only)."""
    from eldercare.meal_models import Series, SeriesOccurrence

    waiting = db.session.scalars(
        sa.select(CareOrder)
        .join(SeriesOccurrence, SeriesOccurrence.order_id == CareOrder.id)
        .join(Series, Series.id == SeriesOccurrence.series_id)
        .where(
            CareOrder.resident_id == balance.resident_id,
            CareOrder.provider_id == balance.provider_id,
            CareOrder.status == CareOrderStatus.pending_payment,
            CareOrder.expires_at > utcnow(),
            Series.pay_from_balance,
        )
        .order_by(CareOrder.scheduled_at, CareOrder.id)
        .with_for_update(of=CareOrder)
    ).all()
    paid = 0
    for order in waiting:
        if order.copay_fen > balance.balance_fen:
            break
        if draw_for_order(order):
            from eldercare import orders

            orders.notify(order)
            paid += 1
    return paid


def tell_low_balance(order: CareOrder, day_label: str) -> None:
    """Tell the family an occurrence waits for its copay because the balance is short (once per order)."""
    balance = db.session.scalar(
        sa.select(CareBalance.balance_fen).where(
            CareBalance.resident_id == order.resident_id, CareBalance.provider_id == order.provider_id
        )
    )
    provider_name = db.session.scalar(sa.select(Provider.name).where(Provider.id == order.provider_id))
    elder_name = db.session.scalar(sa.select(Resident.real_name).where(Resident.id == order.resident_id))
    push.send(
        LOW_EVENT,
        [order.resident_id],
        {
            "provider": provider_name,
            "elder": elder_name,
            "day": day_label,
            "item": order.item_name,
            "copay": yuan(order.copay_fen),
            "balance": yuan(balance or 0),
            "deadline": order.expires_at.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M") if order.expires_at else "",
        },
        source=("eldercare.care_order", order.public_id),
        key=f"eldercare.balance_low:{order.public_id}",
    )
