"""Fee items (收费项目) of an estate: staff create and edit them; generation reads them."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

import payments
from app import audit
from app.auth.scopes import authorize
from app.community.errors import EstateNotFound
from app.community.integrity import flush_checked
from app.community.services import get_estate
from app.db import atomic
from app.extensions import db
from fees.errors import FeeItemExists, FeeItemNotFound
from fees.models import Cycle, FeeItem, FeeKind, Formula
from fees.money import rate_yuan
from fees.payees import payee_brief

log = logging.getLogger(__name__)

_EDITABLE = ("name", "rate_centifen", "unit_label", "due_days", "late_fee_bps_per_day", "late_fee_cap_bps", "is_active")


def get_item(public_id: str) -> FeeItem:
    item = db.session.scalar(sa.select(FeeItem).where(FeeItem.public_id == public_id))
    if item is None:
        raise FeeItemNotFound()
    return item


def staff_item(user, public_id: str, action: str = "fees.read") -> FeeItem:
    item = get_item(public_id)
    authorize(user, action, item, not_found=FeeItemNotFound)
    return item


def read_item(user, public_id: str) -> dict[str, Any]:
    """A fee item for staff with ``fees.read`` over it (404 outside their communities), as shown."""
    return item_view(staff_item(user, public_id))


def item_view(item: FeeItem, payee_public_id: str | None = None) -> dict[str, Any]:
    """The item as shown (``FeeItemSchema``). ``payee_public_id``: the public id of ``item.payee_id`` when the caller
    has it (a list reads every item's with the items); read here otherwise."""
    return {
        "id": item.public_id,
        "name": item.name,
        "kind": item.kind,
        "formula": item.formula,
        "rate_centifen": item.rate_centifen,
        "rate_yuan": rate_yuan(item.rate_centifen),
        "unit_label": item.unit_label,
        "cycle": item.cycle,
        "payee_id": payee_public_id or payee_brief(item.payee_id)["id"],
        "due_days": item.due_days,
        "late_fee_bps_per_day": item.late_fee_bps_per_day,
        "late_fee_cap_bps": item.late_fee_cap_bps,
        "is_active": item.is_active,
        "created_at": item.created_at,
    }


def list_items(user, estate_public_id: str) -> list[dict[str, Any]]:
    estate = get_estate(estate_public_id)
    authorize(user, "fees.read", estate, not_found=EstateNotFound)
    from payments.models import Payee

    rows = db.session.execute(
        sa.select(FeeItem, Payee.public_id)
        .join(Payee, Payee.id == FeeItem.payee_id)
        .where(FeeItem.estate_id == estate.id)
        .order_by(FeeItem.id)
    ).all()
    return [item_view(item, payee_public_id) for item, payee_public_id in rows]


def _shown(data: dict[str, Any]) -> dict[str, Any]:
    return {key: (value.value if hasattr(value, "value") else value) for key, value in data.items()}


def create_item(user, estate_public_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Add a fee item to an estate (its view). Changing a rate later does not touch bills already issued (they keep
    theirs)."""
    with atomic():
        estate = get_estate(estate_public_id)
        authorize(user, "fees.manage", estate, not_found=EstateNotFound)
        values = dict(data)
        payee_public_id = values.pop("payee_id")
        item = FeeItem(
            estate_id=estate.id,
            community_id=estate.community_id,
            payee_id=payments.payee_id_of(payee_public_id),
            created_by_user_id=user.id,
            kind=FeeKind(values.pop("kind")),
            formula=Formula(values.pop("formula")),
            cycle=Cycle(values.pop("cycle")),
            **values,
        )
        db.session.add(item)
        flush_checked(unique=FeeItemExists())
        audit.record("fees.item.create", actor=user, target=("fee_item", item.public_id), after=_shown(data))
        log.info("fee item %s created in estate %s by user %s", item.id, estate.id, user.id)
        return item_view(item, payee_public_id)


def update_item(user, public_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Edit an item's name, rate, due days, late-fee rules or activity (its view). Bills already issued keep their
    terms."""
    with atomic():
        item = db.session.scalar(sa.select(FeeItem).where(FeeItem.public_id == public_id).with_for_update())
        if item is None:
            raise FeeItemNotFound()
        authorize(user, "fees.manage", item, not_found=FeeItemNotFound)
        before = {key: getattr(item, key) for key in changes if key in _EDITABLE}
        for key, value in changes.items():
            if key == "payee_id":
                item.payee_id = payments.payee_id_of(value)
            elif key in _EDITABLE:
                setattr(item, key, value)
        flush_checked(unique=FeeItemExists())
        audit.record(
            "fees.item.update", actor=user, target=("fee_item", item.public_id), before=before, after=_shown(changes)
        )
        return item_view(item, changes.get("payee_id"))
