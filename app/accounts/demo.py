"""Demo data for identity: a community tree, an 82-year-old elder without a phone whose daughter acts for her, a
tenant, community staff and a grid worker, and tags. Every ID number is fake (sequence 99x, a real checksum)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from stdnum.cn import ric

from app.accounts.documents import DocumentType
from app.accounts.models import User
from app.accounts.resident_models import (
    Consent,
    ConsentKind,
    Delegation,
    DelegationStatus,
    HouseholdMembership,
    HukouStatus,
    MembershipRole,
    MembershipStatus,
    Relationship,
    Resident,
    ResidentTag,
    Tag,
    VerificationStatus,
)
from app.accounts.residents import _set_document, today
from app.accounts.tags import ensure_builtin_tags
from app.auth.models import RoleAssignment
from app.community.models import Building, Estate, EstateKind, Household, Region, RegionKind, Unit
from app.db import utcnow
from app.demo import seeder
from app.extensions import db

#: 北京市东城区's address code: real, so stdnum accepts the numbers; the 99x sequence marks them as made up.
DEMO_ADDRESS_CODE = "110101"


def fake_id_number(born: date, sequence: str) -> str:
    """A 居民身份证 number with a valid checksum for ``born``; ``sequence`` is 3 digits (odd last digit: male)."""
    body = f"{DEMO_ADDRESS_CODE}{born:%Y%m%d}{sequence}"
    return body + ric.calc_check_digit(body + "0")


def _add(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


def _account(name: str, phone: str | None = None) -> User:
    user = _add(User(display_name=name))
    if phone and hasattr(User, "phone"):
        # Numbers from the 199 0000 range kept for demos; verified as if by SMS.
        user.phone = phone
        if hasattr(User, "phone_verified_at"):
            user.phone_verified_at = utcnow()
    return user


def _resident(name: str, born: date, sequence: str, *, user=None, community=None, staff=None, verified=True):
    resident = Resident(
        real_name=name,
        user_id=user.id if user else None,
        hukou_status=HukouStatus.local,
        registered_community_id=community.id if community else None,
        registered_by_user_id=staff.id if staff else None,
    )
    _set_document(resident, DocumentType.resident_id_card, fake_id_number(born, sequence), None)
    if verified:
        resident.verification_status = VerificationStatus.verified
        resident.verified_at = utcnow()
        resident.verified_by_user_id = staff.id if staff else None
    return _add(resident)


def _member(household, resident, role, staff, since: date):
    return _add(
        HouseholdMembership(
            household_id=household.id,
            resident_id=resident.id,
            role=role,
            status=MembershipStatus.active,
            starts_on=since,
            requested_by_user_id=staff.id,
            decided_by_user_id=staff.id,
            decided_at=utcnow(),
        )
    )


@seeder("identity", order=10)
def seed_identity() -> None:
    district = _add(Region(kind=RegionKind.district, name="示范区"))
    street = _add(Region(kind=RegionKind.street, name="幸福街道", parent_id=district.id, parent_kind="district"))
    community = _add(Region(kind=RegionKind.community, name="幸福社区", parent_id=street.id, parent_kind="street"))

    estate = _add(
        Estate(
            community_id=community.id,
            kind=EstateKind.estate,
            name="幸福家园小区",
            address="示范区幸福路 1 号",
            latitude=Decimal("39.928000"),
            longitude=Decimal("116.416000"),
        )
    )
    courtyard = _add(
        Estate(
            community_id=community.id,
            kind=EstateKind.courtyard,
            name="老槐树院",
            address="示范区槐树胡同 8 号",
            latitude=Decimal("39.930500"),
            longitude=Decimal("116.410200"),
        )
    )
    rooms = {}
    for building_name in ("1号楼", "2号楼"):
        building = _add(Building(estate_id=estate.id, community_id=community.id, name=building_name, floors=6))
        for unit_name in ("1单元", "2单元"):
            unit = _add(Unit(building_id=building.id, name=unit_name))
            for floor in range(1, 7):
                for door in ("01", "02"):
                    room = f"{floor}{door}"
                    rooms[(building_name, unit_name, room)] = _add(
                        Household(
                            building_id=building.id,
                            unit_id=unit.id,
                            community_id=community.id,
                            room=room,
                            floor=floor,
                            floor_area_dm2=8950 if door == "01" else 6420,
                        )
                    )
    row = _add(Building(estate_id=courtyard.id, community_id=community.id, name="东排", floors=1))
    for number in ("1", "2", "3"):
        rooms[("东排", None, number)] = _add(
            Household(building_id=row.id, community_id=community.id, room=number, floor=1, floor_area_dm2=4200)
        )

    staff = _account("社区工作人员 李敏（演示）", "+8619900000001")
    _add(RoleAssignment(user_id=staff.id, role="staff", scope_kind="community", scope_id=community.id))
    grid = _account("网格员 赵强（演示）", "+8619900000002")
    _add(RoleAssignment(user_id=grid.id, role="grid_worker", scope_kind="community", scope_id=community.id))

    now = today()
    elder_born = now - timedelta(days=82 * 365 + 40)  # 82 years old today, whatever day the demo is loaded
    elder = _resident("王秀兰", elder_born, "992", community=community, staff=staff)
    _member(rooms[("东排", None, "2")], elder, MembershipRole.head, staff, date(1985, 5, 1))

    daughter_user = _account("王丽（演示）", "+8619900000003")
    daughter = _resident("王丽", date(1972, 3, 8), "994", user=daughter_user, staff=staff)
    _member(rooms[("1号楼", "2单元", "502")], daughter, MembershipRole.head, staff, date(2010, 9, 1))
    _add(
        Delegation(
            actor_resident_id=daughter.id,
            subject_resident_id=elder.id,
            relationship=Relationship.child,
            scopes=["appointments", "applications", "eldercare", "bills", "notices", "activities"],
            status=DelegationStatus.active,
            requested_by_user_id=daughter_user.id,
            decided_by_user_id=staff.id,
            decided_at=utcnow(),
            approved_via="staff",
            staff_note="已当面核实老人本人意愿（演示）",
        )
    )

    tenant_user = _account("租户 陈晨（演示）", "+8619900000004")
    tenant = _resident("陈晨", date(1996, 11, 2), "995", user=tenant_user, staff=staff)
    landlord = _resident("刘建国", date(1965, 6, 18), "997", community=community, staff=staff)
    _member(rooms[("2号楼", "1单元", "301")], landlord, MembershipRole.head, staff, date(2005, 1, 1))
    _member(rooms[("2号楼", "1单元", "301")], tenant, MembershipRole.tenant, staff, now - timedelta(days=120))

    ensure_builtin_tags()
    tags = {tag.code: tag for tag in db.session.query(Tag).filter(Tag.code.is_not(None))}
    for resident, code, level, reason in (
        (elder, "living_alone", community, "入户走访确认独居"),
        (elder, "dibao", district, "区民政局低保名单（演示）"),
        (landlord, "retired", community, "本人申报"),
        (daughter, "party_member", community, "社区党委名册"),
    ):
        _add(
            ResidentTag(
                resident_id=resident.id,
                tag_id=tags[code].id,
                region_id=level.id,
                assigned_by_user_id=staff.id,
                reason=reason,
            )
        )
    # 低保 is sensitive: the elder's separate consent, recorded in person.
    _add(
        Consent(
            resident_id=elder.id,
            kind=ConsentKind.sensitive_data,
            policy_version="2026-11",
            recorded_by_user_id=staff.id,
        )
    )


@seeder("platform_admin", order=5)
def seed_platform_admin() -> None:
    """A platform admin for the demo (dev-login with phone +8619900000000): lists and retries jobs, edits the
    calendar, grants roles."""
    admin = _account("平台管理员（演示）", "+8619900000000")
    _add(RoleAssignment(user_id=admin.id, role="admin", scope_kind="platform"))
