"""Notice use cases: create and edit drafts, publish now or at a time (through the outbox), withdraw, list, stats.

Permissions (registered here, checked on the notice's region with ``app.auth.scopes``):

- ``notices.manage`` (admin, staff): create, edit, publish, withdraw notices at a region they hold a role over
  (community staff at their community; street or district staff at the street or district, or any community under
  it).
- ``notices.read`` (admin, staff, grid_worker): list notices and read their statistics and unreachable list; grid
  workers knock on the doors of the unread and unreachable, but do not post.

Staff outside the notice's region get 404; a grid worker trying to post gets 403.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app import audit, files, outbox, push
from app.accounts.models import User
from app.accounts.resident_models import HouseholdMembership, MembershipStatus, Resident
from app.accounts.residents import mask_phone
from app.api import keyset_page
from app.auth.scopes import ACTIONS, assignments_of, authorize, can, community_ids_for, register_action
from app.community.errors import RegionNotFound
from app.community.models import Building, Estate, Household, Region, Unit
from app.community.scope import community_ids_under
from app.community.services import get_region
from app.db import atomic, utcnow
from app.extensions import db
from app.push.inbox import received_rows
from app.push.models import Delivery, InboxItem
from app.push.staff import unreachable_page
from notices import audience, markdown
from notices.errors import ExpiryInvalid, NoticeNotEditable, NoticeNotFound, PublishTimeInPast
from notices.models import CHANNEL_NAMES, Notice, NoticeChannel, NoticeStatus

log = logging.getLogger(__name__)

SOURCE_KIND = "notice"
OWNER_KIND = "notice"
EVENT = "notices.published"
TEMPLATE_ID = "NOTICE_PUBLISHED"

register_action("notices.manage", ("admin", "staff"))
register_action("notices.read", ("admin", "staff", "grid_worker"))

push.register_event(
    EVENT,
    "社区通知",
    channels=("inbox", "wechat"),
    template_id=TEMPLATE_ID,
    fields={"thing1": "title", "thing2": "region", "time3": "published_at"},
    title="{title}",
    body="{summary}",
    page="pages/notices/detail?id={notice_id}",
)
#: A notice's audience, built again in push's job from the notice's region, audience and publishing date: publishing
#: to a district records the delivery and returns, and the job copies the residents (a second or more at 100,000).
AUDIENCE = "notices.audience"
push.register_audience(
    AUDIENCE,
    lambda region_id, audience_spec, on: audience.resident_ids(
        region_id, audience_spec, on=date.fromisoformat(on), communities=community_ids_under(region_id)
    ),
)


# --- lookups -------------------------------------------------------------------------------------------------------


def _get(public_id: str, *, lock: bool = False) -> Notice:
    query = sa.select(Notice).where(Notice.public_id == public_id)
    if lock:
        query = query.with_for_update()
    notice = db.session.scalar(query)
    if notice is None:
        raise NoticeNotFound()
    return notice


def _staff_notice(user, public_id: str, action: str, *, lock: bool = False) -> Notice:
    """The notice, if ``user`` may perform ``action`` on its region (404 outside it, 403 beyond the role)."""
    notice = _get(public_id, lock=lock)
    authorize(user, action, db.session.get(Region, notice.region_id), not_found=NoticeNotFound)
    return notice


def _received(user, notice: Notice):
    """The caller's inbox rows for the notice (their own, or held for a resident who delegated to them)."""
    return received_rows(user.id, SOURCE_KIND, notice.public_id)


def _can_read_attachment(user, notice_id: int) -> bool:
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        return False
    if can(user, "notices.read", db.session.get(Region, notice.region_id)):
        return True
    if notice.status is not NoticeStatus.published:
        return False
    return bool(db.session.scalar(sa.select(sa.exists().where(_received(user, notice)))))


files.register_owner_kind(OWNER_KIND, _can_read_attachment)


# --- drafts --------------------------------------------------------------------------------------------------------


def _attach(notice: Notice, file_ids: list[str], staff) -> None:
    for file_id in file_ids:
        files.attach(file_id, OWNER_KIND, notice.id, by_user=staff)


def _check_expiry(expires_at: datetime | None, *, after: datetime | None = None) -> None:
    """:raises ExpiryInvalid: ``expires_at`` is not later than now (and than ``after``, the publish time)."""
    if expires_at is None:
        return
    floor = max(utcnow(), after) if after is not None else utcnow()
    if expires_at <= floor:
        raise ExpiryInvalid(details={"expires_at": expires_at.isoformat()})


def create_notice(staff, data: dict[str, Any]) -> Notice:
    """A draft notice at a region the caller manages notices for.

    :raises RegionNotFound: no such region, or outside the caller's scopes.
    :raises AudienceInvalid: a malformed expression, an unknown tag, or a place outside the region.
    :raises ExpiryInvalid: ``expires_at`` has passed.
    """
    with atomic():
        region = get_region(data["region_id"])
        authorize(staff, "notices.manage", region, not_found=RegionNotFound)
        _check_expiry(data.get("expires_at"))
        notice = Notice(
            region_id=region.id,
            channel=NoticeChannel(data.get("channel") or NoticeChannel.announcement),
            title=data["title"].strip(),
            body=data["body"],
            urgent=data.get("urgent", False),
            pinned=data.get("pinned", False),
            expires_at=data.get("expires_at"),
            audience=audience.normalize(region, data.get("audience")),
            created_by_user_id=staff.id,
        )
        db.session.add(notice)
        db.session.flush()
        _attach(notice, data.get("attachments") or [], staff)
        audit.record("notice.create", actor=staff, target=("notice", notice.public_id), after={"title": notice.title})
        log.info("notice %s drafted at region %s by user %s", notice.id, region.id, staff.id)
        return notice


def update_notice(staff, public_id: str, data: dict[str, Any]) -> Notice:
    """Edit a draft (channel, title, body, urgency, pin, expiry, audience; attachments are added).

    :raises NoticeNotEditable: it is no longer a draft.
    :raises ExpiryInvalid: ``expires_at`` has passed.
    """
    with atomic():
        notice = _staff_notice(staff, public_id, "notices.manage", lock=True)
        notice.ensure_draft()
        if "expires_at" in data:
            _check_expiry(data["expires_at"])
        if "channel" in data:
            data = {**data, "channel": NoticeChannel(data["channel"])}
        for name in ("channel", "title", "body", "urgent", "pinned", "expires_at"):
            if name in data:
                setattr(notice, name, data[name].strip() if name == "title" else data[name])
        if "audience" in data:
            notice.audience = audience.normalize(db.session.get(Region, notice.region_id), data["audience"])
        _attach(notice, data.get("attachments") or [], staff)
        db.session.flush()
        audit.record("notice.update", actor=staff, target=("notice", notice.public_id), after={"title": notice.title})
        return notice


# --- publishing ----------------------------------------------------------------------------------------------------


def _send(notice: Notice, now: datetime) -> None:
    """Publish: hand the audience to push, which copies it in a job (its inbox rows are the read receipts)."""
    region = db.session.get(Region, notice.region_id)
    on = audience.today().isoformat()
    receipt = push.send(
        EVENT,
        push.Audience(AUDIENCE, {"region_id": notice.region_id, "audience_spec": notice.audience, "on": on}),
        {
            "title": notice.title,
            "summary": markdown.summary(notice.body),
            "region": region.name,
            "published_at": now,
            "notice_id": notice.public_id,
        },
        source=(SOURCE_KIND, notice.public_id),
        key=f"notice:{notice.id}",
        urgent=notice.urgent,
    )
    notice.status, notice.published_at, notice.delivery_id = NoticeStatus.published, now, receipt.delivery_id
    db.session.flush()
    log.info("notice %s published (delivery %s, its audience copied in a job)", notice.id, receipt.delivery_id)


def publish_notice(staff, public_id: str, *, publish_at: datetime | None = None) -> Notice:
    """Publish a draft now, or schedule it for ``publish_at`` (an outbox row due then runs ``publish_due_notice``).

    :raises NoticeNotEditable: it is not a draft.
    :raises PublishTimeInPast: ``publish_at`` has passed.
    :raises ExpiryInvalid: the notice would expire before it is published.
    """
    with atomic():
        notice = _staff_notice(staff, public_id, "notices.manage", lock=True)
        notice.ensure_draft()
        now = utcnow()
        if publish_at is not None and publish_at <= now:
            raise PublishTimeInPast(details={"publish_at": publish_at.isoformat()})
        _check_expiry(notice.expires_at, after=publish_at)
        if publish_at is None:
            _send(notice, now)
        else:
            notice.status, notice.publish_at = NoticeStatus.scheduled, publish_at
            db.session.flush()
            # One schedule per notice: a notice leaves ``scheduled`` only by publishing or being withdrawn.
            outbox.enqueue(publish_due_notice, notice.id, run_at=publish_at, key=f"notices:publish:{notice.id}")
        audit.record(
            "notice.publish" if publish_at is None else "notice.schedule",
            actor=staff,
            target=("notice", notice.public_id),
            after={"status": notice.status.value, "publish_at": publish_at.isoformat() if publish_at else None},
        )
        return notice


@outbox.job(queue="default", timeout=120)
def publish_due_notice(notice_id: int) -> None:
    """Publish a scheduled notice when due; a second run (or a withdrawn notice) does nothing."""
    notice = db.session.scalar(sa.select(Notice).where(Notice.id == notice_id).with_for_update())
    if notice is None or notice.status is not NoticeStatus.scheduled:
        return
    now = utcnow()
    if notice.publish_at is not None and notice.publish_at > now:
        log.warning("notice %s: publish job ran before %s, skipped", notice.id, notice.publish_at)
        return
    _send(notice, now)


def withdraw_notice(staff, public_id: str, *, reason: str | None = None) -> Notice:
    """Withdraw a scheduled or published notice: residents can no longer open it, its inbox rows are retracted
    (unsent WeChat messages and a fan-out still running stop too); a scheduled one never goes out.

    :raises NoticeNotWithdrawable: it is a draft or already withdrawn.
    """
    with atomic():
        notice = _staff_notice(staff, public_id, "notices.manage", lock=True)
        notice.withdraw(utcnow())
        db.session.flush()
        retracted = push.retract((SOURCE_KIND, notice.public_id))
        audit.record(
            "notice.withdraw",
            actor=staff,
            target=("notice", notice.public_id),
            after={"status": notice.status.value, "retracted": retracted},
            reason=reason,
        )
        log.info("notice %s withdrawn by user %s, %s inbox rows retracted", notice.id, staff.id, retracted)
        return notice


def pin_notice(staff, public_id: str, *, pinned: bool) -> Notice:
    """Pin or unpin a notice (any state but withdrawn): pinned notices head the residents' feed.

    :raises NoticeNotEditable: (409) it is withdrawn.
    """
    with atomic():
        notice = _staff_notice(staff, public_id, "notices.manage", lock=True)
        if notice.status is NoticeStatus.withdrawn:
            raise NoticeNotEditable(details={"status": notice.status.value})
        notice.pinned = pinned
        db.session.flush()
        audit.record("notice.pin", actor=staff, target=("notice", notice.public_id), after={"pinned": pinned})
        return notice


# --- reading -------------------------------------------------------------------------------------------------------


def _visible_regions(user, action: str):
    """A SELECT of the region ids under the caller's ``action`` roles (None: every region, a platform role)."""
    roots: set[int] = set()
    for item in assignments_of(user):
        if item.role not in ACTIONS[action]:
            continue
        if item.scope_kind == "platform":
            return None
        if item.scope_kind == "community" and item.scope_id is not None:
            roots.add(item.scope_id)
    down = sa.select(Region.id).where(Region.id.in_(roots)).cte("notice_regions", recursive=True)
    child = aliased(Region)
    down = down.union(sa.select(child.id).join(down, child.parent_id == down.c.id))
    return sa.select(down.c.id)


def list_notices(
    staff,
    *,
    cursor: str | None,
    limit: int,
    status: NoticeStatus | None = None,
    channel: NoticeChannel | None = None,
) -> dict[str, Any]:
    """Notices posted at regions under the caller's roles, newest first (cursor pages)."""
    query = sa.select(Notice)
    regions = _visible_regions(staff, "notices.read")
    if regions is not None:
        query = query.where(Notice.region_id.in_(regions))
    if status is not None:
        query = query.where(Notice.status == status)
    if channel is not None:
        query = query.where(Notice.channel == channel)
    page = keyset_page(db.session, query, [Notice.created_at, Notice.public_id], cursor=cursor, limit=limit)
    regions = regions_by_id({notice.region_id for notice in page["items"]})
    page["items"] = [
        notice_view(notice, staff=staff, full=False, region=regions[notice.region_id]) for notice in page["items"]
    ]
    return page


def regions_by_id(ids: set[int]) -> dict[int, Region]:
    """Regions by id in one statement, for a page of notices or surveys (their views would read one per row)."""
    return {region.id: region for region in db.session.scalars(sa.select(Region).where(Region.id.in_(ids)))}


def notice_view(
    notice: Notice, *, staff=None, user=None, full: bool = True, region: Region | None = None
) -> dict[str, Any]:
    region = region or db.session.get(Region, notice.region_id)
    view: dict[str, Any] = {
        "id": notice.public_id,
        "region": {"id": region.public_id, "name": region.name, "kind": region.kind.value},
        "channel": notice.channel.value,
        "channel_name": CHANNEL_NAMES[notice.channel],
        "title": notice.title,
        "summary": markdown.summary(notice.body),
        "urgent": notice.urgent,
        "pinned": notice.pinned,
        "status": notice.status.value,
        "publish_at": notice.publish_at,
        "published_at": notice.published_at,
        "withdrawn_at": notice.withdrawn_at,
        "expires_at": notice.expires_at,
        "created_at": notice.created_at,
    }
    if staff is not None:
        view["audience"] = {**notice.audience, "summary": audience.describe(notice.audience)}
        view["reminded_at"] = notice.reminded_at
    if full:
        reader = staff or user
        view["body"] = notice.body
        view["body_html"] = markdown.render(notice.body)
        view["attachments"] = [files.describe_file(f, user=reader) for f in files.files_of(OWNER_KIND, notice.id)]
    return view


def staff_notice(staff, public_id: str) -> dict[str, Any]:
    with atomic():
        return notice_view(_staff_notice(staff, public_id, "notices.read"), staff=staff)


def open_notice(user, public_id: str) -> dict[str, Any]:
    """A notice for the caller: staff over its region see it in full; a resident (or a delegate) sees it only while
    it is published and only if it reached them, and opening it marks their inbox rows for it read.

    :raises NoticeNotFound: anyone else, and everyone once it is withdrawn (staff excepted).
    """
    with atomic():
        notice = _get(public_id)
        if can(user, "notices.read", db.session.get(Region, notice.region_id)):
            return notice_view(notice, staff=user)
        if notice.status is not NoticeStatus.published:
            raise NoticeNotFound()
        opened = db.session.execute(
            sa.update(InboxItem)
            .where(_received(user, notice))
            .values(read_at=sa.func.coalesce(InboxItem.read_at, sa.func.now()))
        ).rowcount
        if not opened:
            raise NoticeNotFound()
        return notice_view(notice, user=user)


def notice_stats(staff, public_id: str, *, limit: int = 20) -> dict[str, Any]:
    """Read receipts from the push inbox (one fan-out): audience, reached, read, unread, unreachable, plus the first
    page of the unreachable list (the rest from ``GET /api/v1/push/unreachable?source_kind=notice&source_id=…``)."""
    with atomic():
        notice = _staff_notice(staff, public_id, "notices.read")
        stats = push.read_stats((SOURCE_KIND, notice.public_id))
        page = unreachable_page(staff, SOURCE_KIND, notice.public_id, cursor=None, limit=limit)
        # The audience is the first send's: the reminder is a second send of the same source, to residents already
        # counted (its inbox rows count as reached and read like the first's).
        first = db.session.scalar(sa.select(Delivery.audience_count).where(Delivery.public_id == notice.delivery_id))
        return {
            "notice_id": notice.public_id,
            "status": notice.status.value,
            "audience": first if first is not None else stats["audience"],
            "reached": stats["reached"],
            "read": stats["read"],
            "unread": stats["reached"] - stats["read"],
            "unreachable": stats["unreachable"],
            "pending": stats["pending"],
            "unreachable_residents": page,
        }


def unread_page(staff, public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Residents the notice reached (themselves or through a delegate) who have not read it, inside the caller's
    communities, with a masked phone and their addresses: the grid worker's door-knocking list."""
    with atomic():
        notice = _staff_notice(staff, public_id, "notices.read")
        deliveries = sa.select(Delivery.id).where(
            Delivery.source_kind == SOURCE_KIND, Delivery.source_id == notice.public_id
        )
        reached = sa.select(InboxItem.resident_id).where(InboxItem.delivery_id.in_(deliveries))
        read = (
            sa.select(InboxItem.id)
            .where(
                InboxItem.delivery_id.in_(deliveries),
                InboxItem.resident_id == Resident.id,
                InboxItem.read_at.is_not(None),
            )
            .exists()
        )
        query = sa.select(Resident).where(Resident.id.in_(reached), ~read, Resident.erased_at.is_(None))
        query = within_staff_communities(query, staff)
        page = keyset_page(db.session, query, [Resident.created_at, Resident.public_id], cursor=cursor, limit=limit)
        residents: list[Resident] = page["items"]
        # Addresses with their names in one statement (``household_address`` would cost one per household).
        homes: dict[int, list[str]] = {}
        for resident_id, *parts in db.session.execute(
            sa.select(
                HouseholdMembership.resident_id, Region.name, Estate.name, Building.name, Unit.name, Household.room
            )
            .join(Household, Household.id == HouseholdMembership.household_id)
            .join(Building, Building.id == Household.building_id)
            .join(Estate, Estate.id == Building.estate_id)
            .join(Region, Region.id == Household.community_id)
            .outerjoin(Unit, Unit.id == Household.unit_id)
            .where(
                HouseholdMembership.resident_id.in_([resident.id for resident in residents]),
                HouseholdMembership.status == MembershipStatus.active,
            )
            .order_by(HouseholdMembership.id)
        ):
            homes.setdefault(resident_id, []).append(" · ".join(part for part in parts if part))
        # Verified account phones in one statement (not one per resident), so the page costs the same at any size.
        phones = dict(
            db.session.execute(
                sa.select(User.id, User.phone).where(
                    User.id.in_({resident.user_id for resident in residents if resident.user_id is not None}),
                    User.phone_verified_at.is_not(None),
                )
            ).all()
        )
        page["items"] = [
            {
                "id": resident.public_id,
                "real_name": resident.real_name,
                "phone": mask_phone(phones.get(resident.user_id)),
                "addresses": homes.get(resident.id, []),
            }
            for resident in residents
        ]
        return page


def within_staff_communities(query, staff):
    """``query`` over residents narrowed to those with an active membership in a community where ``staff`` may
    read notices (unchanged for someone who reads every community)."""
    communities = community_ids_for(staff, "notices.read")
    if communities is None:
        return query
    return query.where(
        sa.select(HouseholdMembership.id)
        .join(Household, Household.id == HouseholdMembership.household_id)
        .where(
            HouseholdMembership.resident_id == Resident.id,
            HouseholdMembership.status == MembershipStatus.active,
            Household.community_id.in_(communities),
        )
        .exists()
    )
