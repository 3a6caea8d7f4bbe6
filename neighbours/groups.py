"""Interest groups (兴趣小组): create, join, leave, approve join requests (closed groups), list.

Open groups take anyone of the community at once and show their posts to every resident there; closed groups take
members on the owner's approval and show their posts to members only. Posting in a group needs membership.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts.models import User
from app.api import keyset_page
from app.db import atomic
from app.errors import ValidationFailed
from app.extensions import db
from neighbours import access
from neighbours.errors import GroupNameTaken, GroupNotFound, GroupOwnerCannotLeave, NotGroupOwner
from neighbours.models import Group, GroupMember, GroupMemberStatus

log = logging.getLogger(__name__)


def _group(user, public_id: str, *, lock: bool = False) -> tuple[Group, access.Standing]:
    """A group of a community the caller lives in. :raises GroupNotFound:"""
    query = sa.select(Group).where(Group.public_id == public_id)
    if lock:
        query = query.with_for_update()
    group = db.session.scalar(query)
    place = access.standing_in(user, group.community_id) if group is not None else None
    if place is None:
        raise GroupNotFound()
    return group, place


def _my_status(user_id: int, group_ids: list[int]) -> dict[int, str]:
    if not group_ids:
        return {}
    rows = db.session.execute(
        sa.select(GroupMember.group_id, GroupMember.status).where(
            GroupMember.user_id == user_id, GroupMember.group_id.in_(group_ids)
        )
    )
    return {row.group_id: row.status.value for row in rows}


def group_view(user, group: Group, my_status: str | None) -> dict[str, Any]:
    return {
        "id": group.public_id,
        "name": group.name,
        "description": group.description,
        "closed": group.closed,
        "member_count": group.member_count,
        "owner": group.owner_user_id == user.id,
        "membership": my_status,
        "created_at": group.created_at,
    }


def create_group(user, data: dict[str, Any]) -> dict[str, Any]:
    """A verified resident creates a group in their community and becomes its owner (its first member).

    :raises GroupNameTaken: the community has a group of that name.
    """
    with atomic():
        place = access.standing(user, data.get("community_id"))
        access.ensure_can_write(place)
        if not data["name"].strip():
            raise ValidationFailed(details={"fields": {"json": {"name": ["小组名称不能为空"]}}})
        group = Group(
            community_id=place.community_id,
            name=data["name"].strip(),
            description=(data.get("description") or "").strip(),
            closed=data.get("closed", False),
            owner_user_id=user.id,
            member_count=1,
            created_at=sa.func.clock_timestamp(),
        )
        try:
            with atomic(savepoint=True):
                db.session.add(group)
                db.session.flush()
        except IntegrityError:
            raise GroupNameTaken(details={"name": data["name"]}) from None
        db.session.add(GroupMember(group_id=group.id, user_id=user.id, status=GroupMemberStatus.active))
        db.session.flush()
        log.info("group %s created in community %s by user %s", group.id, place.community_id, user.id)
        return group_view(user, group, GroupMemberStatus.active.value)


def list_groups(user, *, community_id: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """Groups of the caller's community, newest first, with the caller's membership in each."""
    place = access.standing(user, community_id)
    query = sa.select(Group).where(Group.community_id == place.community_id)
    page = keyset_page(db.session, query, [Group.created_at, Group.public_id], cursor=cursor, limit=limit)
    mine = _my_status(user.id, [group.id for group in page["items"]])
    return {"items": [group_view(user, g, mine.get(g.id)) for g in page["items"]], "next_cursor": page["next_cursor"]}


def get_group(user, public_id: str) -> dict[str, Any]:
    group, _place = _group(user, public_id)
    return group_view(user, group, _my_status(user.id, [group.id]).get(group.id))


def join_group(user, public_id: str) -> dict[str, Any]:
    """Join an open group, or ask to join a closed one (``pending`` until the owner approves). Repeats are no-ops;
    the member count moves only with a row that became active."""
    with atomic():
        group, place = _group(user, public_id)
        access.ensure_verified(place)
        status = GroupMemberStatus.pending if group.closed else GroupMemberStatus.active
        inserted = db.session.execute(
            pg_insert(GroupMember)
            .values(group_id=group.id, user_id=user.id, status=status)
            .on_conflict_do_nothing()
            .returning(GroupMember.status)
        ).scalar()
        if inserted is GroupMemberStatus.active:
            _count(group, +1)
        return group_view(user, group, _my_status(user.id, [group.id]).get(group.id))


def leave_group(user, public_id: str) -> dict[str, Any]:
    """Leave a group (or withdraw a request). :raises GroupOwnerCannotLeave:"""
    with atomic():
        group, _place = _group(user, public_id)
        if group.owner_user_id == user.id:
            raise GroupOwnerCannotLeave()
        removed = db.session.execute(
            sa.delete(GroupMember)
            .where(GroupMember.group_id == group.id, GroupMember.user_id == user.id)
            .returning(GroupMember.status)
        ).scalar()
        if removed is GroupMemberStatus.active:
            _count(group, -1)
        return group_view(user, group, None)


def approve_member(user, public_id: str, member_public_id: str) -> dict[str, Any]:
    """The owner of a closed group lets a pending member in. :raises NotGroupOwner: :raises GroupNotFound:"""
    with atomic():
        group, _place = _group(user, public_id)
        if group.owner_user_id != user.id:
            raise NotGroupOwner()
        member_id = db.session.scalar(sa.select(User.id).where(User.public_id == member_public_id))
        approved = db.session.execute(
            sa.update(GroupMember)
            .where(
                GroupMember.group_id == group.id,
                GroupMember.user_id == member_id,
                GroupMember.status == GroupMemberStatus.pending,
            )
            .values(status=GroupMemberStatus.active)
            .returning(GroupMember.id)
        ).scalar()
        if approved is None:
            raise GroupNotFound("没有该用户的入组申请")
        _count(group, +1)
        return group_view(user, group, _my_status(user.id, [group.id]).get(group.id))


def pending_members(user, public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Join requests of a group, for its owner."""
    group, _place = _group(user, public_id)
    if group.owner_user_id != user.id:
        raise NotGroupOwner()
    query = sa.select(GroupMember).where(
        GroupMember.group_id == group.id, GroupMember.status == GroupMemberStatus.pending
    )
    page = keyset_page(db.session, query, [GroupMember.created_at, GroupMember.id], cursor=cursor, limit=limit)
    ids = [member.user_id for member in page["items"]]
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))} if ids else {}
    return {
        "items": [
            {"user_id": users[m.user_id].public_id, "name": users[m.user_id].display_name, "requested_at": m.created_at}
            for m in page["items"]
        ],
        "next_cursor": page["next_cursor"],
    }


def _count(group: Group, delta: int) -> None:
    count = db.session.execute(
        sa.update(Group)
        .where(Group.id == group.id)
        .values(member_count=Group.member_count + delta)
        .returning(Group.member_count)
    ).scalar_one()
    set_committed_value(group, "member_count", count)
