"""``push.send``: record a delivery and its audience in the caller's transaction; fan out in jobs, a chunk each, or
at once for a few residents.

A send to at most ``PUSH_INLINE_AUDIENCE`` resident ids (an order step, a booking …) is fanned out in the caller's
one statement (``_delivery_fanned_out``: the chunk statement below, fed by the delivery it inserts), with no job.

Otherwise the request copies the audience (the caller's query or id list, run once inside ``INSERT … SELECT``, never
loaded into Python) into ``push_audience_chunks``: resident ids in ascending order, ``PUSH_BATCH_SIZE`` to a row, so
a district of 100,000 residents is forty rows. The same statement writes one outbox row per chunk (job ``fan_out``,
key ``push:fan_out:<delivery>:<chunk>``, inserted set-based). A send to a list of ids is one statement and a NOTIFY;
a send to a query is two statements (the delivery; its chunks, their jobs and its count) and a NOTIFY.

Each ``fan_out`` job takes its chunk in one statement that:

1. deletes the chunk (``DELETE … RETURNING``): a second run of the job, or a chunk retracted meanwhile, finds nothing
   and writes nothing, and two runs at once queue on the row;
2. resolves each resident to the accounts that receive for them: their own active account, and every account of a
   resident holding an active, unexpired delegation from them with the event's scope;
3. writes one inbox row per (account, resident reached) and one ``push_unreachable`` row per resident nobody can
   receive for;
4. writes one ``push_messages`` row per account and outside channel (WeChat where the account holds a grant for the
   template, SMS where it has a verified phone and has not turned the event's SMS off), and the outbox rows that
   send them: one per SMS (``push:message:<id>``, due at once, or at 07:00 for a non-urgent SMS during quiet hours),
   one per ``PUSH_WECHAT_BATCH`` subscribe messages (``push:wechat:<first id>``, ``channels.send_wechat_batch``).

Chunks are independent: every push worker takes some, no transaction grows with the district, and the subscribe
messages of a chunk leave as soon as its job commits. The job that finds no chunk left marks the delivery fanned out
(``_finish``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app import outbox
from app.accounts.resident_models import Resident
from app.db import atomic, new_public_id, utcnow
from app.extensions import db
from app.push import channels
from app.push.events import get_event, render
from app.push.models import AudienceChunk, Delivery

log = logging.getLogger(__name__)

Recipients = Iterable[int] | sa.sql.expression.SelectBase


@dataclass(frozen=True)
class SendReceipt:
    """What ``send`` recorded: the delivery's public id and how many residents its audience holds."""

    delivery_id: str
    #: None when the audience is copied in a job (``Audience``): the delivery's ``audience_count`` says it then.
    audience: int | None
    #: False when ``key`` named an earlier send, which is returned instead of sending again.
    created: bool
    #: Why WeChat is off for this send (a field over its limit that cannot be shortened), else None.
    wechat_refused: str | None = None


@dataclass(frozen=True)
class Audience:
    """An audience query to run in a job rather than in the caller's transaction: the name a domain registered its
    builder under (``register_audience``) and the builder's arguments (plain JSON values).

    Copying a district-wide audience takes a second or more (the query itself, whatever the copy costs): a request
    that publishes to one passes this, records the delivery and returns; the job ``snapshot_audience`` builds the
    query, copies it into chunks and counts it (``SendReceipt.audience`` is then None).
    """

    name: str
    args: Mapping[str, Any]


_audiences: dict[str, Callable[..., sa.sql.expression.SelectBase]] = {}


def register_audience(name: str, build: Callable[..., sa.sql.expression.SelectBase]) -> None:
    """Register an audience builder: ``build(**args)`` returns a SELECT of one column of resident ids, as ``send``
    takes; ``send(event, Audience(name, args), …)`` runs it in a job."""
    existing = _audiences.get(name)
    if existing is not None and existing is not build:
        raise ValueError(f"push audience {name!r} is already registered")
    _audiences[name] = build


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
    event has them. Joins the caller's unit of work: a few residents are reached in it, more by jobs after it.

    :param event: a registered event name (``register_event``).
    :param recipients: resident ids, or a SELECT of one column of resident ids (an audience query: every 低保
        household of a street …), which runs once, inside ``INSERT … SELECT``, and is never loaded into Python; or an
        ``Audience`` (a registered builder and its arguments) to run in a job, for audiences too large to copy in a
        request.
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
    later = recipients if isinstance(recipients, Audience) else None
    if later is not None:
        if later.name not in _audiences:
            raise LookupError(f"push audience {later.name!r} is not registered")
        ids = None
    elif isinstance(recipients, sa.sql.expression.SelectBase):
        if len(recipients.selected_columns) != 1:
            raise ValueError("an audience query selects exactly one column: resident ids")
        ids = None
    elif isinstance(recipients, str | bytes):
        raise TypeError("recipients are resident ids or a SELECT of resident ids")
    else:
        ids = sorted({int(resident_id) for resident_id in recipients})
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
    job = outbox.registered_jobs()[fan_out.job_name]
    chunking = {"batch_size": _batch_size(), "job": job.name, "queue": job.queue}
    with atomic():
        if ids is not None and len(ids) <= current_app.config.get("PUSH_INLINE_AUDIENCE", 20):
            # A few ids (a message about one order, a booking …): delivered in this statement, no job.
            outside = _outside_params(values, now=utcnow(), about=f"{event} for {source_kind}:{source_id}")
            created = db.session.execute(
                _delivery_fanned_out(), {**values, **outside, "public_id": new_public_id(), "ids": ids}
            ).one_or_none()
        elif ids is not None:
            # A list of ids: the delivery, its count, its audience in chunks and their jobs in one statement built once.
            created = db.session.execute(
                _delivery_with_audience(), {**values, **chunking, "public_id": new_public_id(), "ids": ids}
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
                sa.select(
                    Delivery.public_id, Delivery.audience_count, Delivery.fanned_out_at, Delivery.wechat_refused
                ).where(Delivery.key == key)
            ).one()
            # An audience copied in a job that has not run yet is not known (None), as on the first call.
            copied = earlier.audience_count or earlier.fanned_out_at is not None
            audience = earlier.audience_count if copied else None
            return SendReceipt(earlier.public_id, audience, False, earlier.wechat_refused)
        if later is not None:
            delivery_id, public_id = created
            outbox.enqueue(
                snapshot_audience, delivery_id, later.name, dict(later.args), key=f"push:audience:{delivery_id}"
            )
            log.info(
                "push %s from %s:%s: audience %s copied in a job (delivery %s)",
                event,
                source_kind,
                source_id,
                later.name,
                delivery_id,
            )
            return SendReceipt(public_id, None, True, rendered.wechat_refused)
        if ids is not None:
            delivery_id, public_id, audience, _woken = created
        else:
            delivery_id, public_id = created
            # An audience query is counted as it is copied, never run twice.
            audience = db.session.execute(
                _audience_of_query(recipients), {**chunking, "delivery_id": delivery_id}
            ).scalar_one()
        log.info(
            "push %s from %s:%s to %s residents (delivery %s)", event, source_kind, source_id, audience, delivery_id
        )
        return SendReceipt(public_id, audience, True, rendered.wechat_refused)


def _batch_size() -> int:
    return max(1, int(current_app.config.get("PUSH_BATCH_SIZE", 2500)))


def _chunks_and_jobs(ranked: sa.CTE) -> tuple[sa.CTE, sa.CTE]:
    """From ``ranked`` (delivery_id, id, chunk: living residents of the audience, numbered in id order), the CTEs
    that write the chunks (RETURNING delivery_id, chunk, members) and one ``fan_out`` outbox row per chunk."""
    chunks_table, jobs_table = AudienceChunk.__table__, outbox.OutboxRow.__table__
    chunks = (
        pg_insert(chunks_table)
        .from_select(
            ["delivery_id", "chunk", "resident_ids"],
            sa.select(
                ranked.c.delivery_id, ranked.c.chunk, sa.func.array_agg(aggregate_order_by(ranked.c.id, ranked.c.id))
            ).group_by(ranked.c.delivery_id, ranked.c.chunk),
        )
        .returning(
            chunks_table.c.delivery_id,
            chunks_table.c.chunk,
            sa.func.cardinality(chunks_table.c.resident_ids).label("members"),
        )
        .cte("chunks")
    )
    jobs = (
        sa.insert(jobs_table)
        .from_select(
            ["job", "args", "queue", "key", "status", "attempts"],
            sa.select(
                sa.bindparam("job", type_=sa.String),
                sa.func.jsonb_build_array(chunks.c.delivery_id, chunks.c.chunk),
                sa.bindparam("queue", type_=sa.String),
                sa.func.concat("push:fan_out:", chunks.c.delivery_id, ":", chunks.c.chunk),
                sa.literal("pending", sa.String),
                sa.literal(0, sa.Integer),
            ),
        )
        .returning(jobs_table.c.id)
        .cte("jobs")
    )
    return chunks, jobs


def _chunk_number(residents: sa.Table) -> sa.ColumnElement[int]:
    """The chunk a resident falls in: ``PUSH_BATCH_SIZE`` residents a chunk, in id order (integer division)."""
    number = (sa.func.row_number().over(order_by=residents.c.id) - 1).self_group()
    return number.op("/", return_type=sa.Integer)(sa.bindparam("batch_size", type_=sa.Integer))


#: The columns of a delivery that ``send`` gives (the rest are counts and times the statements set).
_DELIVERY_COLUMNS = ("public_id", "event", "source_kind", "source_id", "key", "scope", "urgent", "title", "body")
_DELIVERY_COLUMNS += (
    "wechat_template_id",
    "wechat_data",
    "wechat_page",
    "wechat_refused",
    "sms_template",
    "sms_params",
)


@functools.cache
def _delivery_with_audience() -> sa.Select:
    """One statement, built once: the delivery (``INSERT … ON CONFLICT (key) DO NOTHING``) with its audience count
    (fanned out already when that is 0), its audience in chunks (the living residents among ``:ids``) and a
    ``fan_out`` outbox row per chunk. Answers (id, public id, audience count), or no row when the key named an
    earlier delivery."""
    deliveries, residents = Delivery.__table__, Resident.__table__
    living = sa.and_(
        residents.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.BigInteger))), residents.c.erased_at.is_(None)
    )
    count = sa.select(sa.func.count()).select_from(residents).where(living).scalar_subquery()
    names = _DELIVERY_COLUMNS
    delivery = (
        pg_insert(deliveries)
        .values(
            {
                **{deliveries.c[name]: sa.bindparam(name, type_=deliveries.c[name].type) for name in names},
                deliveries.c.audience_count: count,
                deliveries.c.fanned_out_at: sa.case((count == 0, sa.func.now())),
                # Python-side defaults are not applied to an INSERT inside a CTE: given here.
                deliveries.c.fan_out_jobs: 0,
                deliveries.c.fan_out_cursor: 0,
            }
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(deliveries.c.id, deliveries.c.public_id, deliveries.c.audience_count)
        .cte("delivery")
    )
    ranked = (
        sa.select(delivery.c.id.label("delivery_id"), residents.c.id, _chunk_number(residents).label("chunk"))
        .select_from(delivery)
        .join(residents, living)
        .cte("ranked")
    )
    chunks, jobs = _chunks_and_jobs(ranked)
    # The outbox rows were inserted set-based: wake the relay (at commit) in the same statement.
    wake = sa.case((delivery.c.audience_count > 0, sa.func.pg_notify(outbox.NOTIFY_CHANNEL, "")))
    return sa.select(delivery.c.id, delivery.c.public_id, delivery.c.audience_count, wake).add_cte(chunks, jobs)


def _audience_of_query(recipients: sa.SelectBase) -> sa.Select:
    """One statement: the audience query's living residents copied into chunks of ``:delivery_id``, a ``fan_out``
    outbox row per chunk, and the delivery's audience count (fanned out already when it is 0); answers the count."""
    deliveries, residents = Delivery.__table__, Resident.__table__
    delivery_id = sa.bindparam("delivery_id", type_=sa.BigInteger)
    ranked = (
        sa.select(delivery_id.label("delivery_id"), residents.c.id, _chunk_number(residents).label("chunk"))
        .where(residents.c.id.in_(recipients), residents.c.erased_at.is_(None))
        .cte("ranked")
    )
    chunks, jobs = _chunks_and_jobs(ranked)
    counted = (
        sa.update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(
            audience_count=sa.select(sa.func.coalesce(sa.func.sum(chunks.c.members), 0)).scalar_subquery(),
            fanned_out_at=sa.case((~sa.exists(sa.select(chunks.c.chunk)), sa.func.now())),
        )
        .returning(deliveries.c.audience_count)
        .cte("counted")
    )
    wake = sa.case((counted.c.audience_count > 0, sa.func.pg_notify(outbox.NOTIFY_CHANNEL, "")))
    return sa.select(counted.c.audience_count, wake).add_cte(jobs)


# --- fan-out (jobs) ------------------------------------------------------------------------------------------------

#: One chunk, one statement: take (delete) the chunk, resolve its residents to accounts, write inbox and unreachable
#: rows, the outside messages and their outbox rows. Data-modifying CTEs all see the same snapshot; ``taken`` feeds
#: ``live`` and ``inbox`` feeds ``outside`` through RETURNING.
_FAN_OUT = """
WITH {head},
live AS (
    SELECT r.id AS resident_id, r.user_id
    FROM taken t
    CROSS JOIN LATERAL unnest(t.resident_ids) AS b (resident_id)
    JOIN accounts_residents r ON r.id = b.resident_id AND r.erased_at IS NULL
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
    SELECT user_id, resident_id, {delivery}, via FROM reach
    ON CONFLICT (delivery_id, resident_id, user_id) DO NOTHING
    RETURNING id, user_id
),
unreachable AS (
    INSERT INTO push_unreachable (delivery_id, resident_id)
    SELECT {delivery}, l.resident_id FROM live l
    WHERE NOT EXISTS (SELECT 1 FROM reach WHERE reach.resident_id = l.resident_id)
    ON CONFLICT (delivery_id, resident_id) DO NOTHING
    RETURNING resident_id
),
accounts AS MATERIALIZED (
    -- The accounts just written to, each looked up by key. A CTE, so that the conditions below are not pushed into
    -- a scan of accounts_users: planned from the users with an openid (estimated at one), the join below ran the
    -- grants lookup for every such user times every inbox row (55 s for a chunk of 1,000).
    SELECT i.id, i.user_id, u.wechat_openid IS NOT NULL AS has_openid,
           u.phone IS NOT NULL AND u.phone_verified_at IS NOT NULL AS has_phone
    FROM inbox i JOIN accounts_users u ON u.id = i.user_id
),
outside AS (
    INSERT INTO push_messages (delivery_id, inbox_id, user_id, channel, status, due_at)
    SELECT DISTINCT ON (i.user_id, c.channel) {delivery}, i.id, i.user_id, c.channel, 'pending', c.due_at
    FROM accounts i
    CROSS JOIN (VALUES ('wechat', CAST(:now AS timestamptz)),
                       ('sms', CAST(:sms_due AS timestamptz))) AS c (channel, due_at)
    WHERE (c.channel = 'wechat' AND CAST(:wechat AS boolean) AND i.has_openid
           AND EXISTS (SELECT 1 FROM push_subscription_grants g
                       WHERE g.user_id = i.user_id AND g.template_id = :template_id AND g.remaining > 0))
       OR (c.channel = 'sms' AND CAST(:sms AS boolean) AND i.has_phone
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
{answer}
"""
_BATCH = sa.text(
    _FAN_OUT.format(
        head="""taken AS (
    DELETE FROM push_audience_chunks
    WHERE delivery_id = :delivery_id AND chunk = :chunk
    RETURNING resident_ids
)""",
        delivery=":delivery_id",
        answer="""SELECT (SELECT count(*) FROM taken) AS chunks,
       (SELECT coalesce(sum(cardinality(resident_ids)), 0) FROM taken) AS taken,
       (SELECT count(*) FROM inbox) AS inbox,
       (SELECT count(*) FROM unreachable) AS unreachable,
       (SELECT count(*) FROM outside) AS messages,
       (SELECT count(*) FROM jobs) AS jobs""",
    )
)


@functools.cache
def _delivery_fanned_out() -> sa.TextClause:
    """A small audience (a list of ids, at most ``PUSH_INLINE_AUDIENCE``) fanned out in the caller's statement: the
    delivery (``ON CONFLICT (key) DO NOTHING``), marked fanned out, and what one chunk's job writes (``_FAN_OUT``:
    inbox, unreachable and outside messages with their outbox rows, the relay woken when there are any). A message
    about one order or booking then costs the request one statement and no job (a job cost the workers more CPU than
    the order itself). Answers (id, public id, audience count), or no row when the key named an earlier delivery."""
    deliveries = Delivery.__table__
    names = ", ".join(_DELIVERY_COLUMNS)
    values = ", ".join(f":{name}" for name in _DELIVERY_COLUMNS)
    # Built from the constants above, never from input.
    head = f"""delivery AS (
    INSERT INTO push_deliveries ({names}, audience_count, fan_out_jobs, fan_out_cursor, fanned_out_at)
    VALUES ({values},
            (SELECT count(*) FROM accounts_residents WHERE id = ANY (:ids) AND erased_at IS NULL), 0, 0, now())
    ON CONFLICT (key) DO NOTHING
    RETURNING id, public_id, audience_count
),
taken AS (SELECT CAST(:ids AS bigint[]) AS resident_ids FROM delivery)"""  # noqa: S608
    answer = f"""SELECT d.id, d.public_id, d.audience_count,
       CASE WHEN EXISTS (SELECT 1 FROM jobs) THEN pg_notify('{outbox.NOTIFY_CHANNEL}', '') END AS woken
FROM delivery d"""  # noqa: S608
    typed = [sa.bindparam(name, type_=deliveries.c[name].type) for name in _DELIVERY_COLUMNS]
    typed.append(sa.bindparam("ids", type_=ARRAY(sa.BigInteger)))
    statement = _FAN_OUT.format(head=head, delivery="(SELECT id FROM delivery)", answer=answer)
    return sa.text(statement).bindparams(*typed)


def _outside_params(delivery: Mapping[str, Any], *, now: datetime, about: str) -> dict[str, Any]:
    """The parameters of ``_FAN_OUT`` that say which outside messages to write and how to queue them, from a
    delivery's columns (``_DELIVERY_COLUMNS``: the values ``send`` inserts, or a ``Delivery`` row's); ``about`` names
    the send in the warning logged when WeChat is not configured."""
    config = current_app.config
    wechat = delivery["wechat_data"] is not None and wechat_configured()
    if delivery["wechat_data"] is not None and not wechat:
        log.warning("push %s: WeChat is not configured, subscribe messages skipped", about)
    spec = outbox.registered_jobs()[channels.send_message.job_name]
    return {
        "scope": delivery["scope"],
        "event": delivery["event"],
        "now": now,
        "sms_due": channels.sms_due_at(now, urgent=delivery["urgent"]),
        "wechat": wechat,
        "template_id": delivery["wechat_template_id"],
        "sms": delivery["sms_template"] is not None,
        "job": spec.name,
        "wechat_job": channels.send_wechat_batch.job_name,
        "wechat_batch": max(1, int(config.get("PUSH_WECHAT_BATCH", channels.DEFAULT_WECHAT_BATCH))),
        "queue": spec.queue,
    }


def wechat_configured() -> bool:
    config = current_app.config
    return bool(config.get("WECHAT_MINI_APPID") and config.get("WECHAT_MINI_SECRET"))


def fan_out_batches(delivery: Delivery, *, chunks: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Fan out chunks of the delivery's audience, one statement each: ``chunks``, or every chunk left when None.

    :param now: the time the fan-out runs at (SMS quiet hours are judged from it).
    :return: how many of the chunks this call took (a chunk already taken, by an earlier run of its job, is skipped).
    """
    if chunks is None:
        chunks = db.session.scalars(
            sa.select(AudienceChunk.chunk).where(AudienceChunk.delivery_id == delivery.id).order_by(AudienceChunk.chunk)
        ).all()
    columns = {name: getattr(delivery, name) for name in _DELIVERY_COLUMNS}
    params = _outside_params(columns, now=now or utcnow(), about=f"delivery {delivery.id}")
    params["delivery_id"] = delivery.id
    totals = {"chunks": 0, "taken": 0, "inbox": 0, "unreachable": 0, "messages": 0, "jobs": 0}
    for chunk in chunks:
        row = db.session.execute(_BATCH, {**params, "chunk": chunk}).one()
        for name in totals:
            totals[name] += getattr(row, name)
    if totals["jobs"]:
        outbox.wake_relay()  # these rows were inserted set-based, not by enqueue()
    log.info(
        "push delivery %s: %s chunks, %s residents fanned out, %s inbox rows, %s unreachable, %s outside messages"
        " in %s jobs",
        delivery.id,
        totals["chunks"],
        totals["taken"],
        totals["inbox"],
        totals["unreachable"],
        totals["messages"],
        totals["jobs"],
    )
    return totals["chunks"]


def _finish(delivery_id: int, chunks: int) -> None:
    """Count the chunks a job took, and mark the delivery fanned out once no chunk is left.

    Every job takes the delivery's row lock here, last: when it holds it, any chunk another job deleted is either
    committed (gone from this statement's snapshot) or that job has not reached this lock yet, and will find this
    job's chunk gone when it does. So exactly one job, the last, marks the delivery.
    """
    deliveries = Delivery.__table__
    db.session.execute(
        sa.update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(fan_out_jobs=deliveries.c.fan_out_jobs + chunks)
    )
    left = sa.select(AudienceChunk.chunk).where(AudienceChunk.delivery_id == delivery_id).exists()
    db.session.execute(
        sa.update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.fanned_out_at.is_(None), ~left)
        .values(fanned_out_at=sa.func.clock_timestamp())
    )


#: work_mem while an audience is copied (a constant, never input).
_SNAPSHOT_WORK_MEM = "32MB"


@outbox.job(queue="push", timeout=600)
def snapshot_audience(delivery_id: int, name: str, args: dict[str, Any]) -> None:
    """Copy an ``Audience`` into the delivery's chunks, enqueue their fan-out jobs and count it; once only (the
    delivery's row lock, and a delivery with chunks, jobs run or fanned out is left alone)."""
    delivery = db.session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
    if delivery is None or delivery.fanned_out_at is not None or delivery.fan_out_jobs:
        return
    if db.session.scalar(sa.select(sa.exists().where(AudienceChunk.delivery_id == delivery_id))):
        return
    job = outbox.registered_jobs()[fan_out.job_name]
    chunking = {"batch_size": _batch_size(), "job": job.name, "queue": job.queue, "delivery_id": delivery_id}
    # The copy sorts the audience twice (id order, then chunks): for a district, 100,000 rows that spilled to disk
    # under the default 4 MB (0.4 s → 0.26 s with this). For this transaction only.
    db.session.execute(sa.text(f"SET LOCAL work_mem = '{_SNAPSHOT_WORK_MEM}'"))
    audience = db.session.execute(_audience_of_query(_audiences[name](**args)), chunking).scalar_one()
    log.info("push delivery %s: audience %s copied, %s residents", delivery_id, name, audience)


@outbox.job(queue="push", timeout=300)
def fan_out(delivery_id: int, chunk: int | None = None) -> None:
    """Fan out one chunk of a delivery's audience; with no chunk, every chunk left (jobs enqueued before the audience
    was kept in chunks, and callers in-process). Running it again writes nothing twice.

    The delivery's row is locked FOR KEY SHARE first: chunk jobs of one delivery run side by side, while ``retract``
    (FOR UPDATE, then the chunks) waits for those under way and the rest find the delivery fanned out. Everyone
    locks the delivery before its chunks, so no two wait on each other.
    """
    delivery = db.session.get(
        Delivery, delivery_id, with_for_update={"read": True, "key_share": True}, populate_existing=True
    )
    if delivery is None or delivery.fanned_out_at is not None:
        return
    taken = fan_out_batches(delivery, chunks=None if chunk is None else [chunk])
    if taken or chunk is None:
        _finish(delivery_id, taken)
