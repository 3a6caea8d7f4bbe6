"""Outside channels: WeChat subscribe messages (one-time grants) and SMS (preferences, quiet hours, per-phone limit).

Each SMS, and each WeChat message being retried, is sent by one ``send_message`` job from the queue ``push``. A call
that may succeed later (WeChat busy or unreachable, the SMS gateway down) raises :class:`SendFailed`: the job's
transaction rolls back (a grant spent for it is given back) and the outbox retries it with its back-off, counting
attempts on the outbox row ``push:message:<id>``. A refusal that no retry can change (no grant left, the user refused
the subscription, an invalid openid or field) is recorded on the message, and the job ends.

WeChat subscribe messages leave the fan-out in batches (``send_wechat_batch``, up to ``PUSH_WECHAT_BATCH`` messages a
job): WeChat answers each call in tens of milliseconds, and one call per job left a worker waiting most of the time
(about 40 messages/s with 2 workers against a 20 ms WeChat, and 18 ms of worker CPU per message). The batch spends the
grants in its transaction, set-based, then makes the calls ``PUSH_SEND_CONCURRENCY`` at a time from a thread pool (the
threads only call WeChat; every database write stays in the job's thread), and records the answers set-based as
``send_message`` would. A message WeChat could not take now gets its grant back and is handed to its own
``send_message`` job (outbox row ``push:message:<id>``, first attempt counted, due after the first back-off), which
retries it from there.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app import outbox
from app.accounts.models import User
from app.api import SHANGHAI
from app.db import utcnow
from app.extensions import db
from app.push.errors import SendFailed
from app.push.models import Delivery, Message, MessageStatus, Preference, SubscriptionGrant, outbox_key
from app.sms import SmsError, get_sender
from app.wechat import WeChatClientException, WeChatNotConfigured, mini_program_client

log = logging.getLogger(__name__)

#: SMS quiet hours in Asia/Shanghai: a non-urgent SMS due inside them waits until QUIET_END.
QUIET_START = time(22, 0)
QUIET_END = time(7, 0)

#: WeChat answers that no retry can change (subscribeMessage.send): invalid openid, template or page, the user
#: refused (or has no subscription left), a field WeChat refuses.
PERMANENT_WECHAT_ERRORS = {40003, 40037, 41030, 43101, 47003}
USER_REFUSED = 43101

#: Namespace for pg_advisory_xact_lock(namespace, key): SMS to one phone are counted one after the other.
_LOCK_SMS = 7302

#: WeChat calls one batch job has in flight at most (``PUSH_SEND_CONCURRENCY``): the size of the HTTP client's
#: connection pool per host (requests keeps 10), so no connection is opened and thrown away per call.
DEFAULT_SEND_CONCURRENCY = 10
#: Subscribe messages per batch job (``PUSH_WECHAT_BATCH``): the fan-out writes one job per this many.
DEFAULT_WECHAT_BATCH = 100


def sms_due_at(now: datetime, *, urgent: bool) -> datetime:
    """When an SMS created at ``now`` may go out: at once, or (non-urgent, 22:00–07:00 Asia/Shanghai) at 07:00."""
    if urgent:
        return now
    local = now.astimezone(SHANGHAI)
    if QUIET_END <= local.time() < QUIET_START:
        return now
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, tzinfo=SHANGHAI)


@outbox.job(queue="push", timeout=60)
def send_message(message_id: int) -> None:
    """Send one outside message; runs inside the outbox row's transaction."""
    message = db.session.get(Message, message_id, with_for_update=True, populate_existing=True)
    if message is None or message.status is not MessageStatus.pending:
        return
    delivery = db.session.get(Delivery, message.delivery_id)
    user = db.session.get(User, message.user_id)
    if message.channel == "wechat":
        _send_wechat(message, delivery, user)
    else:
        _send_sms(message, delivery, user)


def _finish(message: Message, status: MessageStatus, reason: str | None = None, error: str | None = None) -> None:
    message.status, message.reason = status, reason
    message.error = error[:500] if error else None
    if status is MessageStatus.sent:
        message.sent_at = utcnow()
    log.info("push message %s (%s, user %s): %s %s", message.id, message.channel, message.user_id, status.value, reason)


def _grants(user_id: int, template_id: str):
    return sa.update(SubscriptionGrant).where(
        SubscriptionGrant.user_id == user_id, SubscriptionGrant.template_id == template_id
    )


def _send_wechat(message: Message, delivery: Delivery, user: User) -> None:
    import requests  # with wechatpy, on first use (#12)

    if not user.is_active or not user.wechat_openid:
        return _finish(message, MessageStatus.skipped, "no_openid")
    # Spend one grant with a conditional UPDATE: concurrent sends to one account queue on the row, and each sees
    # the count the previous one left; never read the count and write it back.
    spent = db.session.execute(
        _grants(user.id, delivery.wechat_template_id)
        .where(SubscriptionGrant.remaining > 0)
        .values(remaining=SubscriptionGrant.remaining - 1, updated_at=sa.func.now())
        .returning(SubscriptionGrant.id)
    ).scalar()
    if spent is None:
        return _finish(message, MessageStatus.skipped, "no_grant")
    try:
        mini_program_client().wxa.send_subscribe_message(
            user.wechat_openid, delivery.wechat_template_id, delivery.wechat_data, page=delivery.wechat_page
        )
    except WeChatNotConfigured:
        _give_back(user.id, delivery.wechat_template_id)
        return _finish(message, MessageStatus.failed, "wechat_not_configured")
    except WeChatClientException as error:
        if error.errcode not in PERMANENT_WECHAT_ERRORS:
            raise SendFailed(f"WeChat answered {error.errcode}: {error.errmsg}") from error
        if error.errcode == USER_REFUSED:
            # The user turned the subscription off in WeChat: whatever we counted is gone.
            db.session.execute(_grants(user.id, delivery.wechat_template_id).values(remaining=0))
        else:
            _give_back(user.id, delivery.wechat_template_id)  # WeChat refused the message, the grant is unspent
        return _finish(message, MessageStatus.failed, f"wechat_{error.errcode}", str(error.errmsg))
    except requests.RequestException as error:
        raise SendFailed(f"WeChat unreachable: {type(error).__name__}") from error
    _finish(message, MessageStatus.sent)


def _mark(ids: list[int], status: MessageStatus, reason: str | None = None, error: str | None = None) -> None:
    """Record one outcome for many messages of a batch in one statement."""
    if not ids:
        return
    table = Message.__table__
    values: dict = {"status": status, "reason": reason, "error": error[:500] if error else None}
    if status is MessageStatus.sent:
        values["sent_at"] = sa.func.now()
    db.session.execute(sa.update(table).where(table.c.id.in_(ids)).values(**values))


def _retry_alone(message_id: int, reason: str) -> None:
    """Hand a message WeChat could not take now to its own ``send_message`` job, this attempt counted on its outbox
    row (the staff's record of the send shows it retrying, with the error), due after the first back-off."""
    row_id = outbox.enqueue(
        send_message, message_id, delay=timedelta(seconds=outbox.BACKOFF[0]), key=outbox_key(message_id)
    )
    if row_id is not None:
        db.session.execute(
            sa.update(outbox.OutboxRow).where(outbox.OutboxRow.id == row_id).values(attempts=1, last_error=reason)
        )


@outbox.job(queue="push", timeout=300)
def send_wechat_batch(message_ids: list[int]) -> None:
    """Send a batch of WeChat subscribe messages, ``PUSH_SEND_CONCURRENCY`` calls at a time; runs inside the outbox
    row's transaction. Set-based around the calls: a few statements per batch, not per message. A message locked by
    another job (its own retry) is left to that job."""
    import requests  # with wechatpy, on first use (#12)

    table, grants = Message.__table__, SubscriptionGrant.__table__
    rows = db.session.execute(
        sa.select(table.c.id, table.c.user_id, table.c.delivery_id)
        .where(table.c.id.in_(message_ids), table.c.channel == "wechat", table.c.status == MessageStatus.pending)
        .order_by(table.c.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return
    deliveries = {
        d.id: d for d in db.session.scalars(sa.select(Delivery).where(Delivery.id.in_({r.delivery_id for r in rows})))
    }
    openids = dict(
        db.session.execute(
            sa.select(User.id, User.wechat_openid).where(
                User.id.in_({r.user_id for r in rows}), User.is_active, User.wechat_openid.is_not(None)
            )
        ).all()
    )
    first: dict[tuple[int, str], Any] = {}  # one message per account and template spends a grant here
    later: list[int] = []  # a second one in the same batch goes alone, after this batch
    for row in rows:
        if row.user_id in openids:
            key = (row.user_id, deliveries[row.delivery_id].wechat_template_id)
            if key in first:
                later.append(row.id)
            else:
                first[key] = row
    _mark([row.id for row in rows if row.user_id not in openids], MessageStatus.skipped, "no_openid")
    spent: set[tuple[int, str]] = set()
    if first:
        # Lock the grants in one order, then spend one each: concurrent batches queue on the rows, never deadlock,
        # and each sees the count the previous one left (never read the count and write it back).
        pairs = sa.tuple_(grants.c.user_id, grants.c.template_id).in_(list(first))
        db.session.execute(
            sa.select(grants.c.id).where(pairs).order_by(grants.c.user_id, grants.c.template_id).with_for_update()
        )
        spent = {
            (user_id, template_id)
            for user_id, template_id in db.session.execute(
                sa.update(grants)
                .where(pairs, grants.c.remaining > 0)
                .values(remaining=grants.c.remaining - 1, updated_at=sa.func.now())
                .returning(grants.c.user_id, grants.c.template_id)
            )
        }
    _mark([row.id for key, row in first.items() if key not in spent], MessageStatus.skipped, "no_grant")
    calls = [(row, deliveries[row.delivery_id], openids[row.user_id]) for key, row in first.items() if key in spent]
    for message_id in later:
        outbox.enqueue(send_message, message_id, key=outbox_key(message_id))
    if not calls:
        return
    try:
        client = mini_program_client()
    except WeChatNotConfigured:
        for row, delivery, _openid in calls:
            _give_back(row.user_id, delivery.wechat_template_id)
        _mark([row.id for row, _d, _o in calls], MessageStatus.failed, "wechat_not_configured")
        return
    # The access token is fetched once here, not by every thread at once; if that fails, each call below tries again
    # and fails or retries on its own.
    with contextlib.suppress(WeChatClientException, requests.RequestException):
        client.access_token  # noqa: B018
    app = current_app._get_current_object()

    def call(item: tuple[Any, Delivery, str]) -> Exception | None:
        _row, delivery, openid = item
        with app.app_context():  # the token storage reads Redis through the app; no database work here
            try:
                client.wxa.send_subscribe_message(
                    openid, delivery.wechat_template_id, delivery.wechat_data, page=delivery.wechat_page
                )
            except Exception as error:  # one odd answer must not resend the whole batch
                return error
        return None

    concurrency = max(1, int(current_app.config.get("PUSH_SEND_CONCURRENCY", DEFAULT_SEND_CONCURRENCY)))
    with ThreadPoolExecutor(min(concurrency, len(calls)), thread_name_prefix="push-wechat") as pool:
        answers = list(pool.map(call, calls))
    sent, retried = [], 0
    for (row, delivery, _openid), error in zip(calls, answers, strict=True):
        template_id = delivery.wechat_template_id
        if error is None:
            sent.append(row.id)
        elif isinstance(error, WeChatClientException) and error.errcode in PERMANENT_WECHAT_ERRORS:
            if error.errcode == USER_REFUSED:
                db.session.execute(_grants(row.user_id, template_id).values(remaining=0))
            else:
                _give_back(row.user_id, template_id)  # WeChat refused the message, the grant is unspent
            _mark([row.id], MessageStatus.failed, f"wechat_{error.errcode}", str(error.errmsg))
        else:
            _give_back(row.user_id, template_id)
            if isinstance(error, WeChatClientException):
                reason = f"WeChat answered {error.errcode}: {error.errmsg}"
            else:
                reason = f"WeChat unreachable: {type(error).__name__}"
            _retry_alone(row.id, reason)
            log.warning("push message %s (wechat, user %s): %s; retrying alone", row.id, row.user_id, reason)
            retried += 1
    _mark(sent, MessageStatus.sent)
    log.info(
        "push wechat batch of %s: %s sent, %s retrying alone, %s not sent",
        len(rows),
        len(sent),
        retried,
        len(rows) - len(sent) - retried,
    )


def _give_back(user_id: int, template_id: str) -> None:
    db.session.execute(_grants(user_id, template_id).values(remaining=SubscriptionGrant.remaining + 1))


def _send_sms(message: Message, delivery: Delivery, user: User) -> None:
    phone = user.phone if user.is_active and user.phone_verified_at else None
    if not phone:
        return _finish(message, MessageStatus.skipped, "no_phone")
    preference = db.session.get(Preference, (user.id, delivery.event))
    if preference is not None and not preference.sms:
        return _finish(message, MessageStatus.skipped, "opted_out")
    if _over_phone_limit(phone):
        return _finish(message, MessageStatus.skipped, "rate_limited")
    try:
        get_sender().send(phone, delivery.sms_template, delivery.sms_params or {})
    except SmsError as error:
        raise SendFailed(f"SMS not sent: {error}") from error
    message.address = phone
    _finish(message, MessageStatus.sent)


def _over_phone_limit(phone: str) -> bool:
    """Whether the phone already had its share of push SMS this hour or this Asia/Shanghai day.

    Counted in PostgreSQL (limits that protect people must hold while Redis is down), under a per-phone advisory
    lock so two jobs for one phone count one after the other.
    """
    config = current_app.config
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_SMS, sa.func.hashtext(phone))))
    now = db.session.scalar(sa.select(sa.func.now()))
    day_start = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    hour_start = now - timedelta(hours=1)
    last_hour, today = db.session.execute(
        sa.select(
            sa.func.count().filter(Message.sent_at >= hour_start),
            sa.func.count().filter(Message.sent_at >= day_start),
        ).where(
            Message.channel == "sms",
            Message.status == MessageStatus.sent,
            Message.address == phone,
            Message.sent_at >= min(day_start, hour_start),
        )
    ).one()
    return last_hour >= int(config.get("PUSH_SMS_PER_PHONE_HOUR", 5)) or today >= int(
        config.get("PUSH_SMS_PER_PHONE_DAY", 20)
    )
