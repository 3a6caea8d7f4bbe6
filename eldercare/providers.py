"""Care providers (applications, staff decisions, provider staff), the catalogue of items and providers' offers."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

import payments
from app import audit
from app.accounts.models import User
from app.auth.models import RoleAssignment
from app.auth.scopes import authorize
from app.community.integrity import refusals
from app.community.models import Region
from app.community.services import community_ids_for_public_ids
from app.db import atomic, utcnow
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from eldercare.errors import (
    ItemNameTaken,
    ItemNotFound,
    OfferExists,
    OfferNotFound,
    ProviderNotFound,
    ProviderNotOpen,
    ProviderStateConflict,
    StaffAlreadyAssigned,
)
from eldercare.models import (
    CareCategory,
    CareItem,
    CareOffer,
    CareOfferCommunity,
    Provider,
    ProviderCommunity,
    ProviderStatus,
)

log = logging.getLogger(__name__)

DECISIONS = {
    "approve": ((ProviderStatus.pending, ProviderStatus.rejected, ProviderStatus.suspended), ProviderStatus.approved),
    "reject": ((ProviderStatus.pending,), ProviderStatus.rejected),
    "suspend": ((ProviderStatus.approved,), ProviderStatus.suspended),
}


def get_provider(public_id: str, *, lock: bool = False) -> Provider:
    query = sa.select(Provider).where(Provider.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    provider = db.session.scalar(query)
    if provider is None:
        raise ProviderNotFound()
    return provider


def provider_for(user, public_id: str, action: str, *, lock: bool = False) -> Provider:
    """The provider, if ``user`` may perform ``action`` on it (404 outside their scopes, 403 beyond their role)."""
    provider = get_provider(public_id, lock=lock)
    authorize(user, action, provider, not_found=ProviderNotFound)
    return provider


def community_public_ids(ids) -> list[str]:
    return list(db.session.scalars(sa.select(Region.public_id).where(Region.id.in_(list(ids))).order_by(Region.id)))


def apply_provider(user, data: dict[str, Any]) -> Provider:
    """A user applies for a care organisation; they become its provider_admin while staff decide."""
    with atomic():
        served = community_ids_for_public_ids(data["community_ids"])
        provider = Provider(
            name=data["name"],
            licence_no=data["licence_no"],
            contact_phone=data["contact_phone"],
            applicant_user_id=user.id,
        )
        db.session.add(provider)
        db.session.flush()
        db.session.add_all(ProviderCommunity(provider_id=provider.id, community_id=cid) for cid in served)
        db.session.add(
            RoleAssignment(user_id=user.id, role="provider_admin", scope_kind="provider", scope_id=provider.id)
        )
        audit.record("eldercare.provider.apply", actor=user, target=("provider", provider.public_id))
        log.info("provider %s applied by user %s", provider.id, user.id)
        return provider


def decide_provider(user, public_id: str, decision: str, *, note: str | None, payee_id: str | None) -> Provider:
    """Community staff approve (naming the payee), reject or suspend a provider (audited).

    :raises ProviderStateConflict: the decision does not apply to the provider's status.
    """
    sources, target = DECISIONS[decision]
    with atomic():
        provider = provider_for(user, public_id, "eldercare.provider.decide", lock=True)
        if provider.status not in sources:
            raise ProviderStateConflict(details={"status": provider.status.value, "decision": decision})
        before = {"status": provider.status.value}
        if decision == "approve":
            if payee_id:
                provider.payee_id = payments.payee_id_of(payee_id)
            if provider.payee_id is None:
                raise ValidationFailed(details={"fields": {"payee_id": ["通过审核时须指定收款方"]}})
        provider.status, provider.status_note = target, note
        provider.decided_by_user_id, provider.decided_at = user.id, utcnow()
        db.session.flush()
        audit.record(
            f"eldercare.provider.{decision}",
            actor=user,
            target=("provider", provider.public_id),
            before=before,
            after={"status": target.value},
            reason=note,
        )
        log.info("provider %s %s by user %s", provider.id, target.value, user.id)
        return provider


def add_staff(user, public_id: str, *, user_public_id: str, role: str) -> dict[str, str]:
    """The provider admin gives an account a caregiver (or provider_admin) role."""
    with atomic():
        provider = provider_for(user, public_id, "eldercare.provider.manage")
        member = db.session.scalar(sa.select(User).where(User.public_id == user_public_id, User.is_active))
        if member is None:
            raise NotFound("账号不存在", details={"user_id": user_public_id})
        with refusals(unique=StaffAlreadyAssigned()):
            db.session.add(RoleAssignment(user_id=member.id, role=role, scope_kind="provider", scope_id=provider.id))
        audit.record(
            "eldercare.provider.staff_add",
            actor=user,
            target=("provider", provider.public_id),
            after={"user": member.public_id, "role": role},
        )
        return {"user_id": member.public_id, "role": role}


# --- catalogue -----------------------------------------------------------------------------------------------------


def create_item(user, data: dict[str, Any]) -> CareItem:
    with atomic():
        item = CareItem(category=CareCategory(data["category"]), name=data["name"], description=data.get("description"))
        with refusals(unique=ItemNameTaken()):
            db.session.add(item)
        log.info("care item %s created by user %s", item.id, user.id)
        return item


def list_items(category: str | None) -> list[CareItem]:
    query = sa.select(CareItem).order_by(CareItem.category, CareItem.id)
    if category:
        query = query.where(CareItem.category == CareCategory(category))
    return list(db.session.scalars(query))


def create_offer(user, provider_public_id: str, data: dict[str, Any]) -> CareOffer:
    """The provider admin offers a catalogue item at a price and duration in some of the provider's communities."""
    with atomic():
        provider = provider_for(user, provider_public_id, "eldercare.provider.manage")
        item = db.session.scalar(sa.select(CareItem).where(CareItem.public_id == data["item_id"]))
        if item is None:
            raise ItemNotFound()
        communities = community_ids_for_public_ids(data["community_ids"])
        outside = set(communities) - provider.scope_community_ids()
        if outside:
            raise ValidationFailed(details={"fields": {"community_ids": ["只能选择本机构服务的社区"]}})
        offer = CareOffer(
            provider_id=provider.id,
            item_id=item.id,
            price_fen=data["price_fen"],
            duration_minutes=data["duration_minutes"],
        )
        with refusals(unique=OfferExists()):
            db.session.add(offer)
        db.session.add_all(CareOfferCommunity(offer_id=offer.id, community_id=cid) for cid in communities)
        db.session.flush()
        log.info("care offer %s created by user %s", offer.id, user.id)
        return offer


def offer_for_order(public_id: str) -> tuple[CareOffer, CareItem, Provider]:
    """An active offer of an approved provider, for placing an order.

    :raises OfferNotFound: no such offer, or it was withdrawn.
    :raises ProviderNotOpen: the provider is not approved (or was suspended).
    """
    row = db.session.execute(
        sa.select(CareOffer, CareItem, Provider)
        .join(CareItem, CareItem.id == CareOffer.item_id)
        .join(Provider, Provider.id == CareOffer.provider_id)
        .where(CareOffer.public_id == public_id, CareOffer.active)
    ).one_or_none()
    if row is None:
        raise OfferNotFound()
    offer, item, provider = row
    if provider.status is not ProviderStatus.approved:
        raise ProviderNotOpen(details={"status": provider.status.value})
    return offer, item, provider


def offer_communities(offer_id: int) -> set[int]:
    return set(
        db.session.scalars(sa.select(CareOfferCommunity.community_id).where(CareOfferCommunity.offer_id == offer_id))
    )


def browse_offers(*, category: str | None, community_public_id: str | None) -> list[dict[str, Any]]:
    """Active offers of approved providers, optionally of one category and in one community."""
    query = (
        sa.select(CareOffer, CareItem, Provider)
        .join(CareItem, CareItem.id == CareOffer.item_id)
        .join(Provider, Provider.id == CareOffer.provider_id)
        .where(CareOffer.active, Provider.status == ProviderStatus.approved)
        .order_by(CareItem.category, CareOffer.price_fen, CareOffer.id)
    )
    if category:
        query = query.where(CareItem.category == CareCategory(category))
    if community_public_id:
        in_community = (
            sa.select(CareOfferCommunity.offer_id)
            .join(Region, Region.id == CareOfferCommunity.community_id)
            .where(Region.public_id == community_public_id)
        )
        query = query.where(CareOffer.id.in_(in_community))
    rows = db.session.execute(query).all()
    # Every offer's communities in one statement (``offer_view`` alone would read two per offer).
    served: dict[int, list[str]] = {offer.id: [] for offer, _item, _provider in rows}
    if served:
        for offer_id, public_id in db.session.execute(
            sa.select(CareOfferCommunity.offer_id, Region.public_id)
            .join(Region, Region.id == CareOfferCommunity.community_id)
            .where(CareOfferCommunity.offer_id.in_(served))
            .order_by(Region.id)
        ):
            served[offer_id].append(public_id)
    return [offer_view(offer, item, provider, served[offer.id]) for offer, item, provider in rows]


def offer_view(
    offer: CareOffer, item: CareItem, provider: Provider, community_ids: list[str] | None = None
) -> dict[str, Any]:
    if community_ids is None:
        community_ids = community_public_ids(offer_communities(offer.id))
    return {
        "id": offer.public_id,
        "item_id": item.public_id,
        "item_name": item.name,
        "category": item.category.value,
        "provider_id": provider.public_id,
        "provider_name": provider.name,
        "price_fen": offer.price_fen,
        "duration_minutes": offer.duration_minutes,
        "community_ids": community_ids,
    }


def offer_by_id(public_id: str) -> CareOffer:
    offer = db.session.scalar(sa.select(CareOffer).where(CareOffer.public_id == public_id))
    if offer is None:
        raise OfferNotFound()
    return offer


def browse_offers_one(offer: CareOffer) -> dict[str, Any]:
    item = db.session.get(CareItem, offer.item_id)
    provider = db.session.get(Provider, offer.provider_id)
    return offer_view(offer, item, provider)
