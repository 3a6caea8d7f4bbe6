"""Fixtures shared by the community and accounts tests: a small tree, staff by role and scope, residents, an API caller.

Imported by both conftest files (``from tests.community.fixtures import *``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from types import SimpleNamespace

import pytest

from app.accounts.demo import fake_id_number
from app.accounts.resident_models import HouseholdMembership, MembershipRole, MembershipStatus, Resident
from app.auth.models import RoleAssignment
from app.community.models import Building, Estate, Household, Region, RegionKind, Unit
from app.db import atomic, utcnow
from app.extensions import db as database

__all__ = ["api", "build_tree", "id_number", "join", "make_resident", "make_staff", "tree"]


def id_number(born: date = date(1990, 3, 7), sequence: str = "991") -> str:
    """A valid 居民身份证 number (real address code 110101, fake sequence 99x)."""
    return fake_id_number(born, sequence)


def build_tree() -> SimpleNamespace:
    """District 示范区 → street 幸福街道 → communities A (幸福社区) and B (和平社区), each with an estate, building
    1号楼, unit 1单元 and rooms; plus a second district with community C. Committed in its own unit of work."""
    from app.accounts.tags import ensure_builtin_tags

    with atomic():
        ensure_builtin_tags()  # a committed_db test elsewhere may have truncated the migration's rows

        def add(obj):
            database.session.add(obj)
            database.session.flush()
            return obj

        district = add(Region(kind=RegionKind.district, name="示范区"))
        street = add(Region(kind=RegionKind.street, name="幸福街道", parent_id=district.id, parent_kind="district"))
        a = add(Region(kind=RegionKind.community, name="幸福社区", parent_id=street.id, parent_kind="street"))
        b = add(Region(kind=RegionKind.community, name="和平社区", parent_id=street.id, parent_kind="street"))
        other_district = add(Region(kind=RegionKind.district, name="远方区"))
        other_street = add(
            Region(kind=RegionKind.street, name="远方街道", parent_id=other_district.id, parent_kind="district")
        )
        c = add(Region(kind=RegionKind.community, name="远方社区", parent_id=other_street.id, parent_kind="street"))

        def estate(community, name):
            est = add(Estate(community_id=community.id, name=name))
            building = add(Building(estate_id=est.id, community_id=community.id, name="1号楼"))
            unit = add(Unit(building_id=building.id, name="1单元"))
            rooms = {
                room: add(
                    Household(
                        building_id=building.id,
                        unit_id=unit.id,
                        community_id=community.id,
                        room=room,
                        floor=int(room[0]),
                        floor_area_dm2=8950,
                    )
                )
                for room in ("101", "102", "201")
            }
            return est, building, unit, rooms

        estate_a, building_a, unit_a, rooms_a = estate(a, "幸福家园")
        estate_b, building_b, _unit_b, rooms_b = estate(b, "和平里")
        estate_c, _building_c, _unit_c, rooms_c = estate(c, "远方小区")
    return SimpleNamespace(
        district=district,
        street=street,
        a=a,
        b=b,
        c=c,
        other_district=other_district,
        estate_a=estate_a,
        building_a=building_a,
        unit_a=unit_a,
        rooms_a=rooms_a,
        estate_b=estate_b,
        building_b=building_b,
        rooms_b=rooms_b,
        estate_c=estate_c,
        rooms_c=rooms_c,
    )


@pytest.fixture
def tree(db) -> SimpleNamespace:
    """The shared tree (see ``build_tree``), rolled back after the test."""
    return build_tree()


@pytest.fixture
def make_staff(make_user) -> Callable:
    """``make_staff(region, role="staff")``: an account holding ``role`` over ``region`` (or the platform if None)."""

    def create(region=None, role: str = "staff", name: str | None = None):
        user = make_user(name or f"{role}@{getattr(region, 'name', 'platform')}")
        with atomic():
            database.session.add(
                RoleAssignment(
                    user_id=user.id,
                    role=role,
                    scope_kind="community" if region is not None else "platform",
                    scope_id=region.id if region is not None else None,
                )
            )
        return user

    return create


@pytest.fixture
def make_resident(make_user) -> Callable:
    """``make_resident(name, born=…, sequence=…, account=True)`` → (user or None, resident)."""
    from app.accounts.documents import DocumentType
    from app.accounts.residents import _set_document

    def create(
        name: str = "张三",
        *,
        born: date = date(1990, 3, 7),
        sequence: str = "991",
        account: bool = True,
        community=None,
        verified: bool = False,
    ):
        user = make_user(name) if account else None
        with atomic():
            resident = Resident(
                real_name=name,
                user_id=user.id if user else None,
                registered_community_id=community.id if community is not None else None,
            )
            _set_document(resident, DocumentType.resident_id_card, id_number(born, sequence), None)
            if verified:
                from app.accounts.resident_models import VerificationStatus

                resident.verification_status = VerificationStatus.verified
                resident.verified_at = utcnow()
            database.session.add(resident)
            database.session.flush()
        return user, resident

    return create


@pytest.fixture
def join() -> Callable:
    """``join(resident, household, role="family")``: an active membership, as staff would have approved it."""

    def create(resident, household, role: str = "family", *, status: str = "active"):
        with atomic():
            membership = HouseholdMembership(
                household_id=household.id,
                resident_id=resident.id,
                role=MembershipRole(role),
                status=MembershipStatus(status),
                starts_on=date(2020, 1, 1) if status != "pending" else None,
            )
            database.session.add(membership)
            database.session.flush()
        return membership

    return create


@pytest.fixture
def api(client, auth_header) -> Callable:
    """``api(user, "get", "/api/v1/me", json=...)`` → response, signed in as ``user``."""

    def call(user, method: str, path: str, **kwargs):
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers.update(auth_header(user))
        return getattr(client, method)(path, headers=headers, **kwargs)

    return call


def make_delegation(actor: Resident, subject: Resident, scopes, *, status=None, expires_at=None):
    """A delegation row as the approval flow leaves it, for tests that need one without walking the flow."""
    from app.accounts.resident_models import Delegation, DelegationStatus, Relationship

    status = DelegationStatus.active if status is None else DelegationStatus(status)
    with atomic():
        delegation = Delegation(
            actor_resident_id=actor.id,
            subject_resident_id=subject.id,
            relationship=Relationship.child,
            scopes=list(scopes),
            status=status,
            expires_at=expires_at,
            decided_at=utcnow() if status is DelegationStatus.active else None,
        )
        database.session.add(delegation)
    return delegation
