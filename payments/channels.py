"""Payment channels: the interface every gateway implements, the channel registry, and the in-process sandbox.

A channel turns a ``Payment`` into what the client needs to pay (``prepay``), closes unpaid orders, answers
queries and performs refunds. Money arriving is reported to ``payments.mark_paid`` by the channel's callback view
(WeChat Pay and Alipay, a later issue) or, for the sandbox, by the demo-mode confirm endpoint: one paid path.

Rules for implementations:

- ``prepay`` is idempotent per ``out_trade_no`` (the gateways accept the same order again with the same fields)
  and sets the gateway's own expiry to ``payment.expires_at``, so the gateway refuses money after it where it can.
- ``refund`` is idempotent per ``refund.out_refund_no``: the job may call it again after a timeout.
- Errors are raised as ``ChannelError``; the caller decides whether to retry.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import current_app

from app.db import utcnow
from payments.errors import ChannelUnavailable

if TYPE_CHECKING:
    from payments.models import Payment, Refund


@dataclass(frozen=True)
class TradeState:
    """What the channel knows about an order: ``paid`` (with the transaction), ``open`` or ``closed``."""

    state: str
    channel_txn_id: str | None = None
    amount_fen: int | None = None
    paid_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    """``succeeded``, or ``processing`` (the channel accepted it and finishes later; the job asks again)."""

    state: str
    channel_refund_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class Channel(ABC):
    name: str

    def available(self) -> bool:
        """Whether this deployment can take payments through the channel (configured, allowed)."""
        return True

    def accepts(self, payee) -> bool:
        """Whether the payee holds an identity on this channel (sub-merchant id, app authorisation)."""
        return True

    @abstractmethod
    def prepay(self, payment: Payment) -> dict[str, Any]:
        """Open the order at the gateway; return the parameters the client passes to its payment UI."""

    @abstractmethod
    def close(self, payment: Payment) -> None:
        """Close the order at the gateway so no more money can arrive for it (idempotent)."""

    @abstractmethod
    def query(self, payment: Payment) -> TradeState:
        """Ask the gateway whether the order was paid (used before closing an expired payment)."""

    @abstractmethod
    def refund(self, payment: Payment, refund: Refund) -> RefundResult:
        """Return ``refund.amount_fen`` of the payment's money (idempotent per ``refund.out_refund_no``)."""

    def before_refund(self, payment: Payment, refund: Refund) -> str | None:
        """Work the channel must finish before the money can go back (profit shared from the payment must be
        returned first). None: go ahead; a reason: not yet, the job asks again shortly (not a failed attempt) until
        ``refunds.WAIT_LIMIT`` after the request, then each wait counts as a failed attempt (code: the reason).
        Raising counts as a failed attempt."""
        return None


class SandboxChannel(Channel):
    """The embedded default's channel: no money moves. A sandbox payment is paid by the demo-mode confirm endpoint,
    which drives the same ``mark_paid`` as a gateway callback. Available in demo mode and tests only."""

    name = "sandbox"

    def available(self) -> bool:
        configured = current_app.config.get("PAYMENTS_SANDBOX")
        if configured is not None:
            return bool(configured)
        return bool(current_app.config.get("DEMO_MODE") or current_app.config.get("TESTING"))

    def prepay(self, payment: Payment) -> dict[str, Any]:
        params: dict[str, Any] = {
            "sandbox": True,
            "out_trade_no": payment.out_trade_no,
            "amount_fen": payment.amount_fen,
        }
        if current_app.config.get("DEMO_MODE"):  # the confirm route exists in demo mode only
            params["confirm_path"] = f"/api/v1/payments/{payment.public_id}/sandbox/confirm"
        return params

    def close(self, payment: Payment) -> None:
        return None

    def query(self, payment: Payment) -> TradeState:
        # The sandbox has no gateway of its own: a confirmed payment went straight through mark_paid.
        if payment.channel_txn_id:
            return TradeState("paid", payment.channel_txn_id, payment.paid_fen, payment.paid_at)
        return TradeState("open")

    def refund(self, payment: Payment, refund: Refund) -> RefundResult:
        return RefundResult("succeeded", f"SBR{refund.out_refund_no[2:]}", {"at": utcnow().isoformat()})

    @staticmethod
    def new_txn_id() -> str:
        return f"SB{secrets.token_hex(12)}"


_channels: dict[str, Channel] = {}


def register_channel(channel: Channel) -> Channel | None:
    """Register (or replace) a channel under its name; returns the one it replaced (tests put it back)."""
    previous = _channels.get(channel.name)
    _channels[channel.name] = channel
    return previous


def get_channel(name: str) -> Channel:
    """The channel called ``name``, if registered and available here.

    :raises ChannelUnavailable: unknown, not configured, or (the sandbox) outside demo mode and tests.
    """
    channel = _channels.get(name)
    if channel is None or not channel.available():
        raise ChannelUnavailable(details={"channel": name})
    return channel


def channel_of(name: str) -> Channel:
    """The channel of an existing payment, available or not (jobs must still refund through it)."""
    channel = _channels.get(name)
    if channel is None:
        raise LookupError(f"payment channel {name!r} is not registered")
    return channel


register_channel(SandboxChannel())
