"""The promised-days clock of an application (承诺期限), counted in working days from ``app.calendar``.

- The term starts the day after acceptance (自受理之次日起) and ends at the close (24:00 Asia/Shanghai) of the
  ``promised_days``-th working day after ``accepted_on``: ``due_on = add_workdays(accepted_on, N + paused)``.
- 待补正 and 特别程序 stop the clock in whole days. The day the clock stops still counts as used; the working days
  after it up to and including the day it restarts do not (the restart day is like a new acceptance: counting
  resumes the next day). So a pause from ``s`` to ``e`` adds ``workdays_between(s, e)`` to ``paused_workdays``.
- A completion is on time when it happens on or before ``due_on`` (local date).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from app import calendar
from app.api import SHANGHAI
from govservice.application_models import Application, ApplicationStatus


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def due_on(accepted_on: date, promised_days: int, paused_workdays: int) -> date:
    """The last working day of the term (0 promised days: the acceptance day, or the next working day)."""
    return calendar.add_workdays(accepted_on, promised_days + paused_workdays)


def due_at(day: date) -> datetime:
    """The close of ``day`` in Asia/Shanghai, when the term ends."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def elapsed_workdays(application: Application, as_of: date) -> int:
    """Working days of the term used by ``as_of`` (pauses excluded; frozen at 办结)."""
    if application.accepted_on is None:
        return 0
    if application.elapsed_workdays is not None:
        return application.elapsed_workdays
    end = application.paused_since if application.paused_since is not None else as_of
    used = calendar.workdays_between(application.accepted_on, end) if end > application.accepted_on else 0
    return max(used - application.paused_workdays, 0)


def pause(application: Application, today: date) -> None:
    """Stop the clock (entering 待补正 or 特别程序)."""
    application.paused_since = today
    application.due_on = None


def resume(application: Application, today: date) -> int:
    """Restart the clock; return the working days the pause lasted."""
    since = application.paused_since
    paused = calendar.workdays_between(since, today) if since is not None and today > since else 0
    total = application.paused_workdays + paused
    due = due_on(application.accepted_on, application.promised_days, total)
    application.paused_workdays, application.paused_since, application.due_on = total, None, due
    return paused


def finish(application: Application, today: date) -> None:
    """Fix the working days used and whether the term was kept (办结)."""
    application.elapsed_workdays = elapsed_workdays(application, today)
    application.on_time = application.due_on is not None and today <= application.due_on


def timing(application: Application, today: date) -> dict[str, Any] | None:
    """What the application shows about its term: due day and time, remaining or overdue working days, paused.

    ``None`` before acceptance and for applications that never were accepted.
    """
    if application.accepted_on is None:
        return None
    status = application.status
    view: dict[str, Any] = {
        "promised_days": application.promised_days,
        "accepted_on": application.accepted_on,
        "paused": status in (ApplicationStatus.correction, ApplicationStatus.special),
        "paused_since": application.paused_since,
        "paused_workdays": application.paused_workdays,
        "due_on": application.due_on,
        "due_at": due_at(application.due_on) if application.due_on is not None else None,
        "elapsed_workdays": elapsed_workdays(application, today),
        "on_time": application.on_time,
    }
    if status is ApplicationStatus.completed:
        view.update(remaining_workdays=None, overdue=not application.on_time, overdue_workdays=None, overdue_days=None)
        return view
    if application.due_on is None:  # paused: what is left is frozen at the pause
        left = application.promised_days - view["elapsed_workdays"]
        view.update(
            remaining_workdays=max(left, 0), overdue=left < 0, overdue_workdays=max(-left, 0), overdue_days=None
        )
        return view
    if today <= application.due_on:
        view.update(
            remaining_workdays=calendar.workdays_between(today, application.due_on),
            overdue=False,
            overdue_workdays=0,
            overdue_days=0,
        )
    else:
        view.update(
            remaining_workdays=0,
            overdue=True,
            overdue_workdays=calendar.workdays_between(application.due_on, today),
            overdue_days=(today - application.due_on).days,
        )
    return view
