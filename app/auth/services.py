"""Signing in with the WeChat mini-program, an SMS code or (demo mode) nothing; binding a verified phone.

Username and password logins are in :mod:`app.auth.passwords`. Every public function is one unit of work. Where a
failure must still be counted (a wrong SMS code), the function records it inside its ``atomic()`` block, lets the
block commit, and raises afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.accounts.models import User
from app.api import SHANGHAI
from app.auth import errors
from app.auth.linking import PhoneBinding, bind_verified_phone
from app.auth.models import LoginMethod, SmsCode
from app.auth.phones import normalise_phone
from app.auth.sessions import Tokens, login
from app.db import atomic, utcnow
from app.errors import NotFound
from app.extensions import db
from app.sms import SmsError, get_sender
from app.wechat import WeChatClientException, WeChatNotConfigured, mini_program_client

log = logging.getLogger(__name__)

SMS_CODE_TTL = timedelta(minutes=5)
SMS_RESEND_AFTER = timedelta(seconds=60)
SMS_DAILY_LIMIT = 10
SMS_MAX_ATTEMPTS = 5
#: Namespace for pg_advisory_xact_lock(namespace, key): one SMS send at a time per phone.
_LOCK_SMS = 7301
#: WeChat error codes that mean "this code is no good" (invalid, already used), not "WeChat is down".
_BAD_CODE_ERRCODES = {40029, 40163}
_RATE_LIMITED_ERRCODE = 45011


@dataclass
class PhoneBound:
    """Result of binding a phone: the account holding it, and new tokens when the caller became another account."""

    user: User
    linked: bool
    tokens: Tokens | None


def _advisory_lock(namespace: int, key: str) -> None:
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(namespace, sa.func.hashtext(key))))


def _client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


# --- WeChat mini-program -------------------------------------------------------------------------------------


def _wechat_call(call, *, bad_code: type[errors.APIError]):
    import requests  # with wechatpy, on first use (#12)

    try:
        client = mini_program_client()
    except WeChatNotConfigured:
        raise errors.WeChatNotEnabled() from None
    try:
        return client, call(client)
    except WeChatClientException as error:
        if error.errcode in _BAD_CODE_ERRCODES:
            raise bad_code(details={"errcode": error.errcode}) from None
        if error.errcode == _RATE_LIMITED_ERRCODE:
            raise errors.TooManyRequests(retry_after=60) from None
        log.warning("WeChat API error %s: %s", error.errcode, error.errmsg)
        raise errors.WeChatUnavailable(details={"errcode": error.errcode}) from None
    except (requests.RequestException, ValueError) as error:
        log.warning("WeChat API unreachable: %s", error)
        raise errors.WeChatUnavailable() from None


def _wechat_user(openid: str, unionid: str | None) -> tuple[User, bool]:
    """The account for this WeChat identity, by unionid when WeChat gives one, else by openid; created on first
    login. Fills in whichever of the two the account lacks."""
    user = None
    if unionid:
        user = db.session.scalar(sa.select(User).where(User.wechat_unionid == unionid).with_for_update())
    if user is None:
        user = db.session.scalar(sa.select(User).where(User.wechat_openid == openid).with_for_update())
    if user is not None:
        if unionid and user.wechat_unionid is None:
            user.wechat_unionid = unionid
        if user.wechat_openid is None and not db.session.scalar(
            sa.select(sa.exists().where(User.wechat_openid == openid))
        ):
            user.wechat_openid = openid
        return user, False
    # Two first logins at once: one insert wins, the other finds its row.
    created_id = db.session.execute(
        pg_insert(User)
        .values(display_name="微信用户", wechat_openid=openid, wechat_unionid=unionid)
        .on_conflict_do_nothing()
        .returning(User.id)
    ).scalar()
    if created_id is None:
        return _wechat_user(openid, unionid)
    log.info("user %s created by WeChat login", created_id)
    return db.session.get(User, created_id), True


def wechat_login(code: str) -> Tokens:
    """Sign in with a ``wx.login()`` code: code2session at WeChat, then the account by unionid/openid.

    :raises WeChatNotEnabled: no mini-program is configured here (404).
    :raises WeChatCodeInvalid: WeChat refused the code (invalid or already used).
    :raises WeChatUnavailable: WeChat could not be reached or answered an unexpected error.
    """
    _client, session = _wechat_call(lambda c: c.wxa.code_to_session(code), bad_code=errors.WeChatCodeInvalid)
    openid = session.get("openid") if isinstance(session, dict) else None
    if not openid:
        raise errors.WeChatUnavailable()
    with atomic():
        user, created = _wechat_user(openid, session.get("unionid") or None)
        return login(user, LoginMethod.wechat, created=created)


def _bound(binding: PhoneBinding, method: LoginMethod) -> PhoneBound:
    tokens = login(binding.user, method) if binding.switched else None
    return PhoneBound(user=binding.user, linked=binding.absorbed is not None, tokens=tokens)


def wechat_bind_phone(user: User, code: str) -> PhoneBound:
    """Bind the phone WeChat verified (``getPhoneNumber`` button code) to ``user``; links accounts sharing it.

    :raises WeChatPhoneCodeInvalid:
    :raises InvalidPhone: not a mainland mobile number.
    :raises PhoneBoundToOtherAccount: see :mod:`app.auth.linking`.
    """
    client, result = _wechat_call(lambda c: c.wxa.get_phone_number(code), bad_code=errors.WeChatPhoneCodeInvalid)
    info = result.get("phone_info") if isinstance(result, dict) else None
    if not isinstance(info, dict) or not info.get("purePhoneNumber"):
        raise errors.WeChatUnavailable()
    watermark = info.get("watermark") or {}
    if watermark.get("appid") != client.appid:
        log.warning("WeChat phone number for another appid: %s", watermark.get("appid"))
        raise errors.WeChatUnavailable()
    phone = normalise_phone(f"+{info.get('countryCode') or '86'}{info['purePhoneNumber']}")
    with atomic():
        return _bound(bind_verified_phone(user, phone), LoginMethod.wechat)


# --- SMS codes -----------------------------------------------------------------------------------------------


def _code_hash(phone: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _shanghai_day_bounds(now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(SHANGHAI)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def send_sms_code(raw_phone: str) -> dict[str, int]:
    """Send a 6-digit login code, valid 5 minutes. At most one per 60 s and 10 per day (Asia/Shanghai) per phone,
    counted in PostgreSQL. A failed send is not counted.

    :raises InvalidPhone:
    :raises SmsTooFrequent:
    :raises SmsDailyLimit:
    :raises SmsUnavailable: the SMS backend refused the message.
    """
    phone = normalise_phone(raw_phone)
    with atomic():
        _advisory_lock(_LOCK_SMS, phone)  # concurrent sends for one phone are counted one after the other
        now = db.session.scalar(sa.select(sa.func.now()))
        day_start, day_end = _shanghai_day_bounds(now)
        last_sent, sent_today = db.session.execute(
            sa.select(
                sa.func.max(SmsCode.sent_at),
                sa.func.count().filter(SmsCode.sent_at >= day_start),
            ).where(SmsCode.phone == phone)
        ).one()
        if last_sent is not None and now - last_sent < SMS_RESEND_AFTER:
            wait = (SMS_RESEND_AFTER - (now - last_sent)).total_seconds()
            raise errors.SmsTooFrequent(retry_after=int(wait) + 1)
        if sent_today >= SMS_DAILY_LIMIT:
            raise errors.SmsDailyLimit(retry_after=int((day_end - now).total_seconds()) + 1)
        code = f"{secrets.randbelow(1_000_000):06d}"
        db.session.add(
            SmsCode(
                phone=phone,
                code_hash=_code_hash(phone, code),
                sent_at=now,
                expires_at=now + SMS_CODE_TTL,
                ip=_client_ip(),
            )
        )
        db.session.flush()
        minutes = int(SMS_CODE_TTL.total_seconds() // 60)
        try:
            get_sender().send(phone, "login_code", {"code": code, "minutes": minutes})
        except SmsError as error:
            log.warning("SMS login code not sent: %s", error)
            raise errors.SmsUnavailable() from None
        return {"expires_in": int(SMS_CODE_TTL.total_seconds()), "resend_after": int(SMS_RESEND_AFTER.total_seconds())}


@dataclass
class _CodeCheck:
    ok: bool
    error: errors.APIError | None = None


def _check_sms_code(phone: str, code: str) -> _CodeCheck:
    """Spend one try on the latest code sent to ``phone`` (helper: flushes only; the try counts even when wrong)."""
    latest = (
        sa.select(SmsCode.id)
        .where(SmsCode.phone == phone)
        .order_by(SmsCode.sent_at.desc(), SmsCode.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    now = sa.func.now()
    tried = db.session.execute(
        sa.update(SmsCode)
        .where(
            SmsCode.id == latest,
            SmsCode.used_at.is_(None),
            SmsCode.attempts < SMS_MAX_ATTEMPTS,
            SmsCode.expires_at > now,
        )
        .values(attempts=SmsCode.attempts + 1)
        .returning(SmsCode.id, SmsCode.code_hash, SmsCode.attempts)
    ).one_or_none()
    if tried is None:
        row = db.session.execute(sa.select(SmsCode.used_at, SmsCode.attempts).where(SmsCode.id == latest)).first()
        if row is None:
            reason = "not_sent"
        elif row.used_at is not None:
            reason = "used"
        elif row.attempts >= SMS_MAX_ATTEMPTS:
            reason = "too_many_attempts"
        else:
            reason = "expired"
        return _CodeCheck(False, errors.SmsCodeExpired(details={"reason": reason}))
    if not hmac.compare_digest(tried.code_hash, _code_hash(phone, code)):
        remaining = SMS_MAX_ATTEMPTS - tried.attempts
        if remaining <= 0:
            return _CodeCheck(False, errors.SmsCodeExpired(details={"reason": "too_many_attempts"}))
        return _CodeCheck(False, errors.SmsCodeInvalid(details={"remaining_attempts": remaining}))
    claimed = db.session.execute(
        sa.update(SmsCode)
        .where(SmsCode.id == tried.id, SmsCode.used_at.is_(None))
        .values(used_at=now)
        .returning(SmsCode.id)
    ).scalar()
    if claimed is None:  # a concurrent request with the same code won
        return _CodeCheck(False, errors.SmsCodeExpired(details={"reason": "used"}))
    return _CodeCheck(True)


def _phone_user(phone: str) -> tuple[User, bool]:
    user = db.session.scalar(sa.select(User).where(User.phone == phone).with_for_update())
    if user is not None:
        return user, False
    created_id = db.session.execute(
        pg_insert(User)
        .values(display_name=f"用户{phone[-4:]}", phone=phone, phone_verified_at=sa.func.now())
        .on_conflict_do_nothing()
        .returning(User.id)
    ).scalar()
    if created_id is None:
        return _phone_user(phone)
    log.info("user %s created by SMS login", created_id)
    return db.session.get(User, created_id), True


def sms_login(raw_phone: str, code: str) -> Tokens:
    """Sign in (or sign up) with a phone and the code sent to it.

    :raises SmsCodeInvalid: wrong code; ``details.remaining_attempts`` tries are left.
    :raises SmsCodeExpired: no live code (expired, used, 5 wrong tries, never sent); ``details.reason`` says which.
    """
    phone = normalise_phone(raw_phone)
    with atomic():
        check = _check_sms_code(phone, code)
        if check.ok:
            user, created = _phone_user(phone)
            user.phone_verified_at = utcnow()
            return login(user, LoginMethod.sms, created=created)
    raise check.error


def sms_bind_phone(user: User, raw_phone: str, code: str) -> PhoneBound:
    """Bind a phone verified by SMS code to the signed-in ``user``; links accounts sharing it."""
    phone = normalise_phone(raw_phone)
    with atomic():
        check = _check_sms_code(phone, code)
        if check.ok:
            return _bound(bind_verified_phone(user, phone), LoginMethod.sms)
    raise check.error


# --- demo mode -----------------------------------------------------------------------------------------------


def dev_login(*, user_public_id: str | None = None, phone: str | None = None) -> Tokens:
    """Sign in as any account without credentials (demo mode only; the route does not exist otherwise).

    :raises NotFound: no account with that public id.
    """
    with atomic():
        if user_public_id is not None:
            user = db.session.scalar(sa.select(User).where(User.public_id == user_public_id))
            if user is None:
                raise NotFound("账号不存在")
            created = False
        else:
            user, created = _phone_user(normalise_phone(phone))
        log.warning("demo login as user %s", user.id)
        return login(user, LoginMethod.dev, created=created)
