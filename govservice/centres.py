"""Use cases for service centres: the centre and its rules, windows and the items they serve, weekly sessions,
closures (which cancel the bookings they cover), and the opening days residents can book."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app import audit
from app.auth.scopes import authorize
from app.community.integrity import refusals
from app.community.models import Region
from app.community.scope import region_ancestors
from app.community.services import get_region
from app.db import atomic
from app.errors import ValidationFailed
from app.extensions import db
from govservice import clock
from govservice.errors import CentreNotFound, ClosureNotFound, GuideNotFound, NameTaken, WindowNotFound
from govservice.models import Centre, Closure, GuideItem, Session, Window, WindowItem
from govservice.permissions import DESK, MANAGE

log = logging.getLogger(__name__)

#: Centre settings staff may change (the booking rules among them).
CENTRE_FIELDS = (
    "name",
    "address",
    "phone",
    "supervision_phone",
    "hours",
    "earliest_days",
    "latest_days",
    "cancel_cutoff_minutes",
    "checkin_open_minutes",
    "one_per_item_per_day",
    "noshow_limit",
    "noshow_window_days",
    "suspension_days",
    "makeup_weekday",
    "reminder_eve_at",
    "reminder_before_minutes",
)


# --- lookups -------------------------------------------------------------------------------------------------------


def get_centre(public_id: str) -> Centre:
    centre = db.session.scalar(sa.select(Centre).where(Centre.public_id == public_id))
    if centre is None:
        raise CentreNotFound()
    return centre


def staff_centre(user, public_id: str, action: str = MANAGE, *, lock: bool = False) -> Centre:
    """A centre the caller may ``action`` on: 404 outside their regions, 403 inside without the role."""
    centre = get_centre(public_id)
    authorize(user, action, centre, not_found=CentreNotFound)
    if lock:
        db.session.execute(sa.select(Centre.id).where(Centre.id == centre.id).with_for_update())
    return centre


def get_window(public_id: str) -> Window:
    window = db.session.scalar(sa.select(Window).where(Window.public_id == public_id))
    if window is None:
        raise WindowNotFound()
    return window


def staff_window(user, public_id: str, action: str = MANAGE) -> tuple[Window, Centre]:
    window = get_window(public_id)
    centre = db.session.get(Centre, window.centre_id)
    authorize(user, action, centre, not_found=WindowNotFound)
    return window, centre


# --- centres -------------------------------------------------------------------------------------------------------


def list_centres(*, region_public_id: str | None = None) -> list[Centre]:
    """Centres serving a region: its own and those of the regions above it (a community sees its street's centre)."""
    query = sa.select(Centre).options(selectinload(Centre.region)).order_by(Centre.name, Centre.id)
    if region_public_id:
        region = get_region(region_public_id)
        query = query.where(Centre.region_id.in_(region_ancestors([region.id])))
    return list(db.session.scalars(query.limit(200)))


def create_centre(user, region_public_id: str, data: dict[str, Any]) -> Centre:
    with atomic():
        region: Region = get_region(region_public_id)
        authorize(user, MANAGE, region)
        centre = Centre(region_id=region.id, **{key: value for key, value in data.items() if key in CENTRE_FIELDS})
        _check_rules(centre)
        db.session.add(centre)
        db.session.flush()
        audit.record("govservice.centre.create", actor=user, target=("govservice_centre", centre.public_id))
        log.info("centre %s created by user %s", centre.id, user.id)
        return centre


def update_centre(user, public_id: str, data: dict[str, Any]) -> Centre:
    with atomic():
        centre = staff_centre(user, public_id, lock=True)
        before = {key: _plain(getattr(centre, key)) for key in data if key in CENTRE_FIELDS}
        for key, value in data.items():
            if key in CENTRE_FIELDS:
                setattr(centre, key, value)
        _check_rules(centre)
        db.session.flush()
        audit.record(
            "govservice.centre.update",
            actor=user,
            target=("govservice_centre", centre.public_id),
            before=before,
            after={key: _plain(getattr(centre, key)) for key in before},
        )
        return centre


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _check_rules(centre: Centre) -> None:
    earliest = centre.earliest_days if centre.earliest_days is not None else 0
    latest = centre.latest_days if centre.latest_days is not None else 7
    if earliest > latest:
        message = "最早可约天数不能晚于最晚可约天数"
        raise ValidationFailed(message, details={"fields": {"json": {"earliest_days": [message]}}})


# --- windows -------------------------------------------------------------------------------------------------------


def list_windows(centre: Centre) -> list[dict[str, Any]]:
    """The centre's windows with the items they serve and their sessions (three queries)."""
    windows = db.session.scalars(sa.select(Window).where(Window.centre_id == centre.id).order_by(Window.number)).all()
    ids = [window.id for window in windows]
    items: dict[int, list[GuideItem]] = {window_id: [] for window_id in ids}
    for window_id, item in db.session.execute(
        sa.select(WindowItem.window_id, GuideItem)
        .join(GuideItem, GuideItem.id == WindowItem.item_id)
        .where(WindowItem.window_id.in_(ids))
        .order_by(GuideItem.code)
    ):
        items[window_id].append(item)
    sessions: dict[int, list[Session]] = {window_id: [] for window_id in ids}
    for session in db.session.scalars(
        sa.select(Session).where(Session.window_id.in_(ids)).order_by(Session.weekday, Session.starts_at)
    ):
        sessions[session.window_id].append(session)
    return [_window_view(window, items[window.id], sessions[window.id]) for window in windows]


def _window_view(window: Window, items: list[GuideItem], sessions: list[Session]) -> dict[str, Any]:
    return {
        "id": window.public_id,
        "number": window.number,
        "name": window.name,
        "queue_prefix": window.queue_prefix,
        "is_active": window.is_active,
        "item_ids": [item.public_id for item in items],
        "sessions": sessions,
    }


def window_view(window: Window) -> dict[str, Any]:
    items = db.session.scalars(
        sa.select(GuideItem)
        .join(WindowItem, WindowItem.item_id == GuideItem.id)
        .where(WindowItem.window_id == window.id)
        .order_by(GuideItem.code)
    ).all()
    sessions = db.session.scalars(
        sa.select(Session).where(Session.window_id == window.id).order_by(Session.weekday, Session.starts_at)
    ).all()
    return _window_view(window, list(items), list(sessions))


def create_window(user, centre_public_id: str, data: dict[str, Any]) -> dict[str, Any]:
    with atomic():
        centre = staff_centre(user, centre_public_id)
        window = Window(
            centre_id=centre.id,
            number=data["number"],
            name=data["name"],
            queue_prefix=data.get("queue_prefix") or "A",
            is_active=data.get("is_active", True),
        )
        with refusals(unique=NameTaken("窗口编号已被使用")):
            db.session.add(window)
        if data.get("item_ids") is not None:
            _set_items(centre, window, data["item_ids"])
        if data.get("sessions") is not None:
            _set_sessions(window, data["sessions"])
        audit.record("govservice.window.create", actor=user, target=("govservice_window", window.public_id))
        return window_view(window)


def update_window(user, window_public_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Change a window; ``item_ids`` and ``sessions`` replace the whole set when given.

    Changing sessions leaves existing bookings alone (a closure is the way to cancel them); slots no longer offered
    simply take no new bookings.
    """
    with atomic():
        window, centre = staff_window(user, window_public_id)
        db.session.execute(sa.select(Window.id).where(Window.id == window.id).with_for_update())
        for key in ("number", "name", "queue_prefix", "is_active"):
            if key in data:
                setattr(window, key, data[key])
        with refusals(unique=NameTaken("窗口编号已被使用")):
            pass
        if data.get("item_ids") is not None:
            _set_items(centre, window, data["item_ids"])
        if data.get("sessions") is not None:
            _set_sessions(window, data["sessions"])
        audit.record(
            "govservice.window.update",
            actor=user,
            target=("govservice_window", window.public_id),
            after={key: str(data[key]) for key in data if key not in ("sessions", "item_ids")}
            | ({"sessions": len(data["sessions"])} if data.get("sessions") is not None else {}),
        )
        return window_view(window)


def _set_items(centre: Centre, window: Window, item_public_ids: list[str]) -> None:
    wanted = set(item_public_ids)
    rows = db.session.execute(
        sa.select(GuideItem.public_id, GuideItem.id).where(
            GuideItem.centre_id == centre.id, GuideItem.public_id.in_(wanted)
        )
    ).all()
    found = dict(rows)
    missing = sorted(wanted - set(found))
    if missing:
        raise GuideNotFound(details={"item_ids": missing})
    db.session.execute(sa.delete(WindowItem).where(WindowItem.window_id == window.id))
    db.session.add_all(WindowItem(window_id=window.id, item_id=found[pid], centre_id=centre.id) for pid in wanted)
    db.session.flush()


def _set_sessions(window: Window, sessions: list[dict[str, Any]]) -> None:
    for index, session in enumerate(sessions):
        problem = _session_problem(session)
        if problem:
            raise ValidationFailed(problem, details={"fields": {"json": {"sessions": {str(index): [problem]}}}})
    db.session.execute(sa.delete(Session).where(Session.window_id == window.id))
    db.session.add_all(Session(window_id=window.id, **session) for session in sessions)
    db.session.flush()


def _session_problem(session: dict[str, Any]) -> str | None:
    if session["ends_at"] <= session["starts_at"]:
        return "结束时间须晚于开始时间"
    workday_only = session.get("workday_only", True)
    if workday_only and session.get("holiday_service"):
        return "仅工作日开放的时段不能同时设为节假日服务"
    if workday_only and session["weekday"] >= 5:
        return "周六、周日的时段不能设为仅工作日开放（调休上班日按中心设置的星期开放）"
    return None


# --- closures ------------------------------------------------------------------------------------------------------


def list_closures(user, centre_public_id: str, *, first: date | None = None) -> list[Closure]:
    centre = staff_centre(user, centre_public_id, DESK)
    first = first or clock.today()
    return list(
        db.session.scalars(
            sa.select(Closure)
            .where(Closure.centre_id == centre.id, Closure.day >= first)
            .order_by(Closure.day, Closure.starts_at.nulls_first(), Closure.id)
            .limit(500)
        )
    )


def create_closure(user, centre_public_id: str, data: dict[str, Any]) -> Closure:
    """Close a window or the whole centre for a day or some hours; cancel the bookings it covers and tell them.

    The windows concerned are locked ``FOR UPDATE`` first; a booking holds its window ``FOR SHARE`` while it checks
    closures, so a booking running at the same moment either commits before (and is cancelled here) or sees the
    closure (and is refused).
    """
    from govservice.bookings import cancel_for_closure

    with atomic():
        centre = staff_centre(user, centre_public_id)
        window = None
        if data.get("window_id"):
            window = get_window(data["window_id"])
            if window.centre_id != centre.id:
                raise WindowNotFound()
        if (data.get("starts_at") is None) != (data.get("ends_at") is None):
            raise ValidationFailed("开始和结束时间须同时填写，或都不填（全天）")
        if data.get("starts_at") is not None and data["ends_at"] <= data["starts_at"]:
            raise ValidationFailed("结束时间须晚于开始时间")
        if data["day"] < clock.today():
            raise ValidationFailed("不能为过去的日期设置停办")
        lock = sa.select(Window.id).where(Window.centre_id == centre.id)
        if window is not None:
            lock = lock.where(Window.id == window.id)
        db.session.execute(lock.order_by(Window.id).with_for_update())
        closure = Closure(
            centre_id=centre.id,
            window_id=window.id if window else None,
            day=data["day"],
            starts_at=data.get("starts_at"),
            ends_at=data.get("ends_at"),
            reason=data["reason"],
            created_by_user_id=user.id,
        )
        db.session.add(closure)
        db.session.flush()
        closure.cancelled_bookings = cancel_for_closure(user, centre, closure)
        audit.record(
            "govservice.closure.create",
            actor=user,
            target=("govservice_closure", closure.public_id),
            after={
                "day": closure.day.isoformat(),
                "window": window.public_id if window else None,
                "cancelled_bookings": closure.cancelled_bookings,
            },
            reason=closure.reason,
        )
        log.info(
            "closure %s of centre %s by user %s cancelled %s booking(s)",
            closure.id,
            centre.id,
            user.id,
            closure.cancelled_bookings,
        )
        return closure


def delete_closure(user, closure_public_id: str) -> None:
    """Reopen: the slots are offered again; cancelled bookings stay cancelled (their residents were told)."""
    with atomic():
        closure = db.session.scalar(sa.select(Closure).where(Closure.public_id == closure_public_id))
        if closure is None:
            raise ClosureNotFound()
        centre = db.session.get(Centre, closure.centre_id)
        authorize(user, MANAGE, centre, not_found=ClosureNotFound)
        db.session.delete(closure)
        db.session.flush()
        audit.record("govservice.closure.delete", actor=user, target=("govservice_closure", closure.public_id))


def bookable_days(centre: Centre, *, staff: bool = False) -> tuple[date, date]:
    """The first and last day a booking may be made for, today (staff booking for a caller may start today)."""
    today = clock.today()
    first = today if staff else today + timedelta(days=centre.earliest_days)
    return first, today + timedelta(days=centre.latest_days)
