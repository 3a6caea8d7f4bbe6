"""Payees (收款方) and their channel identities, managed by platform admins."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import audit
from app.accounts import crypto
from app.db import atomic
from app.extensions import db
from payments.errors import PayeeExists, PayeeInUse, PayeeNotFound
from payments.models import Payee, PayeeKind

log = logging.getLogger(__name__)

ALIPAY_TOKEN_PURPOSE = "payments_payees.alipay_app_auth_token"  # noqa: S105  (an AES-GCM label, not a secret)
UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION = "23505", "23503"


def alipay_app_auth_token(payee: Payee) -> str | None:
    """The decrypted Alipay app authorisation token (for the Alipay channel; never returned by an endpoint)."""
    if payee.alipay_app_auth_token_ciphertext is None:
        return None
    return crypto.decrypt(payee.alipay_app_auth_token_ciphertext, purpose=ALIPAY_TOKEN_PURPOSE)


def _apply(payee: Payee, data: dict[str, Any]) -> dict[str, Any]:
    shown = {}
    for field in ("name", "wechat_sub_mchid", "commission_bps", "is_active"):
        if field in data:
            setattr(payee, field, data[field])
            shown[field] = data[field]
    if "kind" in data:
        payee.kind = PayeeKind(data["kind"])
        shown["kind"] = data["kind"]
    if "alipay_app_auth_token" in data:
        token = data["alipay_app_auth_token"]
        payee.alipay_app_auth_token_ciphertext = crypto.encrypt(token, purpose=ALIPAY_TOKEN_PURPOSE) if token else None
        shown["alipay_app_auth_token"] = "***" if token else None
    return shown


def _flush_checked() -> None:
    try:
        with atomic(savepoint=True):
            db.session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == UNIQUE_VIOLATION:
            raise PayeeExists() from None
        raise


def create_payee(actor, data: dict[str, Any]) -> Payee:
    with atomic():
        payee = Payee()
        shown = _apply(payee, data)
        db.session.add(payee)
        _flush_checked()
        audit.record("payee.create", actor=actor, target=("payee", payee.public_id), after=shown)
        log.info("payee %s created by user %s", payee.id, actor.id)
        return payee


def get_payee(public_id: str) -> Payee:
    payee = db.session.scalar(sa.select(Payee).where(Payee.public_id == public_id))
    if payee is None:
        raise PayeeNotFound()
    return payee


def update_payee(actor, public_id: str, data: dict[str, Any]) -> Payee:
    with atomic():
        payee = db.session.scalar(sa.select(Payee).where(Payee.public_id == public_id).with_for_update())
        if payee is None:
            raise PayeeNotFound()
        shown = _apply(payee, data)
        _flush_checked()
        audit.record("payee.update", actor=actor, target=("payee", payee.public_id), after=shown)
        log.info("payee %s updated by user %s", payee.id, actor.id)
        return payee


def delete_payee(actor, public_id: str) -> None:
    """Delete a payee nobody has paid yet; one with payments is deactivated instead (``is_active: false``)."""
    with atomic():
        payee = get_payee(public_id)
        try:
            with atomic(savepoint=True):
                db.session.execute(sa.delete(Payee).where(Payee.id == payee.id))
        except IntegrityError as error:
            if getattr(error.orig, "sqlstate", None) == FOREIGN_KEY_VIOLATION:
                raise PayeeInUse() from None
            raise
        db.session.expunge(payee)
        audit.record("payee.delete", actor=actor, target=("payee", public_id), before={"name": payee.name})
        log.info("payee %s deleted by user %s", payee.id, actor.id)


def list_payees(pagination) -> list[Payee]:
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(Payee))
    return db.session.scalars(
        sa.select(Payee).order_by(Payee.id.desc()).offset(pagination.first_item).limit(pagination.page_size)
    ).all()


def payee_id_of(public_id: str) -> int:
    """The integer id a domain stores in its FK to payments_payees, from the public id an admin shows it."""
    return get_payee(public_id).id


def commission_bps_of(payee_id: int | None) -> int:
    """The platform's commission on the payee's payments, in basis points (0 without a payee)."""
    if payee_id is None:
        return 0
    return int(db.session.scalar(sa.select(Payee.commission_bps).where(Payee.id == payee_id)) or 0)
