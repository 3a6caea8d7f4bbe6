"""Builders for eldercare tests: an 82-year-old elder with local hukou in 幸福社区, her daughter holding an
``eldercare`` delegation, an approved provider with a caregiver, a 3000-fen offer, and the ≥ 80 local rule
(10 % copay, 5000 fen a month)."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from app.accounts.resident_models import (
    Delegation,
    DelegationStatus,
    HukouStatus,
    Relationship,
    ResidentTag,
    Tag,
)
from app.auth.models import RoleAssignment
from app.db import atomic, utcnow
from app.extensions import db as database
from eldercare.models import (
    CareCategory,
    CareItem,
    CareOffer,
    CareOfferCommunity,
    EligibilityRule,
    Provider,
    ProviderCommunity,
    ProviderStatus,
)
from payments.models import Payee, PayeeKind
from tests.community.fixtures import build_tree

E = "/api/v1/eldercare"
ELDER_BORN = date(1944, 5, 1)


def add(obj):
    database.session.add(obj)
    database.session.flush()
    return obj


def add_provider(admin, communities, *, name="安康居家养老服务中心", status=ProviderStatus.approved) -> Provider:
    with atomic():
        payee = add(Payee(name=name, kind=PayeeKind.vendor))
        provider = add(
            Provider(
                name=name,
                licence_no="52110101MJ0000001X",
                contact_phone="010-88886666",
                payee_id=payee.id,
                status=status,
                applicant_user_id=admin.id,
            )
        )
        database.session.add_all(ProviderCommunity(provider_id=provider.id, community_id=c.id) for c in communities)
        add(RoleAssignment(user_id=admin.id, role="provider_admin", scope_kind="provider", scope_id=provider.id))
    return provider


def add_role(provider, user, role: str) -> None:
    with atomic():
        add(RoleAssignment(user_id=user.id, role=role, scope_kind="provider", scope_id=provider.id))


def add_offer(provider, communities, *, name="助浴上门", category=CareCategory.bath, price_fen=3000) -> CareOffer:
    with atomic():
        item = add(CareItem(category=category, name=f"{name}-{provider.id}"))
        offer = add(CareOffer(provider_id=provider.id, item_id=item.id, price_fen=price_fen, duration_minutes=60))
        database.session.add_all(CareOfferCommunity(offer_id=offer.id, community_id=c.id) for c in communities)
    return offer


def add_rule(name="高龄本地户籍", *, priority=100, copay_bps=1000, quota=5000, **columns) -> EligibilityRule:
    with atomic():
        return add(
            EligibilityRule(
                name=name,
                min_age=columns.pop("min_age", 80),
                hukou=columns.pop("hukou", HukouStatus.local),
                copay_bps=copay_bps,
                monthly_quota_fen=quota,
                valid_from=columns.pop("valid_from", date(2026, 1, 1)),
                priority=priority,
                **columns,
            )
        )


def tag(resident, code: str, region) -> None:
    from sqlalchemy import select

    with atomic():
        tag_id = database.session.scalar(select(Tag.id).where(Tag.code == code))
        add(ResidentTag(resident_id=resident.id, tag_id=tag_id, region_id=region.id, reason="测试"))


def delegate(actor, subject, scopes=("eldercare",)) -> Delegation:
    with atomic():
        return add(
            Delegation(
                actor_resident_id=actor.id,
                subject_resident_id=subject.id,
                relationship=Relationship.child,
                scopes=list(scopes),
                status=DelegationStatus.active,
                decided_at=utcnow(),
                approved_via="staff",
            )
        )


def build_care(make_user, make_resident, join, tree) -> SimpleNamespace:
    elder_user, elder = make_resident("王秀兰", born=ELDER_BORN, sequence="982")
    with atomic():
        elder.hukou_status = HukouStatus.local
        database.session.add(elder)
    join(elder, tree.rooms_a["101"], role="head")
    daughter_user, daughter = make_resident("李娜", born=date(1972, 8, 9), sequence="983")
    join(daughter, tree.rooms_a["102"])
    delegate(daughter, elder)
    admin = make_user("机构管理员")
    provider = add_provider(admin, [tree.a])
    caregiver = make_user("护理员小张")
    add_role(provider, caregiver, "caregiver")
    offer = add_offer(provider, [tree.a])
    rule = add_rule()
    return SimpleNamespace(
        elder_user=elder_user,
        elder=elder,
        daughter_user=daughter_user,
        daughter=daughter,
        admin=admin,
        provider=provider,
        caregiver=caregiver,
        offer=offer,
        rule=rule,
        tree=tree,
    )


@pytest.fixture
def care(tree, make_user, make_resident, join) -> SimpleNamespace:
    return build_care(make_user, make_resident, join, tree)


def tomorrow() -> str:
    return (utcnow() + timedelta(days=1)).isoformat()


__all__ = ["E", "add_offer", "add_provider", "add_role", "add_rule", "build_care", "build_tree", "tag", "tomorrow"]
