"""Errors of login and sessions: stable codes, Chinese messages."""

from __future__ import annotations

from app.errors import APIError, Conflict, NotFound, ServiceUnavailable, Unauthenticated


class TooManyRequests(APIError):
    status, code, message = 429, "rate_limited", "请求过于频繁，请稍后再试"

    def __init__(self, message: str | None = None, *, retry_after: int, details: dict | None = None) -> None:
        retry_after = max(int(retry_after), 1)
        super().__init__(
            message, details={"retry_after": retry_after, **(details or {})}, headers={"Retry-After": str(retry_after)}
        )


class InvalidPhone(APIError):
    status, code, message = 422, "phone_invalid", "请输入有效的中国大陆手机号"


class SmsTooFrequent(TooManyRequests):
    code, message = "sms_too_frequent", "验证码发送过于频繁，请稍后再试"


class SmsDailyLimit(TooManyRequests):
    code, message = "sms_daily_limit", "该手机号今日获取验证码次数已达上限，请明天再试"


class SmsUnavailable(ServiceUnavailable):
    code, message = "sms_unavailable", "短信发送失败，请稍后再试"


class SmsCodeInvalid(APIError):
    status, code, message = 400, "sms_code_invalid", "验证码错误"


class SmsCodeExpired(APIError):
    status, code, message = 400, "sms_code_expired", "验证码已失效，请重新获取"


class InvalidCredentials(Unauthenticated):
    code, message = "invalid_credentials", "用户名或密码错误"


class LoginLocked(TooManyRequests):
    code, message = "login_locked", "登录失败次数过多，请15分钟后再试"


class AccountDisabled(APIError):
    status, code, message = 403, "account_disabled", "账号已停用，请联系社区工作人员"


class RefreshTokenInvalid(Unauthenticated):
    code, message = "refresh_token_invalid", "登录已失效，请重新登录"


class RefreshTokenReused(Unauthenticated):
    code, message = "refresh_token_reused", "检测到登录凭证被重复使用，已退出该设备的登录，请重新登录"


class PhoneBoundToOtherAccount(Conflict):
    code, message = "phone_bound_to_other_account", "该手机号已绑定其他账号，请联系社区工作人员合并账号"


class SessionNotFound(NotFound):
    code, message = "session_not_found", "登录设备不存在"


class WeChatNotEnabled(NotFound):
    """The deployment has no mini-program configured: WeChat login does not exist here (like an unknown route)."""

    code, message = "wechat_not_enabled", "本服务未开通微信登录"


class WeChatCodeInvalid(APIError):
    status, code, message = 400, "wechat_code_invalid", "微信登录凭证无效或已使用，请重新登录"


class WeChatPhoneCodeInvalid(APIError):
    status, code, message = 400, "wechat_phone_code_invalid", "微信手机号授权凭证无效或已使用，请重新授权"


class WeChatUnavailable(APIError):
    status, code, message = 502, "wechat_unavailable", "微信服务暂时不可用，请稍后再试"


class PasswordTooWeak(APIError):
    status, code, message = 422, "password_too_weak", "密码至少10位，且不能全是数字"


class UsernameTaken(Conflict):
    code, message = "username_taken", "该用户名已被使用"
