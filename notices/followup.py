"""Before and after publishing: the audience preview, the unread-or-unreachable list as CSV (masked, logged) and the
one reminder to the unread."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app import audit, push
from app.accounts.models import User
from app.accounts.resident_models import HouseholdMembership, MembershipStatus, Resident
from app.accounts.residents import mask_phone
from app.auth.scopes import authorize
from app.community.errors import RegionNotFound
from app.community.models import Building, Estate, Household, Region, Unit
from app.community.services import get_region
from app.db import atomic, utcnow
from app.extensions import db
from app.push.models import Delivery, InboxItem, Unreachable
from notices import audience
from notices.errors import NoticeNotPublished, ReminderAlreadySent
from notices.models import Notice, NoticeStatus
from notices.services import SOURCE_KIND, TEMPLATE_ID, _staff_notice, within_staff_communities

log = logging.getLogger(__name__)

REMINDER_EVENT = "notices.reminder"

push.register_event(
    REMINDER_EVENT,
    "通知提醒",
    channels=("inbox", "wechat"),
    template_id=TEMPLATE_ID,
    fields={"thing1": "title", "thing2": "region", "time3": "published_at"},
    title="【提醒】{title}",
    body="您有一条社区通知尚未阅读：{title}",
    page="pages/notices/detail?id={notice_id}",
)


# --- preview -------------------------------------------------------------------------------------------------------


def preview_audience(staff, region_public_id: str, raw_audience: dict[str, Any] | None) -> dict[str, Any]:
    """Recipients, how many push can reach, and a masked sample, for an audience at a region the caller posts at.

    :raises RegionNotFound: no such region, or outside the caller's scopes.
    :raises AudienceInvalid: a malformed expression, or a place outside the region.
    """
    with atomic():
        region = get_region(region_public_id)
        authorize(staff, "notices.manage", region, not_found=RegionNotFound)
        spec = audience.normalize(region, raw_audience)
        return {**audience.preview(region.id, spec, scope="notices"), "summary": audience.describe(spec)}


def preview_notice(staff, public_id: str) -> dict[str, Any]:
    """The preview of a notice's own audience (a draft's before publishing it)."""
    with atomic():
        notice = _staff_notice(staff, public_id, "notices.manage")
        preview = audience.preview(notice.region_id, notice.audience, scope="notices")
        return {**preview, "summary": audience.describe(notice.audience)}


# --- the unread-or-unreachable list --------------------------------------------------------------------------------


def _deliveries(notice: Notice):
    return sa.select(Delivery.id).where(Delivery.source_kind == SOURCE_KIND, Delivery.source_id == notice.public_id)


def _address():
    """The resident's active homes as one text (``社区 · 小区 · 楼 · 单元 · 房``; several joined by ``；``)."""
    label = sa.func.concat_ws(" · ", Region.name, Estate.name, Building.name, Unit.name, Household.room)
    return (
        sa.select(sa.func.string_agg(label, aggregate_order_by(sa.literal_column("'；'"), HouseholdMembership.id)))
        .select_from(HouseholdMembership)
        .join(Household, Household.id == HouseholdMembership.household_id)
        .join(Building, Building.id == Household.building_id)
        .join(Estate, Estate.id == Building.estate_id)
        .join(Region, Region.id == Household.community_id)
        .outerjoin(Unit, Unit.id == Household.unit_id)
        .where(HouseholdMembership.resident_id == Resident.id, HouseholdMembership.status == MembershipStatus.active)
        .scalar_subquery()
    )


def followup_rows(staff, notice: Notice) -> list[dict[str, Any]]:
    """Residents the notice reached who have not read it, and those it could not reach, inside the caller's
    communities: name, address, masked phone, state. One statement."""
    deliveries = _deliveries(notice)
    inbox = (
        sa.select(
            InboxItem.resident_id.label("resident_id"),
            sa.case((sa.func.bool_or(InboxItem.read_at.is_not(None)), "read"), else_="unread").label("state"),
        )
        .where(InboxItem.delivery_id.in_(deliveries))
        .group_by(InboxItem.resident_id)
    )
    unreached = sa.select(Unreachable.resident_id, sa.literal("unreachable")).where(
        Unreachable.delivery_id.in_(deliveries),
        ~sa.select(InboxItem.id)
        .where(InboxItem.delivery_id.in_(deliveries), InboxItem.resident_id == Unreachable.resident_id)
        .exists(),
    )
    states = sa.union(inbox, unreached).subquery()
    query = (
        sa.select(Resident.public_id, Resident.real_name, _address(), User.phone, states.c.state)
        .join(states, states.c.resident_id == Resident.id)
        .outerjoin(User, sa.and_(User.id == Resident.user_id, User.phone_verified_at.is_not(None)))
        .where(states.c.state != "read", Resident.erased_at.is_(None))
        .order_by(states.c.state, Resident.id)
    )
    query = within_staff_communities(query, staff)
    return [
        {"id": public_id, "real_name": name, "address": address or "", "phone": mask_phone(phone), "state": state}
        for public_id, name, address, phone, state in db.session.execute(query)
    ]


STATE_NAMES = {"unread": "未读", "unreachable": "无法送达"}


def export_followup(staff, public_id: str) -> tuple[str, str]:
    """The unread-or-unreachable list as CSV (UTF-8 with BOM for Excel; phones masked). Every export is audited.

    :return: ``(filename, text)``
    """
    with atomic():
        notice = _staff_notice(staff, public_id, "notices.read")
        rows = followup_rows(staff, notice)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["姓名", "住址", "手机号", "状态"])
        for row in rows:
            writer.writerow([row["real_name"], row["address"], row["phone"] or "", STATE_NAMES[row["state"]]])
        audit.record(
            "notice.export_followup",
            actor=staff,
            target=("notice", notice.public_id),
            after={"rows": len(rows), "masked": True},
        )
        log.info("notice %s: follow-up list exported by user %s (%s rows)", notice.id, staff.id, len(rows))
        return f"notice-{notice.public_id}-followup.csv", "\ufeff" + buffer.getvalue()


# --- the one reminder ----------------------------------------------------------------------------------------------


def remind_unread(staff, public_id: str) -> dict[str, Any]:
    """Send one reminder to the residents the notice reached who have not read it (their own or their delegates'
    accounts). Once per notice: a conditional UPDATE claims it, so two staff pressing at once send one.

    :raises NoticeNotPublished: it is not published (or withdrawn).
    :raises ReminderAlreadySent: a reminder was already sent.
    """
    with atomic():
        notice = _staff_notice(staff, public_id, "notices.manage")
        if notice.status is not NoticeStatus.published:
            raise NoticeNotPublished(details={"status": notice.status.value})
        now = utcnow()
        claimed = db.session.execute(
            sa.update(Notice)
            .where(Notice.id == notice.id, Notice.reminded_at.is_(None), Notice.status == NoticeStatus.published)
            .values(reminded_at=now)
            .returning(Notice.reminded_at)
        ).scalar()
        if claimed is None:
            raise ReminderAlreadySent(
                details={"reminded_at": notice.reminded_at.isoformat() if notice.reminded_at else None}
            )
        unread = (
            sa.select(InboxItem.resident_id)
            .where(InboxItem.delivery_id.in_(_deliveries(notice)))
            .group_by(InboxItem.resident_id)
            .having(sa.func.bool_and(InboxItem.read_at.is_(None)))
        )
        region = db.session.get(Region, notice.region_id)
        receipt = push.send(
            REMINDER_EVENT,
            unread,
            {
                "title": notice.title,
                "region": region.name,
                "published_at": notice.published_at,
                "notice_id": notice.public_id,
            },
            source=(SOURCE_KIND, notice.public_id),
            key=f"notice:{notice.id}:reminder",
            urgent=notice.urgent,
        )
        audit.record(
            "notice.remind", actor=staff, target=("notice", notice.public_id), after={"residents": receipt.audience}
        )
        log.info("notice %s: reminder to %s unread residents by user %s", notice.id, receipt.audience, staff.id)
        return {"notice_id": notice.public_id, "reminded": receipt.audience, "reminded_at": claimed}
