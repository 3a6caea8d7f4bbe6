"""Staff views of a source's sends: residents nobody could reach (for a visit or a call), and outside-send records."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.resident_models import HouseholdMembership, MembershipStatus, Resident
from app.api import keyset_page
from app.audit import mask_value
from app.auth.scopes import community_ids_for, register_action
from app.community.models import Household
from app.community.services import household_addresses
from app.errors import Forbidden
from app.extensions import db
from app.outbox import OutboxRow, OutboxStatus
from app.push.models import Delivery, InboxItem, Message, MessageStatus, Unreachable, outbox_key

#: Grid workers visit the people a notice could not reach, so they may list them too.
register_action("push.unreachable.read", ("admin", "staff", "grid_worker"))


def _deliveries(source_kind: str, source_id: str):
    return sa.select(Delivery.id).where(Delivery.source_kind == source_kind, Delivery.source_id == source_id)


def _in_communities(communities: frozenset[int]):
    """Residents registered in, or (pending or active) members of a household in, one of ``communities``."""
    in_household = (
        sa.select(HouseholdMembership.id)
        .join(Household, Household.id == HouseholdMembership.household_id)
        .where(
            HouseholdMembership.resident_id == Resident.id,
            HouseholdMembership.status.in_([MembershipStatus.pending, MembershipStatus.active]),
            Household.community_id.in_(communities),
        )
        .exists()
    )
    return sa.or_(Resident.registered_community_id.in_(communities), in_household)


def unreachable_page(staff, source_kind: str, source_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Residents of the source's sends whom nobody could receive for (and no later send reached), inside the
    caller's communities; each with their households' addresses.

    :raises Forbidden: the caller holds no role that may list them.
    """
    communities = community_ids_for(staff, "push.unreachable.read")
    if communities is not None and not communities:
        raise Forbidden("只有社区工作人员可以查看未触达居民")
    deliveries = _deliveries(source_kind, source_id)
    reached = (
        sa.select(InboxItem.id)
        .where(InboxItem.delivery_id.in_(deliveries), InboxItem.resident_id == Resident.id)
        .exists()
    )
    unreached = sa.select(Unreachable.resident_id).where(Unreachable.delivery_id.in_(deliveries))
    query = sa.select(Resident).where(Resident.id.in_(unreached), ~reached, Resident.erased_at.is_(None))
    if communities is not None:
        query = query.where(_in_communities(communities))
    page = keyset_page(db.session, query, [Resident.created_at, Resident.public_id], cursor=cursor, limit=limit)
    households: dict[int, list[Household]] = {}
    residents = page["items"]
    if residents:
        for resident_id, household in db.session.execute(
            sa.select(HouseholdMembership.resident_id, Household)
            .join(Household, Household.id == HouseholdMembership.household_id)
            .where(
                HouseholdMembership.resident_id.in_([resident.id for resident in residents]),
                HouseholdMembership.status == MembershipStatus.active,
            )
            .order_by(HouseholdMembership.id)
        ):
            households.setdefault(resident_id, []).append(household)
    addresses = household_addresses(household for rows in households.values() for household in rows)
    page["items"] = [
        {
            "id": resident.public_id,
            "real_name": resident.real_name,
            "reason": "no_account" if resident.user_id is None else "account_inactive",
            "addresses": [addresses[household.id]["label"] for household in households.get(resident.id, [])],
        }
        for resident in residents
    ]
    return page


def message_records(source_kind: str, source_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Outside sends of a source (newest first), with attempts and the last error from their outbox rows."""
    query = sa.select(Message).where(Message.delivery_id.in_(_deliveries(source_kind, source_id)))
    page = keyset_page(db.session, query, [Message.created_at, Message.public_id], cursor=cursor, limit=limit)
    messages: list[Message] = page["items"]
    jobs, accounts = {}, {}
    if messages:
        keys = [outbox_key(message.id) for message in messages]
        jobs = {row.key: row for row in db.session.scalars(sa.select(OutboxRow).where(OutboxRow.key.in_(keys)))}
        accounts = dict(
            db.session.execute(
                sa.select(User.id, User.public_id).where(User.id.in_({message.user_id for message in messages}))
            ).all()
        )
    page["items"] = [
        _record(message, jobs.get(outbox_key(message.id)), accounts.get(message.user_id)) for message in messages
    ]
    return page


def _record(message: Message, job: OutboxRow | None, account: str | None) -> dict[str, Any]:
    status, error = message.status.value, message.error
    if message.status is MessageStatus.pending and job is not None:
        if job.status is OutboxStatus.dead:
            status = "failed"
        elif job.attempts and job.last_error:
            status = "retrying"
        if job.last_error and not error:
            error = job.last_error.strip().splitlines()[-1][:500]
    return {
        "id": message.public_id,
        "channel": message.channel,
        "account_id": account,
        "address": _mask(message.address),
        "status": status,
        "reason": message.reason,
        "error": error,
        "attempts": job.attempts if job is not None else 0,
        "due_at": message.due_at,
        "sent_at": message.sent_at,
        "created_at": message.created_at,
    }


def _mask(phone: str | None) -> str | None:
    return mask_value("phone", phone)
