"""Payments: payees, payable kinds, payments, the paid path, late money, refunds and channels (sandbox now).

Domains use only what is exported here: ``register`` a payable kind (see ``payments.registry``), ``refund`` a
payment, ``payment_for`` a payable, and ``mark_paid`` from a channel's callback.
"""

from payments import admin_routes as _admin_routes  # noqa: F401  (registers the admin views on blp)
from payments import jobs as _jobs  # noqa: F401  (registers the jobs)
from payments import models  # noqa: F401  (tables for Alembic and the app)
from payments import retention as _retention
from payments.channels import Channel, RefundResult, SandboxChannel, TradeState, get_channel, register_channel
from payments.paid import mark_paid
from payments.payees import payee_id_of
from payments.refunds import refund
from payments.registry import PaidInfo, PayableKind, PayableRefused, RefundInfo, Subject, register
from payments.routes import blp
from payments.services import payment_for

_retention.register()

__all__ = [
    "Channel",
    "PaidInfo",
    "PayableKind",
    "PayableRefused",
    "RefundInfo",
    "RefundResult",
    "SandboxChannel",
    "Subject",
    "TradeState",
    "blp",
    "get_channel",
    "mark_paid",
    "payee_id_of",
    "payment_for",
    "refund",
    "register",
    "register_channel",
]
