"""``push.send``: record a delivery and its audience in the caller's transaction; fan out in jobs, in batches.

The request does three set-based statements (the delivery, its audience by ``INSERT … SELECT`` from the caller's
query or id list, the outbox row) and returns. The job ``fan_out`` then walks the audience in resident id order
(keyset: each batch starts after the last id of the one before, an index range scan however large the audience),
``PUSH_BATCH_SIZE`` residents at a time, each batch one statement that:

1. takes the next batch of ``push_audience``;
2. resolves each resident to the accounts that receive for them: their own active account, and every account of a
   resident holding an active, unexpired delegation from them with the event's scope;
3. writes one inbox row per (account, resident reached) and one ``push_unreachable`` row per resident nobody can
   receive for;
4. writes one ``push_messages`` row per account and outside channel (WeChat where the account holds a grant for the
   template, SMS where it has a verified phone and has not turned the event's SMS off), and the outbox rows that
   send them: one per SMS (``push:message:<id>``, due at once, or at 07:00 for a non-urgent SMS during quiet hours),
   one per ``PUSH_WECHAT_BATCH`` subscribe messages (``push:wechat:<first id>``, ``channels.send_wechat_batch``).

A job handles at most ``PUSH_BATCHES_PER_JOB`` batches, then enqueues the next job: no transaction grows with the
district.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import outbox
from app.accounts.resident_models import Resident
from app.db import atomic, new_public_id, utcnow
from app.extensions import db
from app.push import channels
from app.push.events import get_event, render
from app.push.models import AudienceMember, Delivery

log = logging.getLogger(__name__)

Recipients = Iterable[int] | sa.sql.expression.SelectBase


@dataclass(frozen=True)
class SendReceipt:
    """What ``send`` recorded: the delivery's public id and how many residents its audience holds."""

    delivery_id: str
    audience: int
    #: False when ``key`` named an earlier send, which is returned instead of sending again.
    created: bool
    #: Why WeChat is off for this send (a field over its limit that cannot be shortened), else None.
    wechat_refused: str | None = None


def send(
    event: str,
    recipients: Recipients,
    data: Mapping[str, Any],
    *,
    source: tuple[str, str | int],
    key: str | None = None,
    urgent: bool | None = None,
) -> SendReceipt:
    """Tell residents something: an inbox row for everyone who can receive for them, plus WeChat and SMS where the
    event has them. Only records and enqueues (joins the caller's unit of work); jobs do the fan-out.

    :param event: a registered event name (``register_event``).
    :param recipients: resident ids, or a SELECT of one column of resident ids (an audience query: every 低保
        household of a street …); it runs once, inside ``INSERT … SELECT``, and is never loaded into Python.
    :param data: values for the event's title, body, template fields and SMS text.
    :param source: ``(kind, public id)`` of what the message is about; recipients see it, ``read_stats`` counts by it.
    :param key: deduplication key: a second send with the same key returns the first delivery.
    :param urgent: overrides the event's urgency (urgent SMS ignore quiet hours).
    :raises LookupError: the event is not registered.
    :raises ValueError: ``data`` lacks a value the event's texts name, or the source or key is too long.
    """
    spec = get_event(event)
    source_kind, source_id = source[0], str(source[1])
    if not 0 < len(source_kind) <= 32 or not 0 < len(source_id) <= 64 or (key is not None and len(key) > 200):
        raise ValueError("source kind is 1–32 characters, source id 1–64, key at most 200")
    rendered = render(spec, data)
    if rendered.wechat_refused:
        log.warning("push %s for %s:%s: WeChat off, %s", event, source_kind, source_id, rendered.wechat_refused)
    explicit = not isinstance(recipients, sa.sql.expression.SelectBase | str | bytes)
    values = {
        "event": spec.name,
        "source_kind": source_kind,
        "source_id": source_id,
        "key": key,
        "scope": spec.scope,
        "urgent": spec.urgent if urgent is None else urgent,
        "title": rendered.title,
        "body": rendered.body,
        "wechat_template_id": spec.template_id if spec.has("wechat") else None,
        "wechat_data": None if rendered.wechat_refused else rendered.wechat_data,
        "wechat_page": rendered.page,
        "wechat_refused": rendered.wechat_refused[:200] if rendered.wechat_refused else None,
        "sms_template": spec.sms_template if spec.has("sms") else None,
        "sms_params": rendered.sms_params,
    }
    with atomic():
        if explicit:
            # A list of ids (a message about one order, a booking …): the delivery, its audience and its count in one
            # statement built once; an audience query is counted as it is copied, never run twice.
            ids = sorted({int(resident_id) for resident_id in recipients})
            created = db.session.execute(
                _delivery_with_audience(), {**values, "public_id": new_public_id(), "ids": ids}
            ).one_or_none()
        else:
            created = db.session.execute(
                pg_insert(Delivery)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(Delivery.id, Delivery.public_id)
            ).one_or_none()
        if created is None:
            earlier = db.session.execute(
                sa.select(Delivery.public_id, Delivery.audience_count, Delivery.wechat_refused).where(
                    Delivery.key == key
                )
            ).one()
            return SendReceipt(earlier.public_id, earlier.audience_count, False, earlier.wechat_refused)
        changes: dict[str, Any] = {}
        if explicit:
            delivery_id, public_id, audience = created
        else:
            delivery_id, public_id = created
            audience = changes["audience_count"] = _snapshot_audience(delivery_id, recipients)
        if audience:
            outbox.enqueue(fan_out, delivery_id, key=f"push:fan_out:{delivery_id}:0")
        else:
            changes["fanned_out_at"] = sa.func.now()
        if changes:
            db.session.execute(sa.update(Delivery).where(Delivery.id == delivery_id).values(**changes))
        log.info(
            "push %s from %s:%s to %s residents (delivery %s)", event, source_kind, source_id, audience, delivery_id
        )
        return SendReceipt(public_id, audience, True, rendered.wechat_refused)


@functools.cache
def _delivery_with_audience() -> sa.Select:
    """One statement, built once: the delivery (``INSERT … ON CONFLICT (key) DO NOTHING``) with its audience count,
    and its audience copied from its ``RETURNING`` (the living residents among ``:ids``). Answers (id, public id,
    audience count), or no row when the key named an earlier delivery."""
    deliveries, residents, audience = Delivery.__table__, Resident.__table__, AudienceMember.__table__
    living = sa.and_(
        residents.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.BigInteger))), residents.c.erased_at.is_(None)
    )
    names = ("public_id", "event", "source_kind", "source_id", "key", "scope", "urgent", "title", "body")
    names += ("wechat_template_id", "wechat_data", "wechat_page", "wechat_refused", "sms_template", "sms_params")
    delivery = (
        pg_insert(deliveries)
        .values(
            {
                **{deliveries.c[name]: sa.bindparam(name, type_=deliveries.c[name].type) for name in names},
                deliveries.c.audience_count: sa.select(sa.func.count())
                .select_from(residents)
                .where(living)
                .scalar_subquery(),
            }
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(deliveries.c.id, deliveries.c.public_id, deliveries.c.audience_count)
        .cte("delivery")
    )
    members = (
        pg_insert(audience)
        .from_select(
            ["delivery_id", "resident_id"],
            sa.select(delivery.c.id, residents.c.id).select_from(delivery).join(residents, living),
        )
        .on_conflict_do_nothing()
        .cte("audience")
    )
    return sa.select(delivery.c.id, delivery.c.public_id, delivery.c.audience_count).add_cte(members)


def _snapshot_audience(delivery_id: int, recipients: Recipients) -> int:
    """Copy the audience into ``push_audience`` with one ``INSERT … SELECT`` (erased residents and duplicates out)."""
    residents = Resident.__table__
    if isinstance(recipients, sa.sql.expression.SelectBase):
        if len(recipients.selected_columns) != 1:
            raise ValueError("an audience query selects exactly one column: resident ids")
        condition = residents.c.id.in_(recipients)
    elif isinstance(recipients, str | bytes):
        raise TypeError("recipients are resident ids or a SELECT of resident ids")
    else:
        ids = sorted({int(resident_id) for resident_id in recipients})
        if not ids:
            return 0
        condition = residents.c.id == sa.any_(sa.literal(ids, ARRAY(sa.BigInteger)))
    statement = pg_insert(AudienceMember).from_select(
        ["delivery_id", "resident_id"],
        sa.select(sa.literal(delivery_id, sa.BigInteger), residents.c.id).where(
            condition, residents.c.erased_at.is_(None)
        ),
    )
    # SQLAlchemy keeps an INSERT's rowcount only when asked.
    statement = statement.on_conflict_do_nothing().execution_options(preserve_rowcount=True)
    return db.session.execute(statement).rowcount


# --- fan-out (jobs) ------------------------------------------------------------------------------------------------

#: One batch, one statement: take the next residents of the audience, resolve them to accounts, write inbox and
#: unreachable rows, the outside messages and their outbox rows. Data-modifying CTEs all see the same snapshot;
#: ``inbox`` feeds ``outside`` through RETURNING.
_BATCH = sa.text(
    """
WITH batch AS (
    SELECT resident_id FROM push_audience
    WHERE delivery_id = :delivery_id AND resident_id > :after
    ORDER BY resident_id
    LIMIT :batch_size
),
live AS (
    SELECT r.id AS resident_id, r.user_id
    FROM batch b JOIN accounts_residents r ON r.id = b.resident_id AND r.erased_at IS NULL
),
reach AS (
    SELECT l.resident_id, u.id AS user_id, 'self' AS via
    FROM live l JOIN accounts_users u ON u.id = l.user_id AND u.is_active
    UNION ALL
    SELECT l.resident_id, u.id, 'delegate'
    FROM live l
    JOIN accounts_delegations d
      ON d.subject_resident_id = l.resident_id
     AND d.status = 'active'
     AND (d.expires_at IS NULL OR d.expires_at > now())
     AND CAST(:scope AS varchar) = ANY (d.scopes)
    JOIN accounts_residents a ON a.id = d.actor_resident_id AND a.erased_at IS NULL
    JOIN accounts_users u ON u.id = a.user_id AND u.is_active
),
inbox AS (
    INSERT INTO push_inbox (user_id, resident_id, delivery_id, via)
    SELECT user_id, resident_id, :delivery_id, via FROM reach
    ON CONFLICT (delivery_id, user_id, resident_id) DO NOTHING
    RETURNING id, user_id
),
unreachable AS (
    INSERT INTO push_unreachable (delivery_id, resident_id)
    SELECT :delivery_id, l.resident_id FROM live l
    WHERE NOT EXISTS (SELECT 1 FROM reach WHERE reach.resident_id = l.resident_id)
    ON CONFLICT (delivery_id, resident_id) DO NOTHING
    RETURNING resident_id
),
outside AS (
    INSERT INTO push_messages (delivery_id, inbox_id, user_id, channel, status, due_at)
    SELECT DISTINCT ON (i.user_id, c.channel) :delivery_id, i.id, i.user_id, c.channel, 'pending', c.due_at
    FROM inbox i
    JOIN accounts_users u ON u.id = i.user_id
    CROSS JOIN (VALUES ('wechat', CAST(:now AS timestamptz)),
                       ('sms', CAST(:sms_due AS timestamptz))) AS c (channel, due_at)
    WHERE (c.channel = 'wechat' AND CAST(:wechat AS boolean)
           AND u.wechat_openid IS NOT NULL
           AND EXISTS (SELECT 1 FROM push_subscription_grants g
                       WHERE g.user_id = i.user_id AND g.template_id = :template_id AND g.remaining > 0))
       OR (c.channel = 'sms' AND CAST(:sms AS boolean)
           AND u.phone IS NOT NULL AND u.phone_verified_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM push_preferences p
                           WHERE p.user_id = i.user_id AND p.event = :event AND NOT p.sms))
    ORDER BY i.user_id, c.channel, i.id
    ON CONFLICT (delivery_id, user_id, channel) DO NOTHING
    RETURNING id, channel, due_at
),
jobs AS (
    INSERT INTO core_outbox (job, args, queue, run_at, key, status)
    SELECT :job, jsonb_build_array(o.id), :queue, o.due_at, 'push:message:' || o.id, 'pending'
    FROM outside o WHERE o.channel = 'sms'
    UNION ALL
    SELECT :wechat_job, jsonb_build_array(jsonb_agg(w.id ORDER BY w.id)), :queue, min(w.due_at),
           'push:wechat:' || min(w.id), 'pending'
    FROM (SELECT id, due_at, (row_number() OVER (ORDER BY id) - 1) / :wechat_batch AS chunk
          FROM outside WHERE channel = 'wechat') w
    GROUP BY w.chunk
    RETURNING id
)
SELECT (SELECT count(*) FROM batch) AS taken,
       (SELECT max(resident_id) FROM batch) AS last,
       (SELECT count(*) FROM inbox) AS inbox,
       (SELECT count(*) FROM unreachable) AS unreachable,
       (SELECT count(*) FROM outside) AS messages,
       (SELECT count(*) FROM jobs) AS jobs
"""
)


def wechat_configured() -> bool:
    config = current_app.config
    return bool(config.get("WECHAT_MINI_APPID") and config.get("WECHAT_MINI_SECRET"))


def fan_out_batches(
    delivery: Delivery, *, now: datetime | None = None, batch_size: int | None = None, max_batches: int | None = None
) -> bool:
    """Run up to ``max_batches`` batches of the delivery's audience (one statement each), moving its cursor; once
    the audience is exhausted, remove it.

    :param now: the time the fan-out runs at (SMS quiet hours are judged from it).
    :return: True when the audience is exhausted.
    """
    config = current_app.config
    batch_size = batch_size or int(config.get("PUSH_BATCH_SIZE", 1000))
    max_batches = max_batches or int(config.get("PUSH_BATCHES_PER_JOB", 20))
    now = now or utcnow()
    wechat = delivery.wechat_data is not None and wechat_configured()
    if delivery.wechat_data is not None and not wechat:
        log.warning("push delivery %s: WeChat is not configured, subscribe messages skipped", delivery.id)
    spec = outbox.registered_jobs()[channels.send_message.job_name]
    wechat_batch = int(config.get("PUSH_WECHAT_BATCH", channels.DEFAULT_WECHAT_BATCH))
    params = {
        "delivery_id": delivery.id,
        "batch_size": batch_size,
        "scope": delivery.scope,
        "event": delivery.event,
        "now": now,
        "sms_due": channels.sms_due_at(now, urgent=delivery.urgent),
        "wechat": wechat,
        "template_id": delivery.wechat_template_id,
        "sms": delivery.sms_template is not None,
        "job": spec.name,
        "wechat_job": channels.send_wechat_batch.job_name,
        "wechat_batch": max(1, wechat_batch),
        "queue": spec.queue,
    }
    done, totals = False, {"taken": 0, "inbox": 0, "unreachable": 0, "messages": 0, "jobs": 0}
    cursor = delivery.fan_out_cursor
    for _ in range(max_batches):
        row = db.session.execute(_BATCH, {**params, "after": cursor}).one()
        for name in totals:
            totals[name] += getattr(row, name)
        cursor = row.last if row.last is not None else cursor
        if row.taken < batch_size:
            done = True
            break
    if done:
        db.session.execute(sa.delete(AudienceMember).where(AudienceMember.delivery_id == delivery.id))
    # Set once, last: an assignment is flushed as an UPDATE before the next statement.
    delivery.fan_out_cursor = cursor
    if totals["jobs"]:
        # enqueue() notifies for the rows it inserts; these were inserted set-based, so wake the relay once here.
        db.session.execute(sa.select(sa.func.pg_notify(outbox.NOTIFY_CHANNEL, "")))
    log.info(
        "push delivery %s: %s residents fanned out, %s inbox rows, %s unreachable, %s outside messages in %s jobs",
        delivery.id,
        totals["taken"],
        totals["inbox"],
        totals["unreachable"],
        totals["messages"],
        totals["jobs"],
    )
    return done


@outbox.job(queue="push", timeout=600)
def fan_out(delivery_id: int) -> None:
    """Fan a delivery out, a bounded number of batches per job; the last job marks it fanned out."""
    delivery = db.session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
    if delivery is None or delivery.fanned_out_at is not None:
        return
    done = fan_out_batches(delivery)
    delivery.fan_out_jobs += 1
    if done:
        delivery.fanned_out_at = utcnow()
    else:
        outbox.enqueue(fan_out, delivery.id, key=f"push:fan_out:{delivery.id}:{delivery.fan_out_jobs}")
