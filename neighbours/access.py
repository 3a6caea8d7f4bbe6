"""Who may read and write where: a caller's standing in a community (active memberships, verification, mutes),
the visibility rule of posts, and the staff action ``neighbours.moderate``.

- Reading feeds and posts needs an active household membership in the community; a building-only post is seen
  only by residents with an active membership in that building (and its author).
- Posting, commenting, liking, reporting and groups need a **verified** resident (``resident_not_verified``) who is
  not muted there (``user_muted``).
- Staff (admin, staff) over the community moderate (``neighbours.moderate``); grid workers read the worklists
  (``neighbours.read``). Staff outside the community get 404.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.accounts.resident_models import HouseholdMembership, MembershipStatus, Resident, VerificationStatus
from app.auth.scopes import register_action
from app.community.models import Household, Region, RegionKind
from app.db import utcnow
from app.extensions import db
from neighbours.errors import (
    CommunityNotFound,
    CommunityRequired,
    MembershipRequired,
    ResidentNotVerified,
    UserMuted,
)
from neighbours.models import ContentStatus, Mute, Post

register_action("neighbours.moderate", ("admin", "staff"))
register_action("neighbours.read", ("admin", "staff", "grid_worker"))


@dataclass(frozen=True)
class Standing:
    """A signed-in resident's place in one community."""

    user_id: int
    resident_id: int
    verified: bool
    community_id: int
    #: Buildings of the community where the resident holds an active membership.
    building_ids: frozenset[int]


def _memberships(user, *, community_id: int | None = None, community_public_id: str | None = None):
    query = (
        sa.select(Resident.id, Resident.verification_status, Household.community_id, Household.building_id)
        .join(HouseholdMembership, HouseholdMembership.resident_id == Resident.id)
        .join(Household, Household.id == HouseholdMembership.household_id)
        .where(
            Resident.user_id == user.id,
            Resident.erased_at.is_(None),
            HouseholdMembership.status == MembershipStatus.active,
        )
    )
    if community_id is not None:
        query = query.where(Household.community_id == community_id)
    if community_public_id is not None:
        query = query.join(Region, Region.id == Household.community_id).where(
            Region.public_id == community_public_id, Region.kind == RegionKind.community
        )
    return db.session.execute(query).all()


def _standing(user, rows) -> Standing:
    resident_id, status, community_id, _building = rows[0]
    return Standing(
        user_id=user.id,
        resident_id=resident_id,
        verified=status is VerificationStatus.verified,
        community_id=community_id,
        building_ids=frozenset(row.building_id for row in rows),
    )


def standing(user, community_public_id: str | None = None) -> Standing:
    """The caller's standing in the named community, or in their only one when none is named (one query).

    :raises CommunityNotFound: the named community is not one the caller lives in (its existence is not revealed).
    :raises MembershipRequired: the caller lives in no community.
    :raises CommunityRequired: the caller lives in several and named none.
    """
    rows = _memberships(user, community_public_id=community_public_id)
    if not rows:
        if community_public_id is not None:
            raise CommunityNotFound()
        raise MembershipRequired()
    if len({row.community_id for row in rows}) > 1:
        raise CommunityRequired(details={"fields": {"community_id": ["请指定社区"]}})
    return _standing(user, rows)


def standing_in(user, community_id: int) -> Standing | None:
    """The caller's standing in a community they reached through a record (a post, a group), or None."""
    rows = _memberships(user, community_id=community_id)
    return _standing(user, rows) if rows else None


def ensure_verified(place: Standing) -> None:
    """:raises ResidentNotVerified: the caller's resident record is not verified."""
    if not place.verified:
        raise ResidentNotVerified()


def ensure_can_write(place: Standing) -> None:
    """Posting and commenting. :raises ResidentNotVerified: :raises UserMuted: while a mute holds there."""
    ensure_verified(place)
    until = db.session.scalar(
        sa.select(sa.func.max(Mute.until)).where(
            Mute.user_id == place.user_id,
            Mute.community_id == place.community_id,
            Mute.lifted_at.is_(None),
            Mute.until > utcnow(),
        )
    )
    if until is not None:
        raise UserMuted(details={"until": until.isoformat()})


def visible_to(place: Standing):
    """SQL: posts of the community the reader may see in feeds (published; building-only ones of their buildings)."""
    return sa.and_(
        Post.community_id == place.community_id,
        Post.status == ContentStatus.published,
        sa.or_(Post.building_id.is_(None), Post.building_id.in_(sorted(place.building_ids) or [-1])),
    )


def can_see(place: Standing | None, post: Post) -> bool:
    """Whether a reader may open the post: its author (unless deleted), or a resident of its community who may see
    it in a feed."""
    if place is None or post.status is ContentStatus.deleted:
        return False
    if post.author_user_id == place.user_id:
        return True
    if post.status is not ContentStatus.published:
        return False
    return post.building_id is None or post.building_id in place.building_ids
