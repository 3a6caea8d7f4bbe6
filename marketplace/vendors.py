"""Vendors: applications, staff decisions (approve, reject, suspend, reinstate; audited) and vendor staff."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

import payments
from app import audit
from app.accounts.models import User
from app.api import keyset_page
from app.auth.models import RoleAssignment
from app.auth.scopes import authorize, community_ids_for
from app.community.integrity import refusals
from app.community.models import Region
from app.community.services import community_ids_for_public_ids
from app.db import atomic, utcnow
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from marketplace.errors import StaffAlreadyAssigned, VendorNotFound, VendorStateConflict
from marketplace.models import Vendor, VendorCommunity, VendorKind, VendorStatus

log = logging.getLogger(__name__)

#: decision → (statuses it may start from, status it leads to)
DECISIONS = {
    "approve": ((VendorStatus.pending, VendorStatus.rejected), VendorStatus.approved),
    "reject": ((VendorStatus.pending,), VendorStatus.rejected),
    "suspend": ((VendorStatus.approved,), VendorStatus.suspended),
    "reinstate": ((VendorStatus.suspended,), VendorStatus.approved),
}


def get_vendor(public_id: str, *, lock: bool = False) -> Vendor:
    query = sa.select(Vendor).where(Vendor.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    vendor = db.session.scalar(query)
    if vendor is None:
        raise VendorNotFound()
    return vendor


def vendor_for(user, public_id: str, action: str, *, lock: bool = False) -> Vendor:
    """The vendor, if ``user`` may perform ``action`` on it (404 outside their scopes, 403 beyond their role)."""
    vendor = get_vendor(public_id, lock=lock)
    authorize(user, action, vendor, not_found=VendorNotFound)
    return vendor


def apply_vendor(user, data: dict[str, Any]) -> dict[str, Any]:
    """A user applies to open a vendor; they become its owner at once and may prepare listings while staff decide."""
    with atomic():
        kind = VendorKind(data["kind"])
        if kind is VendorKind.grocery and not data.get("food_licence_no"):
            raise ValidationFailed(details={"fields": {"food_licence_no": ["生鲜商户须填写食品经营许可证号"]}})
        community_ids = community_ids_for_public_ids(data["community_ids"])
        vendor = Vendor(
            name=data["name"],
            kind=kind,
            licence_no=data["licence_no"],
            food_licence_no=data.get("food_licence_no"),
            contact_name=data["contact_name"],
            contact_phone=data["contact_phone"],
            opening_hours=data["opening_hours"],
            payee_identity=data.get("payee_identity"),
            applicant_user_id=user.id,
        )
        db.session.add(vendor)
        db.session.flush()
        db.session.add_all(VendorCommunity(vendor_id=vendor.id, community_id=cid) for cid in community_ids)
        db.session.add(RoleAssignment(user_id=user.id, role="owner", scope_kind="vendor", scope_id=vendor.id))
        audit.record(
            "marketplace.vendor.apply", actor=user, target=("vendor", vendor.public_id), after={"kind": kind.value}
        )
        log.info("vendor %s applied by user %s", vendor.id, user.id)
        return vendor_view(vendor)


def decide_vendor(
    user, public_id: str, decision: str, *, note: str | None = None, payee_id: str | None = None
) -> dict[str, Any]:
    """Community staff approve (naming the payee money goes to), reject, suspend or reinstate a vendor.

    :raises VendorStateConflict: the decision does not apply to the vendor's status.
    """
    sources, target = DECISIONS[decision]
    with atomic():
        vendor = vendor_for(user, public_id, "marketplace.vendor.decide", lock=True)
        if vendor.status not in sources:
            raise VendorStateConflict(details={"status": vendor.status.value, "decision": decision})
        before = {"status": vendor.status.value}
        if decision == "approve":
            if payee_id:
                vendor.payee_id = payments.payee_id_of(payee_id)
            if vendor.payee_id is None:
                raise ValidationFailed(details={"fields": {"payee_id": ["通过审核时须指定收款方"]}})
        vendor.status, vendor.status_note = target, note
        vendor.decided_by_user_id, vendor.decided_at = user.id, utcnow()
        db.session.flush()
        audit.record(
            f"marketplace.vendor.{decision}",
            actor=user,
            target=("vendor", vendor.public_id),
            before=before,
            after={"status": target.value},
            reason=note,
        )
        log.info("vendor %s %s by user %s", vendor.id, target.value, user.id)
        return vendor_view(vendor)


PROFILE_FIELDS = ("contact_name", "contact_phone", "opening_hours", "payee_identity")


def update_vendor(user, public_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """The owner edits the shop's contact, opening hours and stated payee identity (audited; the payee itself and
    the communities served stay with staff)."""
    with atomic():
        vendor = vendor_for(user, public_id, "marketplace.vendor.manage", lock=True)
        before = {field: getattr(vendor, field) for field in PROFILE_FIELDS if field in data}
        for field in before:
            setattr(vendor, field, data[field])
        db.session.flush()
        audit.record(
            "marketplace.vendor.update",
            actor=user,
            target=("vendor", vendor.public_id),
            before=before,
            after={field: data[field] for field in before},
        )
        return vendor_view(vendor)


def vendor_worklist(user, *, status: VendorStatus | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """Vendors serving the communities where ``user`` may decide on vendors, newest first."""
    community_ids = community_ids_for(user, "marketplace.vendor.decide")
    query = sa.select(Vendor)
    if community_ids is not None:
        served = sa.select(VendorCommunity.vendor_id).where(VendorCommunity.community_id.in_(community_ids))
        query = query.where(Vendor.id.in_(served))
    if status is not None:
        query = query.where(Vendor.status == status)
    page = keyset_page(db.session, query, [Vendor.id], cursor=cursor, limit=limit)
    served = served_communities(vendor.id for vendor in page["items"])
    return {**page, "items": [vendor_view(vendor, served[vendor.id]) for vendor in page["items"]]}


def my_vendors(user) -> list[tuple[Vendor, str]]:
    """Vendors where ``user`` holds a role, with the role."""
    rows = db.session.execute(
        sa.select(Vendor, RoleAssignment.role)
        .join(RoleAssignment, sa.and_(RoleAssignment.scope_kind == "vendor", RoleAssignment.scope_id == Vendor.id))
        .where(RoleAssignment.user_id == user.id)
        .order_by(Vendor.id)
    ).all()
    return [(vendor, role) for vendor, role in rows]


def my_vendor_views(user) -> list[dict[str, Any]]:
    """``my_vendors`` as shown (``MyVendorSchema``)."""
    rows = my_vendors(user)
    served = served_communities(vendor.id for vendor, _role in rows)
    return [{"vendor": vendor_view(vendor, served[vendor.id]), "role": role} for vendor, role in rows]


def read_vendor(user, public_id: str) -> dict[str, Any]:
    """A vendor's page, with its rating, for its staff and the community staff deciding on it."""
    from marketplace.reviews import vendor_ratings

    vendor = vendor_for(user, public_id, "marketplace.vendor.read")
    return vendor_view(vendor, rating=vendor_ratings([vendor.id])[vendor.id])


def add_staff(user, public_id: str, *, user_public_id: str, role: str) -> dict[str, str]:
    """The owner gives an account a clerk or courier role at the vendor."""
    with atomic():
        vendor = vendor_for(user, public_id, "marketplace.vendor.manage")
        member = db.session.scalar(sa.select(User).where(User.public_id == user_public_id, User.is_active))
        if member is None:
            raise NotFound("账号不存在", details={"user_id": user_public_id})
        with refusals(unique=StaffAlreadyAssigned()):
            db.session.add(RoleAssignment(user_id=member.id, role=role, scope_kind="vendor", scope_id=vendor.id))
        audit.record(
            "marketplace.vendor.staff_add",
            actor=user,
            target=("vendor", vendor.public_id),
            after={"user": member.public_id, "role": role},
        )
        return {"user_id": member.public_id, "role": role}


def served_communities(vendor_ids: Iterable[int]) -> dict[int, list[str]]:
    """The public ids of the communities each vendor serves (ordered by community), in one statement for any number
    of vendors."""
    served: dict[int, list[str]] = {vendor_id: [] for vendor_id in vendor_ids}
    if served:
        for vendor_id, public_id in db.session.execute(
            sa.select(VendorCommunity.vendor_id, Region.public_id)
            .join(Region, Region.id == VendorCommunity.community_id)
            .where(VendorCommunity.vendor_id.in_(served))
            .order_by(Region.id)
        ):
            served[vendor_id].append(public_id)
    return served


def vendor_view(
    vendor: Vendor, community_ids: list[str] | None = None, *, rating: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The vendor as shown (``VendorSchema``). ``community_ids``: the communities it serves when the caller has them
    (a list reads every vendor's at once, ``served_communities``); read here otherwise. ``rating``: shown on the
    vendor's own page (``read_vendor``), None elsewhere."""
    if community_ids is None:
        community_ids = served_communities([vendor.id])[vendor.id]
    return {
        "id": vendor.public_id,
        "name": vendor.name,
        "kind": vendor.kind,
        "status": vendor.status,
        "status_note": vendor.status_note,
        "licence_no": vendor.licence_no,
        "food_licence_no": vendor.food_licence_no,
        "contact_name": vendor.contact_name,
        "contact_phone": vendor.contact_phone,
        "opening_hours": vendor.opening_hours,
        "community_ids": community_ids,
        "created_at": vendor.created_at,
        "decided_at": vendor.decided_at,
        "rating": rating,
    }
