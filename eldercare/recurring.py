"""Recurring care orders (series): lunch on every working day, a bath every Saturday.

A series names the elder, the offer, a pattern (``workdays``: the core calendar's working days, 调休 Saturdays in and
statutory holidays out; ``weekly``: ISO weekdays), a time of day and a date range. Each day it names, unless a pause
covers it, becomes a normal care order (priced, subsidised and held by ``orders.place_order``) two weeks ahead: the
daily job and every change to the series call :func:`extend_series`, which inserts ``(series, day)`` into
``eldercare_series_occurrences`` first (unique), so running it again, or twice at once, creates nothing new.

Copays are drawn from the elder's care balance with the provider (``pay_from_balance``, the default). When the
balance is short the occurrence is **created unpaid** (``pending_payment``), the family is told to top up, and it
stays payable until its deadline (a meal: that day's cut-off; any other service: two hours before the start); a
top-up pays waiting occurrences soonest first, and the family can also pay one through payments. Unpaid at the
deadline, it expires like any unpaid order and its subsidy hold is released. (Skipping it instead would leave the
elder without lunch without anyone deciding so.)

Pausing (a hospital stay, ``from``–``to``, open-ended until resumed) cancels the occurrences already created in the
paused days (the subsidy hold released, a drawn copay refunded to the balance); resuming ends the pause and creates
the coming days again; ending cancels every occurrence not yet started.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from app import calendar
from app.accounts.models import User
from app.accounts.profile import require_ready
from app.accounts.resident_models import Resident
from app.api import SHANGHAI, keyset_page
from app.auth.scopes import acting_for, can
from app.db import atomic, utcnow
from app.errors import APIError, ValidationFailed
from app.extensions import db
from eldercare import balances, meals
from eldercare.access import refuse
from eldercare.errors import CareOrderStateConflict, CommunityNotServed
from eldercare.meal_models import Series, SeriesOccurrence, SeriesPattern, SeriesPause, SeriesStatus
from eldercare.meals_errors import SeriesEnded, SeriesNotFound
from eldercare.models import CareCategory, CareOffer, CareOrder, CareOrderStatus, PlacedVia
from eldercare.providers import offer_communities, offer_for_order

log = logging.getLogger(__name__)

#: Occurrences exist this many days ahead (today included).
HORIZON_DAYS = 14
#: An unpaid occurrence of a service other than a meal stays payable until this long before its start.
UNPAID_LEAD = timedelta(hours=2)
#: Orders in these states are cancelled when a pause or the end covers their day.
OPEN_STATES = (CareOrderStatus.pending_payment, CareOrderStatus.submitted, CareOrderStatus.accepted)


def today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def get_series(public_id: str, *, lock: bool = False) -> Series | None:
    query = sa.select(Series).where(Series.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def _elder_public_id(series: Series) -> str:
    return db.session.scalar(sa.select(Resident.public_id).where(Resident.id == series.resident_id))


def _family(user, series: Series, reason: str | None = None) -> bool:
    try:
        acting_for(user, _elder_public_id(series), "eldercare", reason=reason)
    except APIError:
        return False
    return True


def series_visible_to(user, public_id: str) -> Series:
    """The elder, an ``eldercare`` delegate, or the provider's admin; anyone else 404."""
    series = get_series(public_id)
    if series is None:
        raise SeriesNotFound()
    if not (can(user, "eldercare.order.decide", series) or _family(user, series)):
        refuse(user, series.resident_id, SeriesNotFound())
    return series


def _family_series(user, public_id: str, reason: str) -> Series:
    """A series the caller may change: the elder or an ``eldercare`` delegate (staff too, with a reason)."""
    series = get_series(public_id, lock=True)
    if series is None:
        raise SeriesNotFound()
    if not _family(user, series, reason=reason):
        refuse(user, series.resident_id, SeriesNotFound())
    if series.status is SeriesStatus.ended:
        raise SeriesEnded()
    return series


# --- which days ----------------------------------------------------------------------------------------------------


def _pattern_days(series: Series, start: date, end: date) -> list[date]:
    if series.pattern is SeriesPattern.workdays:
        return calendar.workdays_in_range(start, end)
    weekdays = set(series.weekdays)
    return [
        start + timedelta(days=n)
        for n in range((end - start).days + 1)
        if (start + timedelta(days=n)).isoweekday() in weekdays
    ]


def occurrence_days(series: Series, start: date, end: date) -> list[date]:
    """The days of ``[start, end]`` the series names, less the paused ones."""
    start = max(start, series.starts_on)
    if series.ends_on is not None:
        end = min(end, series.ends_on)
    if end < start:
        return []
    pauses = db.session.execute(
        sa.select(SeriesPause.from_day, SeriesPause.to_day).where(SeriesPause.series_id == series.id)
    ).all()
    return [
        day
        for day in _pattern_days(series, start, end)
        if not any(p.from_day <= day and (p.to_day is None or day <= p.to_day) for p in pauses)
    ]


# --- creating occurrences ------------------------------------------------------------------------------------------


def _deadline(series: Series, category: CareCategory, day: date, scheduled_at: datetime) -> datetime:
    if category is CareCategory.meal:
        return meals.cutoff_at(series.provider_id, day)
    return scheduled_at - UNPAID_LEAD


def _place_occurrence(series: Series, day: date) -> CareOrder | None:
    """Create the day's care order unless it exists (flush only); None when it existed already."""
    from eldercare import orders

    occurrence_id = db.session.execute(
        insert(SeriesOccurrence)
        .values(series_id=series.id, day=day)
        .on_conflict_do_nothing(index_elements=["series_id", "day"])
        .returning(SeriesOccurrence.id)
    ).scalar()
    if occurrence_id is None:
        return None
    offer, item, _provider = offer_for_order(
        db.session.scalar(sa.select(CareOffer.public_id).where(CareOffer.id == series.offer_id))
    )
    scheduled_at = meals.local(day, series.time_of_day)
    user = db.session.get(User, series.placed_by_user_id)
    data = {
        "offer_id": offer.public_id,
        "elder_id": _elder_public_id(series),
        "scheduled_at": scheduled_at,
        "notes": series.notes,
        "reason": series.staff_reason,
    }
    order = orders.place_order(
        user,
        data,
        pay_from_balance=series.pay_from_balance,
        expires_at=_deadline(series, item.category, day, scheduled_at),
    )
    db.session.execute(
        sa.update(SeriesOccurrence).where(SeriesOccurrence.id == occurrence_id).values(order_id=order.id)
    )
    if order.status is CareOrderStatus.pending_payment:
        balances.tell_low_balance(order, f"{day.month}月{day.day}日")
    return order


def extend_series(series: Series, on: date) -> list[date]:
    """Create the occurrences of ``[on, on + HORIZON_DAYS]`` that do not exist yet; the days created.

    Each day runs in its own SAVEPOINT: a day that cannot be ordered (its cut-off passed, the provider suspended,
    the delegation revoked) is logged and skipped, and tried again on the next run while it is still ahead.
    """
    if series.status is not SeriesStatus.active:
        return []
    created = []
    for day in occurrence_days(series, on, on + timedelta(days=HORIZON_DAYS)):
        try:
            with atomic(savepoint=True):
                if _place_occurrence(series, day) is not None:
                    created.append(day)
        except APIError as error:
            log.warning("series %s: no occurrence on %s (%s)", series.id, day, error.code)
    if created:
        log.info("series %s: %s occurrences created (%s … %s)", series.id, len(created), created[0], created[-1])
    return created


def extend_one(series_id: int, on: date) -> list[date]:
    """The job's unit: lock the series (so a pause and the job do not interleave) and extend it."""
    with atomic():
        series = db.session.get(Series, series_id, with_for_update=True, populate_existing=True)
        if series is None:
            return []
        return extend_series(series, on)


# --- the series' life ----------------------------------------------------------------------------------------------


def create_series(user, data: dict[str, Any]) -> Series:
    """Start a recurring order for an elder (the elder, an ``eldercare`` delegate, or staff with a reason) and
    create its first two weeks.

    :raises ValidationFailed: weekly without weekdays, a start in the past, an end before the start.
    :raises CommunityNotServed: the offer is not available where the elder lives.
    """
    from eldercare import orders

    with atomic():
        subject, via = orders._subject(user, data)
        if via is PlacedVia.staff and not (data.get("reason") or "").strip():
            raise ValidationFailed(details={"fields": {"reason": ["电话代下单须填写事由"]}})
        pattern = SeriesPattern(data["pattern"])
        weekdays = sorted(set(data.get("weekdays") or []))
        if pattern is SeriesPattern.weekly and not weekdays:
            raise ValidationFailed(details={"fields": {"weekdays": ["每周服务须选择星期"]}})
        starts_on = data.get("starts_on") or today()
        if starts_on < today():
            raise ValidationFailed(details={"fields": {"starts_on": ["开始日期不能早于今天"]}})
        if data.get("ends_on") and data["ends_on"] < starts_on:
            raise ValidationFailed(details={"fields": {"ends_on": ["结束日期须不早于开始日期"]}})
        offer, item, provider = offer_for_order(data["offer_id"])
        profile = require_ready(subject.id, "eldercare.order")
        if not {h["community_id"] for h in profile.households} & offer_communities(offer.id):
            raise CommunityNotServed()
        at: time | None = data.get("time_of_day")
        if at is None:
            at = meals.settings_of(provider.id)[1] if item.category is CareCategory.meal else time(9, 0)
        series = Series(
            resident_id=subject.id,
            provider_id=provider.id,
            offer_id=offer.id,
            pattern=pattern,
            weekdays=weekdays if pattern is SeriesPattern.weekly else [],
            time_of_day=at,
            starts_on=starts_on,
            ends_on=data.get("ends_on"),
            pay_from_balance=data.get("pay_from_balance", True),
            notes=data.get("notes"),
            placed_by_user_id=user.id,
            placed_via=via,
            staff_reason=data.get("reason") if via is PlacedVia.staff else None,
        )
        db.session.add(series)
        db.session.flush()
        log.info("series %s (%s) started by user %s for resident %s", series.id, pattern.value, user.id, subject.id)
        extend_series(series, today())
        return series


def _cancel_from(user, series: Series, start: date, end: date | None, reason: str) -> int:
    """Cancel the series' open occurrences on days ``[start, end]`` that have not started; drawn copays go back to
    the balance. Returns how many were cancelled."""
    from eldercare import orders

    query = (
        sa.select(CareOrder)
        .join(SeriesOccurrence, SeriesOccurrence.order_id == CareOrder.id)
        .where(
            SeriesOccurrence.series_id == series.id,
            SeriesOccurrence.day >= start,
            CareOrder.status.in_(OPEN_STATES),
            CareOrder.scheduled_at > utcnow(),
        )
        .order_by(SeriesOccurrence.day)
    )
    if end is not None:
        query = query.where(SeriesOccurrence.day <= end)
    cancelled = 0
    for order in db.session.scalars(query).all():
        try:
            order = orders.cancel_order(user, order.public_id, reason=reason)
        except CareOrderStateConflict:
            continue
        balances.refund_order(order)
        cancelled += 1
    return cancelled


def pause_series(user, public_id: str, *, from_day: date, to_day: date | None, reason: str | None) -> Series:
    """Pause a series for ``[from_day, to_day]`` (open-ended without ``to_day``): occurrences already created in
    those days are cancelled, and none are created there until resumed."""
    with atomic():
        series = _family_series(user, public_id, reason or "暂停周期服务")
        if from_day < today():
            raise ValidationFailed(details={"fields": {"from": ["暂停开始日期不能早于今天"]}})
        if to_day is not None and to_day < from_day:
            raise ValidationFailed(details={"fields": {"to": ["结束日期须不早于开始日期"]}})
        db.session.add(
            SeriesPause(
                series_id=series.id, from_day=from_day, to_day=to_day, reason=reason, created_by_user_id=user.id
            )
        )
        db.session.flush()
        cancelled = _cancel_from(user, series, from_day, to_day, reason or "周期服务暂停")
        log.info("series %s paused %s–%s by user %s (%s cancelled)", series.id, from_day, to_day, user.id, cancelled)
        return series


def resume_series(user, public_id: str, *, on: date | None) -> Series:
    """End the pauses covering ``on`` (default today) or later, and create the coming occurrences again."""
    with atomic():
        series = _family_series(user, public_id, "恢复周期服务")
        on = on or today()
        if on < today():
            raise ValidationFailed(details={"fields": {"on": ["恢复日期不能早于今天"]}})
        pauses = db.session.scalars(
            sa.select(SeriesPause).where(
                SeriesPause.series_id == series.id,
                sa.or_(SeriesPause.to_day.is_(None), SeriesPause.to_day >= on),
            )
        ).all()
        for pause in pauses:
            if pause.from_day >= on:
                db.session.delete(pause)
            else:
                pause.to_day = on - timedelta(days=1)
        db.session.flush()
        extend_series(series, today())
        log.info("series %s resumed from %s by user %s", series.id, on, user.id)
        return series


def end_series(user, public_id: str, *, reason: str | None) -> Series:
    """End a series: no more occurrences, and those not yet started are cancelled."""
    with atomic():
        series = _family_series(user, public_id, reason or "结束周期服务")
        series.status, series.ended_at, series.ended_by_user_id = SeriesStatus.ended, utcnow(), user.id
        series.end_reason = reason
        db.session.flush()
        cancelled = _cancel_from(user, series, today(), None, reason or "周期服务已结束")
        log.info("series %s ended by user %s (%s cancelled)", series.id, user.id, cancelled)
        return series


# --- reading -------------------------------------------------------------------------------------------------------


def series_view(series: Series) -> dict[str, Any]:
    offer_public_id = db.session.scalar(sa.select(CareOffer.public_id).where(CareOffer.id == series.offer_id))
    pauses = db.session.scalars(
        sa.select(SeriesPause).where(SeriesPause.series_id == series.id).order_by(SeriesPause.from_day)
    ).all()
    upcoming = db.session.execute(
        sa.select(SeriesOccurrence.day, CareOrder.public_id, CareOrder.status)
        .join(CareOrder, CareOrder.id == SeriesOccurrence.order_id)
        .where(SeriesOccurrence.series_id == series.id, SeriesOccurrence.day >= today())
        .order_by(SeriesOccurrence.day)
        .limit(HORIZON_DAYS + 1)
    ).all()
    return {
        **series_summary(series, _elder_public_id(series), offer_public_id),
        "pauses": [{"from": p.from_day, "to": p.to_day, "reason": p.reason} for p in pauses],
        "upcoming": [{"day": d, "order_id": o, "status": s.value} for d, o, s in upcoming],
    }


def read_series(user, public_id: str) -> dict[str, Any]:
    with atomic():
        return series_view(series_visible_to(user, public_id))


def elder_series(user, elder_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """An elder's series, newest first (the elder or an ``eldercare`` delegate); two queries whatever the page size."""
    with atomic():
        subject = acting_for(user, elder_id, "eldercare", reason="查看周期服务")
        query = sa.select(Series).where(Series.resident_id == subject.id)
        page = keyset_page(db.session, query, [Series.id], cursor=cursor, limit=limit)
        offers = dict(
            db.session.execute(
                sa.select(CareOffer.id, CareOffer.public_id).where(
                    CareOffer.id.in_({s.offer_id for s in page["items"]})
                )
            ).all()
        )
        page["items"] = [series_summary(s, elder_id, offers[s.offer_id]) for s in page["items"]]
        return page


def series_summary(series: Series, elder_public_id: str, offer_public_id: str) -> dict[str, Any]:
    return {
        "id": series.public_id,
        "elder_id": elder_public_id,
        "offer_id": offer_public_id,
        "pattern": series.pattern.value,
        "weekdays": list(series.weekdays),
        "time_of_day": series.time_of_day.strftime("%H:%M"),
        "starts_on": series.starts_on,
        "ends_on": series.ends_on,
        "status": series.status.value,
        "pay_from_balance": series.pay_from_balance,
        "placed_via": series.placed_via.value,
        "created_at": series.created_at,
    }


def active_series_ids() -> list[int]:
    return list(
        db.session.scalars(sa.select(Series.id).where(Series.status == SeriesStatus.active).order_by(Series.id))
    )
