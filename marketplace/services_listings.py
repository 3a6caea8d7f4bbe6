"""Service listings: what repair, household-service and recycling vendors offer (owner-managed), and what residents
browse in their communities."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from app.api import decode_cursor, keyset_page
from app.auth.scopes import authorize
from app.db import atomic
from app.extensions import db
from marketplace import services_access as _access  # noqa: F401  (registers the actions used below)
from marketplace.catalogue import browsing_communities
from marketplace.models import Vendor, VendorCommunity, VendorStatus
from marketplace.service_models import SERVICE_VENDOR_KINDS, ServiceKind, ServiceListing
from marketplace.services_errors import ServiceNotFound, VendorOffersNoServices
from marketplace.vendors import vendor_for

log = logging.getLogger(__name__)

EDITABLE = ("name", "description", "callout_fee_fen", "price_notes", "duration_minutes", "on_shelf")


def int_keyset_page(query, column, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """``keyset_page`` over one integer key, refusing a well-formed cursor that holds anything but integers (it
    would reach PostgreSQL as a text compared with a bigint)."""
    if cursor and not all(isinstance(v, int) and not isinstance(v, bool) for v in decode_cursor(cursor)):
        decode_cursor("!")  # raises the same validation error as a malformed cursor
    return keyset_page(db.session, query, [column], cursor=cursor, limit=limit)


def create_service(user, vendor_public_id: str, data: dict[str, Any]) -> ServiceListing:
    """The owner lists a service.

    :raises VendorOffersNoServices: the vendor is a grocer.
    """
    with atomic():
        vendor = vendor_for(user, vendor_public_id, "marketplace.service.manage")
        if vendor.kind not in SERVICE_VENDOR_KINDS:
            raise VendorOffersNoServices(details={"vendor_kind": vendor.kind.value})
        service = ServiceListing(
            vendor_id=vendor.id,
            name=data["name"],
            kind=ServiceKind(data["kind"]),
            description=data.get("description"),
            callout_fee_fen=data["callout_fee_fen"],
            price_notes=data.get("price_notes"),
            duration_minutes=data["duration_minutes"],
            on_shelf=data.get("on_shelf", False),
        )
        service.vendor = vendor
        db.session.add(service)
        db.session.flush()
        log.info("service %s listed by user %s for vendor %s", service.id, user.id, vendor.id)
        return service


def service_for(user, public_id: str, action: str, *, lock: bool = False) -> ServiceListing:
    """The listing, if ``user`` may perform ``action`` on it (404 outside their vendor, 403 beyond their role)."""
    query = sa.select(ServiceListing).where(ServiceListing.public_id == public_id)
    query = query.options(joinedload(ServiceListing.vendor))
    if lock:
        query = query.with_for_update(of=ServiceListing).execution_options(populate_existing=True)
    service = db.session.scalar(query)
    if service is None:
        raise ServiceNotFound()
    authorize(user, action, service, not_found=ServiceNotFound)
    return service


def update_service(user, public_id: str, data: dict[str, Any]) -> ServiceListing:
    """The owner edits a listing or puts it on or off the shelf; open bookings keep the call-out fee they were
    booked with."""
    with atomic():
        service = service_for(user, public_id, "marketplace.service.manage", lock=True)
        for field in EDITABLE:
            if field in data:
                setattr(service, field, data[field])
        if "kind" in data:
            service.kind = ServiceKind(data["kind"])
        db.session.flush()
        log.info("service %s updated by user %s", service.id, user.id)
        return service


def vendor_services(user, vendor_public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Every listing of a vendor, on shelf or not, for its staff, newest first."""
    vendor = vendor_for(user, vendor_public_id, "marketplace.service.read")
    query = (
        sa.select(ServiceListing)
        .where(ServiceListing.vendor_id == vendor.id)
        .options(joinedload(ServiceListing.vendor))
    )
    return int_keyset_page(query, ServiceListing.id, cursor=cursor, limit=limit)


# --- resident browsing --------------------------------------------------------------------------------------------


def _visible(community_ids: set[int]):
    """Listings on shelf from approved vendors serving any of ``community_ids``, each with its vendor (one join)."""
    served = sa.select(VendorCommunity.vendor_id).where(VendorCommunity.community_id.in_(community_ids))
    return (
        sa.select(ServiceListing)
        .join(Vendor, Vendor.id == ServiceListing.vendor_id)
        .where(ServiceListing.on_shelf, Vendor.status == VendorStatus.approved, Vendor.id.in_(served))
        .options(contains_eager(ServiceListing.vendor))
    )


def browse_services(
    user,
    *,
    kind: str | None = None,
    q: str | None = None,
    vendor_id: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """A page of the services offered in the resident's communities, newest first. One SELECT joined to the
    vendors per page, so the number of statements does not grow with the page size."""
    query = _visible(browsing_communities(user))
    if kind:
        query = query.where(ServiceListing.kind == ServiceKind(kind))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(ServiceListing.name.ilike(pattern), ServiceListing.description.ilike(pattern)))
    if vendor_id:
        query = query.where(Vendor.public_id == vendor_id)
    return int_keyset_page(query, ServiceListing.id, cursor=cursor, limit=limit)


def browse_service(user, public_id: str) -> ServiceListing:
    service = db.session.scalar(_visible(browsing_communities(user)).where(ServiceListing.public_id == public_id))
    if service is None:
        raise ServiceNotFound()
    return service
