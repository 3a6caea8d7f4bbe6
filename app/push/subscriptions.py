"""What an account lets us send: one-time subscribe-message grants, and its SMS choice per event."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db import atomic
from app.extensions import db
from app.push.errors import UnknownEvent, UnknownTemplate
from app.push.events import registered_events, template_ids
from app.push.models import Preference, SubscriptionGrant

log = logging.getLogger(__name__)


def templates() -> list[dict[str, Any]]:
    """Subscribe templates the mini-program may ask for (``wx.requestSubscribeMessage``), with their events."""
    events = registered_events()
    return [
        {"template_id": template_id, "events": [{"name": name, "title": events[name].title_zh} for name in names]}
        for template_id, names in sorted(template_ids().items())
    ]


def my_grants(user) -> list[dict[str, Any]]:
    rows = db.session.execute(
        sa.select(SubscriptionGrant.template_id, SubscriptionGrant.remaining)
        .where(SubscriptionGrant.user_id == user.id)
        .order_by(SubscriptionGrant.template_id)
    )
    return [{"template_id": template_id, "remaining": remaining} for template_id, remaining in rows]


def record_grants(user, template_ids_accepted: list[str]) -> list[dict[str, Any]]:
    """Count one more one-time grant for each template the user accepted in ``wx.requestSubscribeMessage``.

    :raises UnknownTemplate: a template id no registered event uses.
    """
    known = template_ids()
    unknown = sorted(set(template_ids_accepted) - set(known))
    if unknown:
        raise UnknownTemplate(details={"template_ids": unknown})
    with atomic():
        for template_id in dict.fromkeys(template_ids_accepted):
            statement = pg_insert(SubscriptionGrant).values(
                user_id=user.id, template_id=template_id, remaining=1, granted_total=1
            )
            db.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["user_id", "template_id"],
                    set_={
                        "remaining": SubscriptionGrant.remaining + 1,
                        "granted_total": SubscriptionGrant.granted_total + 1,
                        "updated_at": sa.func.now(),
                    },
                )
            )
        log.info("user %s granted subscribe templates %s", user.id, ",".join(template_ids_accepted))
        return my_grants(user)


def sms_events() -> dict[str, str]:
    """Events that may send an SMS: name → Chinese title."""
    return {name: event.title_zh for name, event in sorted(registered_events().items()) if event.has("sms")}


def my_preferences(user) -> list[dict[str, Any]]:
    """Every SMS-capable event with the account's choice (on unless turned off)."""
    chosen = dict(
        db.session.execute(sa.select(Preference.event, Preference.sms).where(Preference.user_id == user.id)).all()
    )
    return [{"event": name, "title": title, "sms": chosen.get(name, True)} for name, title in sms_events().items()]


def set_preferences(user, choices: dict[str, bool]) -> list[dict[str, Any]]:
    """Turn an event's SMS on or off for the account.

    :raises UnknownEvent: an event that does not exist or sends no SMS.
    """
    unknown = sorted(set(choices) - set(sms_events()))
    if unknown:
        raise UnknownEvent(details={"events": unknown})
    with atomic():
        for event, sms in choices.items():
            statement = pg_insert(Preference).values(user_id=user.id, event=event, sms=sms)
            db.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["user_id", "event"], set_={"sms": sms, "updated_at": sa.func.now()}
                )
            )
        log.info("user %s set SMS preferences %s", user.id, choices)
        return my_preferences(user)
