"""Statistics of online applications per centre, item and period, each rate with its numerator and denominator.

The cohort is the applications **submitted** in the period (Asia/Shanghai dates, both ends included), counted in
the state they are in when the statistics are read. Definitions (also returned with the figures):

- received (收件): submitted in the period; withdrawn (撤回), returned (预审退回), not accepted (不予受理) among them;
- accepted (受理): reached 受理 (whatever happened after);
- completed (办结): 办结, approved or denied;
- 办结率 = completed / accepted;
- on-time rate (按时办结率) = completed on or before the due day / completed;
- average working days (平均办理时长) = working days used by completed applications, pauses (补正, 特别程序)
  excluded / completed;
- 满意度 = ratings of 4 or 5 (满意, 非常满意) / ratings; rating rate = ratings / completed.

One grouped query answers a whole centre, per item.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from app.api import SHANGHAI
from app.errors import ValidationFailed
from app.extensions import db
from govservice import centres, clock
from govservice.application_models import (
    IN_PROGRESS,
    RUNNING,
    Application,
    ApplicationRating,
    ApplicationStatus,
    Outcome,
)
from govservice.booking_views import item_names
from govservice.errors import GuideNotFound
from govservice.models import GuideItem
from govservice.permissions import APPLICATION_STATS

#: The longest period one request covers.
MAX_PERIOD_DAYS = 3 * 366
SATISFIED_FROM = 4

COUNTS = (
    "received",
    "withdrawn",
    "returned",
    "not_accepted",
    "awaiting",
    "accepted",
    "in_progress",
    "overdue_in_progress",
    "completed",
    "approved",
    "denied",
    "on_time",
    "elapsed_workdays",
    "rated",
    "satisfied",
    "score_total",
)

DEFINITIONS = {
    "basis": "统计期内提交的办件，按查询时的状态计",
    "completion_rate": ("办结率", "办结件数", "受理件数"),
    "on_time_rate": ("按时办结率", "在承诺期限内办结件数", "办结件数"),
    "average_workdays": ("平均办理工作日", "办结件所用工作日合计（不含补正、特别程序）", "办结件数"),
    "satisfaction": ("满意度", "评价为满意或非常满意（4–5 分）的件数", "评价件数"),
    "rating_rate": ("评价率", "评价件数", "办结件数"),
    "acceptance_rate": ("受理率", "受理件数", "收件数（不含撤回）"),
}


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or clock.today()
    start = start or end - timedelta(days=29)
    if start > end or (end - start).days >= MAX_PERIOD_DAYS:
        message = f"统计期须从开始日到结束日，最长 {MAX_PERIOD_DAYS} 天"
        raise ValidationFailed(message, details={"fields": {"query": {"start": [message]}}})
    return start, end


def _rate(name: str, numerator: int, denominator: int, *, digits: int = 4) -> dict[str, Any]:
    label, numerator_label, denominator_label = DEFINITIONS[name]
    return {
        "label": label,
        "numerator": numerator,
        "denominator": denominator,
        "numerator_label": numerator_label,
        "denominator_label": denominator_label,
        "value": round(numerator / denominator, digits) if denominator else None,
    }


def _figures(counts: dict[str, int]) -> dict[str, Any]:
    figures: dict[str, Any] = {key: counts[key] for key in COUNTS if key not in ("elapsed_workdays", "score_total")}
    figures["rates"] = {
        "acceptance_rate": _rate("acceptance_rate", counts["accepted"], counts["received"] - counts["withdrawn"]),
        "completion_rate": _rate("completion_rate", counts["completed"], counts["accepted"]),
        "on_time_rate": _rate("on_time_rate", counts["on_time"], counts["completed"]),
        "average_workdays": _rate("average_workdays", counts["elapsed_workdays"], counts["completed"], digits=2),
        "satisfaction": _rate("satisfaction", counts["satisfied"], counts["rated"]),
        "rating_rate": _rate("rating_rate", counts["rated"], counts["completed"]),
    }
    figures["average_score"] = round(counts["score_total"] / counts["rated"], 2) if counts["rated"] else None
    return figures


def _columns(today: date) -> list:
    status = Application.status

    def count(condition) -> sa.ColumnElement:
        return sa.func.count().filter(condition)

    return [
        sa.func.count().label("received"),
        count(status == ApplicationStatus.withdrawn).label("withdrawn"),
        count(status == ApplicationStatus.returned).label("returned"),
        count(status == ApplicationStatus.rejected).label("not_accepted"),
        count(status.in_((ApplicationStatus.pending_review, ApplicationStatus.awaiting_acceptance))).label("awaiting"),
        count(Application.accepted_on.is_not(None)).label("accepted"),
        count(status.in_(IN_PROGRESS)).label("in_progress"),
        count(sa.and_(status.in_(RUNNING), Application.due_on < today)).label("overdue_in_progress"),
        count(status == ApplicationStatus.completed).label("completed"),
        count(Application.outcome == Outcome.approved).label("approved"),
        count(Application.outcome == Outcome.denied).label("denied"),
        count(sa.and_(status == ApplicationStatus.completed, Application.on_time.is_(True))).label("on_time"),
        sa.func.coalesce(
            sa.func.sum(Application.elapsed_workdays).filter(status == ApplicationStatus.completed), 0
        ).label("elapsed_workdays"),
        sa.func.count(ApplicationRating.application_id).label("rated"),
        count(ApplicationRating.score >= SATISFIED_FROM).label("satisfied"),
        sa.func.coalesce(sa.func.sum(ApplicationRating.score), 0).label("score_total"),
    ]


def centre_statistics(
    centre_id: int, *, start: date | None, end: date | None, item_id: int | None = None
) -> dict[str, Any]:
    """Totals and per-item figures of a centre's applications submitted in ``[start, end]`` (default: 30 days)."""
    start, end = _period(start, end)
    today = clock.today()
    since = datetime.combine(start, time(0), tzinfo=SHANGHAI)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    query = (
        sa.select(Application.item_id, *_columns(today))
        .outerjoin(ApplicationRating, ApplicationRating.application_id == Application.id)
        .where(Application.centre_id == centre_id, Application.submitted_at >= since, Application.submitted_at < until)
        .group_by(Application.item_id)
    )
    if item_id is not None:
        query = query.where(Application.item_id == item_id)
    rows = db.session.execute(query).mappings().all()
    totals = dict.fromkeys(COUNTS, 0)
    per_item = []
    names = item_names([row["item_id"] for row in rows]) if rows else {}
    for row in rows:
        counts = {key: int(row[key]) for key in COUNTS}
        for key in COUNTS:
            totals[key] += counts[key]
        per_item.append({"item": names[row["item_id"]], **_figures(counts)})
    per_item.sort(key=lambda entry: entry["item"]["code"])
    return {
        "period": {"start": start, "end": end},
        "as_of": today,
        "basis": DEFINITIONS["basis"],
        "totals": _figures(totals),
        "items": per_item,
    }


def staff_statistics(
    user, centre_public_id: str, *, start: date | None, end: date | None, item_id: str | None
) -> dict[str, Any]:
    centre = centres.staff_centre(user, centre_public_id, APPLICATION_STATS)
    item = None
    if item_id:
        item = db.session.scalar(
            sa.select(GuideItem.id).where(GuideItem.public_id == item_id, GuideItem.centre_id == centre.id)
        )
        if item is None:
            raise GuideNotFound()
    return {
        "centre": {"id": centre.public_id, "name": centre.name},
        **centre_statistics(centre.id, start=start, end=end, item_id=item),
    }


def public_summary(centre_public_id: str, *, start: date | None, end: date | None) -> dict[str, Any]:
    """The public read-only summary of a centre: the same aggregate figures, no person named."""
    centre = centres.get_centre(centre_public_id)
    return {
        "centre": {"id": centre.public_id, "name": centre.name},
        **centre_statistics(centre.id, start=start, end=end),
    }
