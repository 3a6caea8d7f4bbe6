"""Activities and volunteering: staff create, publish and cancel activities of a community; residents (or a
delegate for an elder, scope ``activities``) sign up and cancel; staff check participants in and, for volunteer
activities, out (minutes served); volunteers see their total and history, staff a ranking.

Capacity: every sign-up and cancellation locks the activity row ``FOR UPDATE`` first, so they run one after another
per activity: a sign-up is confirmed while ``confirmed_count < capacity`` and waitlisted otherwise, with the next
queue number; a confirmed cancellation promotes the first in line (lowest queue number) in the same transaction.
The database checks ``confirmed_count <= capacity`` as a backstop.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app import outbox, push
from app.accounts.models import User
from app.accounts.resident_models import HouseholdMembership, MembershipStatus, Resident
from app.api import SHANGHAI, decode_cursor, encode_cursor
from app.auth.scopes import acting_for, authorize, community_ids_for, register_action
from app.community.models import Household, Region, RegionKind
from app.community.scope import community_ids_under
from app.db import atomic, utcnow
from app.extensions import db
from neighbours import access
from neighbours.activity_errors import (
    ActivityInvalid,
    ActivityNotEditable,
    ActivityNotFound,
    ActivityNotOpen,
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    AlreadySignedUp,
    NotCheckedIn,
    NotConfirmed,
    NotSignedUp,
    NotVolunteerActivity,
    SignupClosed,
    SignupNotFound,
)
from neighbours.activity_models import Activity, ActivitySignup, ActivityStatus, SignupStatus
from neighbours.errors import CommunityNotFound

log = logging.getLogger(__name__)

register_action("activities.manage", ("admin", "staff"))
register_action("activities.read", ("admin", "staff", "grid_worker"))

PROMOTED_EVENT = "neighbours.activity_promoted"
REMINDER_EVENT = "neighbours.activity_reminder"
CANCELLED_EVENT = "neighbours.activity_cancelled"

push.register_event(
    PROMOTED_EVENT,
    "活动候补转正",
    channels=("inbox",),
    scope="activities",
    title="候补成功：{title}",
    body="您已从候补转为正式报名，活动时间 {starts_at}，地点 {place}。",
    page="pages/neighbours/activity?id={activity_id}",
)
push.register_event(
    REMINDER_EVENT,
    "活动提醒",
    channels=("inbox",),
    scope="activities",
    title="活动提醒：{title}",
    body="活动将于 {starts_at} 在 {place} 开始，请准时参加。",
    page="pages/neighbours/activity?id={activity_id}",
)
push.register_event(
    CANCELLED_EVENT,
    "活动取消",
    channels=("inbox",),
    scope="activities",
    title="活动取消：{title}",
    body="原定 {starts_at} 在 {place} 的活动已取消。",
    page="pages/neighbours/activity?id={activity_id}",
)

#: Reminders before the start: (name, how long before).
REMINDERS = (("day", timedelta(days=1)), ("hour", timedelta(hours=1)))


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _push_data(activity: Activity) -> dict[str, Any]:
    return {
        "title": activity.title,
        "starts_at": _local(activity.starts_at),
        "place": activity.place,
        "activity_id": activity.public_id,
    }


# --- views ---------------------------------------------------------------------------------------------------------


def activity_view(activity: Activity, community: Region | None = None, mine: list[dict] | None = None) -> dict:
    view = {
        "id": activity.public_id,
        "community_id": community.public_id if community is not None else None,
        "title": activity.title,
        "description": activity.description,
        "place": activity.place,
        "starts_at": activity.starts_at,
        "ends_at": activity.ends_at,
        "signup_deadline": activity.signup_deadline,
        "capacity": activity.capacity,
        "volunteer": activity.volunteer,
        "status": activity.status.value,
        "confirmed_count": activity.confirmed_count,
        "waitlist_count": activity.waitlist_count,
        "places_left": max(activity.capacity - activity.confirmed_count, 0),
        "published_at": activity.published_at,
        "cancelled_at": activity.cancelled_at,
        "created_at": activity.created_at,
    }
    if mine is not None:
        view["my_signups"] = mine
    return view


def signup_view(signup: ActivitySignup, resident: Resident | None = None, position: int | None = None) -> dict:
    return {
        "id": signup.public_id,
        "resident_id": resident.public_id if resident is not None else None,
        "name": resident.real_name if resident is not None else None,
        "status": signup.status.value,
        "queue_no": signup.queue_no,
        "waitlist_position": position,
        "promoted_at": signup.promoted_at,
        "cancelled_at": signup.cancelled_at,
        "checked_in_at": signup.checked_in_at,
        "checked_out_at": signup.checked_out_at,
        "volunteer_minutes": signup.volunteer_minutes,
        "created_at": signup.created_at,
    }


def _waitlist_position(signup: ActivitySignup) -> int | None:
    if signup.status is not SignupStatus.waitlisted:
        return None
    ahead = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ActivitySignup)
        .where(
            ActivitySignup.activity_id == signup.activity_id,
            ActivitySignup.status == SignupStatus.waitlisted,
            ActivitySignup.queue_no < signup.queue_no,
        )
    )
    return ahead + 1


# --- staff: create, publish, cancel --------------------------------------------------------------------------------


def _community(public_id: str) -> Region:
    region = db.session.scalar(
        sa.select(Region).where(Region.public_id == public_id, Region.kind == RegionKind.community)
    )
    if region is None:
        raise CommunityNotFound()
    return region


def _check_times(starts_at: datetime, ends_at: datetime, deadline: datetime) -> None:
    fields: dict[str, list[str]] = {}
    if ends_at <= starts_at:
        fields["ends_at"] = ["结束时间须晚于开始时间"]
    if deadline > starts_at:
        fields["signup_deadline"] = ["报名截止时间不能晚于开始时间"]
    if starts_at <= utcnow():
        fields["starts_at"] = ["开始时间须晚于当前时间"]
    if fields:
        raise ActivityInvalid(details={"fields": {"json": fields}})


def create_activity(staff: User, data: dict[str, Any]) -> dict:
    """A draft activity in a community the caller manages (``activities.manage``). The sign-up deadline defaults to
    the start. :raises CommunityNotFound: :raises ActivityInvalid:"""
    with atomic():
        community = _community(data["community_id"])
        authorize(staff, "activities.manage", community, not_found=CommunityNotFound)
        deadline = data.get("signup_deadline") or data["starts_at"]
        _check_times(data["starts_at"], data["ends_at"], deadline)
        title, place = data["title"].strip(), data["place"].strip()
        if not title or not place:
            raise ActivityInvalid("标题和地点不能为空", details={"fields": {"json": {"title": ["不能为空"]}}})
        activity = Activity(
            community_id=community.id,
            title=title,
            description=(data.get("description") or "").strip(),
            place=place,
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            signup_deadline=deadline,
            capacity=data["capacity"],
            volunteer=data.get("volunteer", False),
            created_by_user_id=staff.id,
        )
        db.session.add(activity)
        db.session.flush()
        if data.get("publish"):
            activity.status, activity.published_at = ActivityStatus.published, utcnow()
            db.session.flush()
        db.session.refresh(activity)
        log.info("activity %s created in community %s by user %s", activity.id, community.id, staff.id)
        return activity_view(activity, community)


def _staff_activity(staff: User, public_id: str, action: str, *, lock: bool = False) -> Activity:
    query = sa.select(Activity).where(Activity.public_id == public_id)
    if lock:
        query = query.with_for_update()
    activity = db.session.scalar(query)
    if activity is None:
        raise ActivityNotFound()
    authorize(staff, action, activity, not_found=ActivityNotFound)
    return activity


def _with_community(activity: Activity) -> dict:
    return activity_view(activity, db.session.get(Region, activity.community_id))


def publish_activity(staff: User, public_id: str) -> dict:
    """:raises ActivityNotEditable: not a draft. :raises ActivityInvalid: it has already started."""
    with atomic():
        activity = _staff_activity(staff, public_id, "activities.manage", lock=True)
        if activity.status is not ActivityStatus.draft:
            raise ActivityNotEditable(details={"status": activity.status.value})
        if activity.starts_at <= utcnow():
            raise ActivityInvalid("活动已开始，不能发布")
        activity.status, activity.published_at = ActivityStatus.published, utcnow()
        db.session.flush()
        return _with_community(activity)


def cancel_activity(staff: User, public_id: str) -> dict:
    """Call an activity off; everyone still signed up (confirmed or waitlisted) is told, and no reminder goes out."""
    with atomic():
        activity = _staff_activity(staff, public_id, "activities.manage", lock=True)
        if activity.status is ActivityStatus.cancelled:
            raise ActivityNotEditable(details={"status": activity.status.value})
        was_published = activity.status is ActivityStatus.published
        activity.status, activity.cancelled_at, activity.published_at = ActivityStatus.cancelled, utcnow(), None
        db.session.flush()
        if was_published:
            recipients = sa.select(ActivitySignup.resident_id).where(
                ActivitySignup.activity_id == activity.id, ActivitySignup.status != SignupStatus.cancelled
            )
            push.send(CANCELLED_EVENT, recipients, _push_data(activity), source=("activity", activity.public_id))
        log.info("activity %s cancelled by user %s", activity.id, staff.id)
        return _with_community(activity)


def staff_get_activity(staff: User, public_id: str) -> dict:
    return _with_community(_staff_activity(staff, public_id, "activities.read"))


def staff_list_activities(staff: User, community_public_id: str, *, cursor: str | None, limit: int) -> dict:
    """Every activity of a community (drafts and cancelled ones too), by start time, latest first."""
    community = _community(community_public_id)
    authorize(staff, "activities.read", community, not_found=CommunityNotFound)
    query = sa.select(Activity).where(Activity.community_id == community.id)
    page = _page(query, cursor, limit, descending=True)
    return {"items": [activity_view(a, community) for a in page["items"]], "next_cursor": page["next_cursor"]}


def _page(query, cursor: str | None, limit: int, *, descending: bool) -> dict:
    """Keyset page over ``(starts_at, public_id)`` in either direction (no COUNT)."""
    key = sa.tuple_(Activity.starts_at, Activity.public_id)
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 2:
            decode_cursor("!")
        bound = sa.tuple_(sa.literal(values[0], sa.DateTime(timezone=True)), sa.literal(values[1]))
        query = query.where(key < bound if descending else key > bound)
    order = (
        (Activity.starts_at.desc(), Activity.public_id.desc())
        if descending
        else (Activity.starts_at, Activity.public_id)
    )
    rows = db.session.scalars(query.order_by(*order).limit(limit + 1)).all()
    items = rows[:limit]
    more = len(rows) > limit
    return {
        "items": items,
        "next_cursor": encode_cursor([items[-1].starts_at, items[-1].public_id]) if more else None,
    }


# --- residents: list and read --------------------------------------------------------------------------------------


def _my_signups(user: User, activity_ids: list[int]) -> dict[int, list[dict]]:
    """The caller's own sign-ups and those they made for others, per activity (one query)."""
    if not activity_ids:
        return {}
    rows = db.session.execute(
        sa.select(ActivitySignup, Resident)
        .join(Resident, Resident.id == ActivitySignup.resident_id)
        .where(
            ActivitySignup.activity_id.in_(activity_ids),
            ActivitySignup.status != SignupStatus.cancelled,
            sa.or_(Resident.user_id == user.id, ActivitySignup.signed_up_by_user_id == user.id),
        )
        .order_by(ActivitySignup.queue_no)
    ).all()
    result: dict[int, list[dict]] = {}
    for signup, resident in rows:
        result.setdefault(signup.activity_id, []).append(signup_view(signup, resident))
    return result


def list_upcoming(user: User, *, community_id: str | None, cursor: str | None, limit: int) -> dict:
    """Published activities of the caller's community that have not ended, soonest first, with the caller's
    sign-ups (their own and those made for an elder)."""
    place = access.standing(user, community_id)
    community = db.session.get(Region, place.community_id)
    query = sa.select(Activity).where(
        Activity.community_id == place.community_id,
        Activity.status == ActivityStatus.published,
        Activity.ends_at > utcnow(),
    )
    page = _page(query, cursor, limit, descending=False)
    mine = _my_signups(user, [a.id for a in page["items"]])
    return {
        "items": [activity_view(a, community, mine.get(a.id, [])) for a in page["items"]],
        "next_cursor": page["next_cursor"],
    }


def _readable(user: User, public_id: str, *, lock: bool = False) -> Activity:
    """A published (or cancelled) activity of a community the caller lives in. :raises ActivityNotFound:"""
    query = sa.select(Activity).where(Activity.public_id == public_id, Activity.status != ActivityStatus.draft)
    if lock:
        query = query.with_for_update()
    activity = db.session.scalar(query)
    if activity is None or access.standing_in(user, activity.community_id) is None:
        raise ActivityNotFound()
    return activity


def get_activity(user: User, public_id: str) -> dict:
    activity = _readable(user, public_id)
    community = db.session.get(Region, activity.community_id)
    return activity_view(activity, community, _my_signups(user, [activity.id]).get(activity.id, []))


# --- sign-up and cancel --------------------------------------------------------------------------------------------


def _lives_in(resident_id: int, community_id: int) -> bool:
    return (
        db.session.scalar(
            sa.select(HouseholdMembership.id)
            .join(Household, Household.id == HouseholdMembership.household_id)
            .where(
                HouseholdMembership.resident_id == resident_id,
                HouseholdMembership.status == MembershipStatus.active,
                Household.community_id == community_id,
            )
            .limit(1)
        )
        is not None
    )


def _participant(user: User, activity_public_id: str, resident_public_id: str | None) -> tuple[Activity, Resident]:
    """Lock the activity and resolve who takes part: the caller, or the elder they act for (scope ``activities``,
    audited). Either way the participant must live in the activity's community.

    The lock is taken before anything else, so sign-ups and cancellations of one activity run one at a time.
    """
    activity = db.session.scalar(
        sa.select(Activity)
        .where(Activity.public_id == activity_public_id, Activity.status != ActivityStatus.draft)
        .with_for_update()
    )
    if activity is None:
        raise ActivityNotFound()
    if resident_public_id is None:
        place = access.standing_in(user, activity.community_id)
        if place is None:
            raise ActivityNotFound()
        resident = db.session.get(Resident, place.resident_id)
    else:
        resident = acting_for(user, resident_public_id, "activities")
        if not _lives_in(resident.id, activity.community_id):
            raise ActivityNotFound("该居民不在活动所在社区")
    return activity, resident


def sign_up(user: User, activity_public_id: str, resident_public_id: str | None = None) -> dict:
    """Take a place, or the next place on the waitlist when the activity is full.

    :raises ActivityNotFound: :raises ActivityNotOpen: cancelled. :raises SignupClosed: after the deadline.
    :raises AlreadySignedUp: the person holds a confirmed or waitlisted sign-up.
    """
    with atomic():
        activity, resident = _participant(user, activity_public_id, resident_public_id)
        if activity.status is not ActivityStatus.published:
            raise ActivityNotOpen(details={"status": activity.status.value})
        if utcnow() >= activity.signup_deadline:
            raise SignupClosed(details={"signup_deadline": activity.signup_deadline.isoformat()})
        existing = db.session.scalar(
            sa.select(ActivitySignup).where(
                ActivitySignup.activity_id == activity.id, ActivitySignup.resident_id == resident.id
            )
        )
        if existing is not None and existing.status is not SignupStatus.cancelled:
            raise AlreadySignedUp(details={"status": existing.status.value})
        confirmed = activity.confirmed_count < activity.capacity
        activity.queue_seq += 1
        if confirmed:
            activity.confirmed_count += 1
        else:
            activity.waitlist_count += 1
        status = SignupStatus.confirmed if confirmed else SignupStatus.waitlisted
        if existing is None:
            signup = ActivitySignup(activity_id=activity.id, resident_id=resident.id, queue_no=activity.queue_seq)
            db.session.add(signup)
        else:
            signup = existing
            signup.queue_no, signup.cancelled_at, signup.promoted_at = activity.queue_seq, None, None
        signup.status, signup.signed_up_by_user_id = status, user.id
        db.session.flush()
        if confirmed:
            _schedule_reminders(activity, signup)
        log.info("resident %s %s for activity %s", resident.id, status.value, activity.id)
        return signup_view(signup, resident, _waitlist_position(signup))


def cancel_signup(user: User, activity_public_id: str, resident_public_id: str | None = None) -> dict:
    """Give a place up. A confirmed place goes to the first on the waitlist, who is told through push.

    :raises NotSignedUp: the person holds no open sign-up.
    """
    with atomic():
        activity, resident = _participant(user, activity_public_id, resident_public_id)
        signup = db.session.scalar(
            sa.select(ActivitySignup)
            .where(
                ActivitySignup.activity_id == activity.id,
                ActivitySignup.resident_id == resident.id,
                ActivitySignup.status != SignupStatus.cancelled,
            )
            .with_for_update()  # a check-in racing this cancellation is seen (it locks the sign-up too)
        )
        if signup is None:
            raise NotSignedUp()
        if signup.checked_in_at is not None:
            raise ActivityNotEditable("已签到，不能取消报名")
        was = signup.status
        signup.status, signup.cancelled_at = SignupStatus.cancelled, utcnow()
        if was is SignupStatus.waitlisted:
            activity.waitlist_count -= 1
        elif not _promote_first(activity):
            activity.confirmed_count -= 1
        db.session.flush()
        log.info("resident %s cancelled their %s sign-up for activity %s", resident.id, was.value, activity.id)
        return signup_view(signup, resident)


def _promote_first(activity: Activity) -> bool:
    """Give a freed place to the first on the waitlist (the activity is locked); tell them. False when nobody
    waits or the activity no longer runs."""
    if activity.status is not ActivityStatus.published or activity.starts_at <= utcnow():
        return False
    first = db.session.scalar(
        sa.select(ActivitySignup)
        .where(ActivitySignup.activity_id == activity.id, ActivitySignup.status == SignupStatus.waitlisted)
        .order_by(ActivitySignup.queue_no)
        .limit(1)
    )
    if first is None:
        return False
    first.status, first.promoted_at = SignupStatus.confirmed, utcnow()
    activity.waitlist_count -= 1
    db.session.flush()
    _schedule_reminders(activity, first)
    push.send(
        PROMOTED_EVENT,
        [first.resident_id],
        _push_data(activity),
        source=("activity", activity.public_id),
        key=f"activity-promoted:{first.public_id}:{first.queue_no}",
    )
    log.info("sign-up %s promoted from the waitlist of activity %s", first.id, activity.id)
    return True


# --- reminders -----------------------------------------------------------------------------------------------------


def _schedule_reminders(activity: Activity, signup: ActivitySignup) -> None:
    """Due jobs the day before and an hour before the start, keyed per sign-up (and queue number, so a sign-up
    taken again gets its own); reminders already in the past are skipped."""
    now = utcnow()
    for name, before in REMINDERS:
        run_at = activity.starts_at - before
        if run_at <= now:
            continue
        outbox.enqueue(
            send_reminder,
            signup.id,
            signup.queue_no,
            name,
            run_at=run_at,
            key=f"activity-reminder:{signup.id}:{signup.queue_no}:{name}",
        )


@outbox.job(queue="push")
def send_reminder(signup_id: int, queue_no: int, name: str) -> None:
    """Remind a confirmed participant; nothing for a sign-up cancelled (or taken again) since, or an activity called
    off or moved."""
    row = db.session.execute(
        sa.select(ActivitySignup, Activity)
        .join(Activity, Activity.id == ActivitySignup.activity_id)
        .where(ActivitySignup.id == signup_id)
    ).first()
    if row is None:
        return
    signup, activity = row
    if (
        signup.status is not SignupStatus.confirmed
        or signup.queue_no != queue_no
        or activity.status is not ActivityStatus.published
        or activity.starts_at <= utcnow()
    ):
        log.info("reminder %s for sign-up %s skipped", name, signup_id)
        return
    push.send(
        REMINDER_EVENT,
        [signup.resident_id],
        _push_data(activity),
        source=("activity", activity.public_id),
        key=f"activity-reminder:{signup.id}:{queue_no}:{name}",
    )


# --- staff: sign-ups, check-in, check-out --------------------------------------------------------------------------


def staff_signups(staff: User, public_id: str, *, cursor: str | None, limit: int) -> dict:
    """Open sign-ups of an activity in queue order (confirmed and waitlisted), for check-in."""
    activity = _staff_activity(staff, public_id, "activities.read")
    query = (
        sa.select(ActivitySignup, Resident)
        .join(Resident, Resident.id == ActivitySignup.resident_id)
        .where(ActivitySignup.activity_id == activity.id, ActivitySignup.status != SignupStatus.cancelled)
    )
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 1 or not isinstance(values[0], int):
            decode_cursor("!")
        query = query.where(ActivitySignup.queue_no > values[0])
    rows = db.session.execute(query.order_by(ActivitySignup.queue_no).limit(limit + 1)).all()
    items = rows[:limit]
    return {
        "items": [signup_view(signup, resident) for signup, resident in items],
        "next_cursor": encode_cursor([items[-1][0].queue_no]) if len(rows) > limit else None,
    }


def _staff_signup(staff: User, activity_public_id: str, signup_public_id: str) -> tuple[Activity, ActivitySignup]:
    activity = _staff_activity(staff, activity_public_id, "activities.manage")
    signup = db.session.scalar(
        sa.select(ActivitySignup)
        .where(ActivitySignup.public_id == signup_public_id, ActivitySignup.activity_id == activity.id)
        .with_for_update()
    )
    if signup is None:
        raise SignupNotFound()
    return activity, signup


def _resident_of(signup: ActivitySignup) -> Resident:
    return db.session.get(Resident, signup.resident_id)


def check_in(staff: User, activity_public_id: str, signup_public_id: str) -> dict:
    """Staff mark a confirmed participant present. :raises NotConfirmed: :raises AlreadyCheckedIn:"""
    with atomic():
        activity, signup = _staff_signup(staff, activity_public_id, signup_public_id)
        if activity.status is not ActivityStatus.published:
            raise ActivityNotEditable(details={"status": activity.status.value})
        if signup.status is not SignupStatus.confirmed:
            raise NotConfirmed(details={"status": signup.status.value})
        if signup.checked_in_at is not None:
            raise AlreadyCheckedIn()
        signup.checked_in_at = utcnow()
        db.session.flush()
        return signup_view(signup, _resident_of(signup))


def check_out(staff: User, activity_public_id: str, signup_public_id: str, minutes: int | None) -> dict:
    """Staff check a volunteer out: the minutes served, as entered or from check-in to now (at least one).

    :raises NotVolunteerActivity: :raises NotCheckedIn: :raises AlreadyCheckedOut:
    """
    with atomic():
        activity, signup = _staff_signup(staff, activity_public_id, signup_public_id)
        if not activity.volunteer:
            raise NotVolunteerActivity()
        if signup.checked_in_at is None:
            raise NotCheckedIn()
        if signup.checked_out_at is not None:
            raise AlreadyCheckedOut()
        now = utcnow()
        if minutes is None:
            minutes = min(max(int((now - signup.checked_in_at).total_seconds() // 60), 1), 1440)
        signup.checked_out_at, signup.volunteer_minutes = now, minutes
        db.session.flush()
        log.info("volunteer sign-up %s checked out with %s minutes", signup.id, minutes)
        return signup_view(signup, _resident_of(signup))


# --- volunteer hours -----------------------------------------------------------------------------------------------


def _served():
    return sa.and_(ActivitySignup.volunteer_minutes.is_not(None), ActivitySignup.status == SignupStatus.confirmed)


def volunteer_hours(user: User, resident_public_id: str | None, *, cursor: str | None, limit: int) -> dict:
    """A volunteer's total minutes and their history (latest first): the caller's own, or an elder's they act for."""
    with atomic():
        if resident_public_id is None:
            resident = db.session.scalar(
                sa.select(Resident).where(Resident.user_id == user.id, Resident.erased_at.is_(None))
            )
            if resident is None:
                return {"total_minutes": 0, "activity_count": 0, "items": [], "next_cursor": None}
        else:
            resident = acting_for(user, resident_public_id, "activities")
        total, count = db.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(ActivitySignup.volunteer_minutes), 0), sa.func.count()).where(
                ActivitySignup.resident_id == resident.id, _served()
            )
        ).one()
        query = (
            sa.select(ActivitySignup, Activity)
            .join(Activity, Activity.id == ActivitySignup.activity_id)
            .where(ActivitySignup.resident_id == resident.id, _served())
        )
        if cursor:
            values = decode_cursor(cursor)
            if len(values) != 2:
                decode_cursor("!")
            bound = sa.tuple_(sa.literal(values[0], sa.DateTime(timezone=True)), sa.literal(values[1]))
            query = query.where(sa.tuple_(ActivitySignup.checked_out_at, ActivitySignup.id) < bound)
        rows = db.session.execute(
            query.order_by(ActivitySignup.checked_out_at.desc(), ActivitySignup.id.desc()).limit(limit + 1)
        ).all()
        items = rows[:limit]
        return {
            "total_minutes": int(total),
            "activity_count": int(count),
            "items": [
                {
                    "activity_id": activity.public_id,
                    "title": activity.title,
                    "place": activity.place,
                    "starts_at": activity.starts_at,
                    "checked_in_at": signup.checked_in_at,
                    "checked_out_at": signup.checked_out_at,
                    "minutes": signup.volunteer_minutes,
                }
                for signup, activity in items
            ],
            "next_cursor": (
                encode_cursor([items[-1][0].checked_out_at, items[-1][0].id]) if len(rows) > limit else None
            ),
        }


def volunteer_ranking(staff: User, region_public_id: str, pagination) -> list[dict]:
    """Volunteers of a region's communities by total minutes (most first), with page numbers."""
    region = db.session.scalar(sa.select(Region).where(Region.public_id == region_public_id))
    if region is None:
        raise CommunityNotFound("地区不存在")
    authorize(staff, "activities.read", region, not_found=CommunityNotFound)
    allowed = community_ids_for(staff, "activities.read")
    communities = community_ids_under(region.id)
    if allowed is not None:
        communities = communities & allowed
    totals = (
        sa.select(
            ActivitySignup.resident_id,
            sa.func.sum(ActivitySignup.volunteer_minutes).label("minutes"),
            sa.func.count().label("activities"),
        )
        .join(Activity, Activity.id == ActivitySignup.activity_id)
        .where(Activity.community_id.in_(sorted(communities) or [-1]), _served())
        .group_by(ActivitySignup.resident_id)
        .subquery()
    )
    pagination.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(totals))
    rows = db.session.execute(
        sa.select(Resident.public_id, Resident.real_name, totals.c.minutes, totals.c.activities)
        .join(totals, totals.c.resident_id == Resident.id)
        .order_by(totals.c.minutes.desc(), Resident.id)
        .offset(pagination.first_item)
        .limit(pagination.page_size)
    ).all()
    return [
        {
            "rank": pagination.first_item + index + 1,
            "resident_id": row.public_id,
            "name": row.real_name,
            "total_minutes": int(row.minutes),
            "activity_count": int(row.activities),
        }
        for index, row in enumerate(rows)
    ]
