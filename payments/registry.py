"""The payable-kind registry: how a domain tells payments who owes what to whom, and hears back when it is paid.

A domain registers each kind once, at import::

    payments.register(
        "fees.bill",
        payee_of=lambda bill_id: ...,          # the Payee's integer id (the domain keeps a FK to payments_payees)
        subject_of=lambda bill_id: ...,        # Subject(resident_public_id=...) or Subject(user_id=...); None: no such
        scope="bills",                         # the delegation scope a delegate needs (app.accounts DELEGATION_SCOPES)
        amount_of=lambda bill_id: ...,         # fen, > 0, read now: the client never sends an amount
        expires_at_of=lambda bill_id: ...,     # aware datetime or None (no deadline of its own)
        is_payable=lambda bill_id: ...,        # False once cancelled, expired or paid
        on_paid=lambda bill_id, info: ...,     # PaidInfo; runs in a SAVEPOINT; raise to refuse (retried later)
        on_refunded=lambda bill_id, info: ..., # RefundInfo; after a refund of an applied payment succeeded
        title_of=lambda bill_id: ...,          # optional: the receipt line ("2026年11月物业费")
    )

Payable ids are the domain's public ids (strings). Every callback runs inside the caller's unit of work and must only
flush. ``on_paid`` must be safe to call again after it raised (its savepoint was rolled back), and should guard its
own state change in SQL (``UPDATE bills SET status = 'paid' WHERE id = … AND status = 'unpaid'``) and raise when
the row was not updated; payments then keeps the money as ``paid_unapplied`` and a retry job applies or refunds it.
``on_paid`` raises ``PayableRefused`` to say the payable will never take this money (its amount changed while the
payment was open, say): the money is then refunded at once instead of retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


class PayableRefused(Exception):
    """Raised by ``on_paid``: this payable will not take this payment; payments refunds the money."""


@dataclass(frozen=True)
class Subject:
    """Who owes a payable: a resident (by public id), or an account (by user id) for payables owed by an account."""

    resident_public_id: str | None = None
    user_id: int | None = None

    def __post_init__(self) -> None:
        if (self.resident_public_id is None) == (self.user_id is None):
            raise ValueError("a Subject names exactly one of resident_public_id and user_id")


@dataclass(frozen=True)
class PaidInfo:
    """Given to ``on_paid``: which payment paid this payable, how much of it, when."""

    payment_public_id: str
    out_trade_no: str
    channel: str
    amount_fen: int
    paid_at: datetime
    payer_user_id: int


@dataclass(frozen=True)
class RefundInfo:
    """Given to ``on_refunded`` for each applied payable of a payment whose refund succeeded."""

    payment_public_id: str
    refund_public_id: str
    amount_fen: int  # this refund
    refunded_fen: int  # succeeded refunds of the payment so far, this one included
    paid_fen: int
    fully_refunded: bool
    reason: str


@dataclass(frozen=True)
class PayableKind:
    kind: str
    payee_of: Callable[[str], int]
    subject_of: Callable[[str], Subject | None]
    scope: str
    amount_of: Callable[[str], int]
    expires_at_of: Callable[[str], datetime | None]
    is_payable: Callable[[str], bool]
    on_paid: Callable[[str, PaidInfo], None]
    on_refunded: Callable[[str, RefundInfo], None] | None = None
    title_of: Callable[[str], str] | None = None

    def title(self, payable_id: str) -> str:
        return (self.title_of(payable_id) if self.title_of else f"{self.kind} {payable_id}")[:200]


_kinds: dict[str, PayableKind] = {}


def register(
    kind: str,
    *,
    payee_of: Callable[[str], int],
    subject_of: Callable[[str], Subject | None],
    scope: str,
    amount_of: Callable[[str], int],
    expires_at_of: Callable[[str], datetime | None],
    is_payable: Callable[[str], bool],
    on_paid: Callable[[str, PaidInfo], None],
    on_refunded: Callable[[str, RefundInfo], None] | None = None,
    title_of: Callable[[str], str] | None = None,
) -> PayableKind:
    """Register a payable kind (see the module docstring). Registering the same name again replaces it, so a module
    reloaded in a test does not fail; two domains choosing one name is caught by the kind name convention
    ``<domain>.<thing>``."""
    if not kind or len(kind) > 64 or "." not in kind:
        raise ValueError(f"payable kind {kind!r} must be '<domain>.<thing>', at most 64 characters")
    _check_scope(scope)
    spec = PayableKind(
        kind, payee_of, subject_of, scope, amount_of, expires_at_of, is_payable, on_paid, on_refunded, title_of
    )
    _kinds[kind] = spec
    return spec


def _check_scope(scope: str) -> None:
    from app.accounts.resident_models import DELEGATION_SCOPES

    if scope not in DELEGATION_SCOPES:
        raise ValueError(f"unknown delegation scope {scope!r}; known: {DELEGATION_SCOPES}")


def get_kind(kind: str) -> PayableKind | None:
    return _kinds.get(kind)


def registered_kinds() -> dict[str, PayableKind]:
    return dict(_kinds)
