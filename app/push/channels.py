"""Outside channels: WeChat subscribe messages (one-time grants) and SMS (preferences, quiet hours, per-phone limit).

Each ``push_messages`` row is sent by one ``send_message`` job from the queue ``push``. A call that may succeed later
(WeChat busy or unreachable, the SMS gateway down) raises :class:`SendFailed`: the job's transaction rolls back (a
grant spent for it is given back) and the outbox retries it with its back-off, counting attempts on the outbox row
``push:message:<id>``. A refusal that no retry can change (no grant left, the user refused the subscription, an
invalid openid or field) is recorded on the message, and the job ends.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

import requests
import sqlalchemy as sa
from flask import current_app

from app import outbox
from app.accounts.models import User
from app.api import SHANGHAI
from app.db import utcnow
from app.extensions import db
from app.push.errors import SendFailed
from app.push.models import Delivery, Message, MessageStatus, Preference, SubscriptionGrant
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
