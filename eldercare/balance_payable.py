"""The payable kind ``eldercare.balance_topup``: the family tops up an elder's care balance, paid to the provider's
payee (the provider issued the balance and holds the money; the platform never does).

``on_paid`` runs in payments' SAVEPOINT: it credits the balance once (ledger key ``topup:<id>``) and pays recurring
occurrences waiting for the balance. A top-up no longer pending (paid already) or expired refuses the money with
``PayableRefused`` and payments refunds it at once.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

import payments
from app.accounts.resident_models import Resident
from app.db import utcnow
from app.extensions import db
from eldercare import balances
from eldercare.meal_models import BalanceTopup, CareBalance, TopupStatus
from eldercare.models import Provider
from payments import PaidInfo, PayableRefused, Subject

log = logging.getLogger(__name__)


def _topup(topup_id: str, *, lock: bool = False) -> BalanceTopup | None:
    query = sa.select(BalanceTopup).where(BalanceTopup.public_id == topup_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def _balance(topup: BalanceTopup) -> CareBalance:
    return db.session.get(CareBalance, topup.balance_id)


def payee_of(topup_id: str) -> int:
    balance = _balance(_topup(topup_id))
    return db.session.scalar(sa.select(Provider.payee_id).where(Provider.id == balance.provider_id))


def subject_of(topup_id: str) -> Subject | None:
    topup = _topup(topup_id)
    if topup is None:
        return None
    resident_id = _balance(topup).resident_id
    return Subject(
        resident_public_id=db.session.scalar(sa.select(Resident.public_id).where(Resident.id == resident_id))
    )


def is_payable(topup_id: str) -> bool:
    topup = _topup(topup_id)
    return topup is not None and topup.status is TopupStatus.pending and topup.expires_at > utcnow()


def title_of(topup_id: str) -> str:
    provider_name = db.session.scalar(
        sa.select(Provider.name).where(Provider.id == _balance(_topup(topup_id)).provider_id)
    )
    return f"助餐卡充值（{provider_name}）"


def on_paid(topup_id: str, info: PaidInfo) -> None:
    """Credit the balance (flush only).

    :raises PayableRefused: the top-up is not pending any more, or the amount differs.
    """
    topup = _topup(topup_id, lock=True)
    if topup is None or topup.status is not TopupStatus.pending:
        raise PayableRefused(f"top-up {topup_id} is {topup.status.value if topup else 'gone'}")
    if info.amount_fen != topup.amount_fen:
        raise PayableRefused(f"top-up {topup_id} is {topup.amount_fen} fen, {info.amount_fen} arrived")
    balances.credit_topup(topup, paid_at=info.paid_at, payment_public_id=info.payment_public_id)


payments.register(
    balances.TOPUP_KIND,
    payee_of=payee_of,
    subject_of=subject_of,
    scope="eldercare",
    amount_of=lambda topup_id: _topup(topup_id).amount_fen,
    expires_at_of=lambda topup_id: _topup(topup_id).expires_at,
    is_payable=is_payable,
    on_paid=on_paid,
    title_of=title_of,
)
