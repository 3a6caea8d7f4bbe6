"""Errors of login and sessions: stable codes, Chinese messages."""

from __future__ import annotations

from app.errors import APIError, Conflict, Forbidden, NotFound, ServiceUnavailable, Unauthenticated, ValidationFailed


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
    status, code, message = 422, "password_too_weak", "密码须为10至128位，且至少包含字母、数字、符号中的两种"


class PasswordIncorrect(APIError):
    """The current password given to change it is wrong (not 401: the caller is signed in and stays signed in)."""

    status, code, message = 400, "password_incorrect", "原密码错误"


class PasswordNotSet(Conflict):
    code, message = "password_not_set", "该账号未设置密码，请使用微信或短信验证码登录"


class PasswordUnchanged(ValidationFailed):
    code, message = "password_unchanged", "新密码不能与原密码相同"


class UsernameTaken(Conflict):
    code, message = "username_taken", "该用户名已被使用"


class AccountNotFound(NotFound):
    code, message = "user_not_found", "账号不存在"


class AccountInactive(Conflict):
    code, message = "account_inactive", "账号已停用或已合并到其他账号"


class MergeSameAccount(ValidationFailed):
    code, message = "merge_same_account", "保留账号与并入账号不能是同一个"


class MergeOwnAccount(Forbidden):
    code, message = "merge_own_account", "不能合并自己的账号，请由其他工作人员操作"


class MergeNeedsPlatformAdmin(Forbidden):
    code, message = "merge_needs_platform_admin", "账号持有工作人员等角色，须由平台管理员合并"


class ResidentsMustBeMerged(Conflict):
    code, message = "residents_must_be_merged", "两个账号各自关联了不同的居民实名信息，须先合并居民信息"
