"""Who may pay a payable, and who may see a payment: the one place payments decides permissions.

Paying: the payable's subject is the caller (their own account, or the resident linked to it), or a resident the
caller acts for through ``app.auth.scopes.acting_for`` with the kind's delegation scope (which records actor and
subject in the audit log). A payable of someone the caller has no tie to is a 404, like a payable that does not
exist; a delegation that exists but is pending, expired or lacks the scope is acting_for's 403.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.errors import ResidentNotFound
from app.auth.core import has_platform_role
from app.auth.scopes import acting_for
from app.extensions import db
from payments.errors import PayableNotFound, PaymentNotFound
from payments.models import Payment, PaymentItem
from payments.registry import PayableKind, Subject


def subject_resident_id(user, subject: Subject, kind: PayableKind) -> int | None:
    """Check that ``user`` may pay for ``subject``; return the subject's resident id (None for an account subject).

    :raises PayableNotFound: (404) the subject is someone the caller does not act for.
    :raises DelegationDenied: (403) a delegation exists but does not allow paying this kind (from ``acting_for``).
    """
    if subject.user_id is not None:
        if subject.user_id != user.id:
            raise PayableNotFound()
        return None
    try:
        resident = acting_for(user, subject.resident_public_id, kind.scope)
    except ResidentNotFound:
        raise PayableNotFound() from None
    return resident.id


def may_view(user, payment: Payment) -> bool:
    """The payer, a resident the payment paid for (an elder whose daughter paid), or a platform admin."""
    if payment.payer_user_id == user.id:
        return True
    from app.accounts.resident_models import Resident

    paid_for_me = db.session.scalar(
        sa.select(
            sa.exists().where(
                PaymentItem.payment_id == payment.id,
                PaymentItem.subject_resident_id == Resident.id,
                Resident.user_id == user.id,
            )
        )
    )
    return bool(paid_for_me) or has_platform_role(user, "admin")


def require_view(user, payment: Payment | None) -> Payment:
    """The payment if ``user`` may see it; 404 otherwise (its existence is not revealed)."""
    if payment is None or not may_view(user, payment):
        raise PaymentNotFound()
    return payment
