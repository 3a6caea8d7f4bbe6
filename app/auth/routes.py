"""Login and session endpoints under /api/v1/auth, and staff merging accounts under /api/v1/admin/accounts (thin:
schema, access rule, one service call)."""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from app.api import Blueprint
from app.auth import merge, passwords, services, sessions
from app.auth.core import current_session_id, current_user, require
from app.auth.schemas import (
    AccountMergedSchema,
    AccountMergeSchema,
    DevLoginSchema,
    LogoutSchema,
    PasswordChangeSchema,
    PasswordLoginSchema,
    PhoneBoundSchema,
    RefreshSchema,
    SessionListArgsSchema,
    SessionPageSchema,
    SmsBindSchema,
    SmsLoginSchema,
    SmsSendSchema,
    SmsSentSchema,
    TokensSchema,
    WeChatCodeSchema,
)
from app.auth.scopes import scoped
from app.extensions import limiter

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录、令牌与登录设备")
#: Registered only in demo mode: elsewhere /auth/dev-login answers exactly like an unknown route.
dev_blp = Blueprint("auth_demo", __name__, url_prefix="/api/v1/auth", description="演示模式登录")
admin_blp = Blueprint(
    "admin_accounts", __name__, url_prefix="/api/v1/admin/accounts", description="账号合并（工作人员）"
)


def client_ip() -> str:
    """Per client address, after ProxyFix applied TRUSTED_PROXY_HOPS (signed in or not: these guard logins)."""
    return f"ip:{request.remote_addr or 'unknown'}"


def per_ip(limits: str):
    return limiter.limit(limits, key_func=client_ip)


@blp.record_once
def _register_other_routes(state) -> None:
    api = state.app.extensions["linli_api"]
    api.register_blueprint(admin_blp)
    if state.app.config.get("DEMO_MODE"):
        api.register_blueprint(dev_blp)


@blp.route("/wechat/login")
class WeChatLogin(MethodView):
    @blp.arguments(WeChatCodeSchema)
    @blp.response(200, TokensSchema)
    @per_ip("30 per minute; 300 per hour")
    @require(public=True)
    def post(self, data):
        """Sign in with WeChat (mini-program)

        Exchanges the `wx.login()` code at WeChat; the account is found by unionid (when WeChat gives one) or
        openid, and created on first login. 400 `wechat_code_invalid` when WeChat refuses the code; 404
        `wechat_not_enabled` when this deployment has no mini-program.
        """
        return services.wechat_login(data["code"])


@blp.route("/wechat/phone")
class WeChatPhone(MethodView):
    @blp.arguments(WeChatCodeSchema)
    @blp.response(200, PhoneBoundSchema)
    @require()
    def post(self, data):
        """Bind the phone verified by WeChat

        Takes the code of the `getPhoneNumber` button. When another account holds the phone and one of the two
        holds no data, they are linked; when the caller's own account is folded into the other one, `tokens`
        carries new tokens for it. Both holding data: 409 `phone_bound_to_other_account`.
        """
        return services.wechat_bind_phone(current_user(), data["code"])


@blp.route("/sms/send")
class SmsSend(MethodView):
    @blp.arguments(SmsSendSchema)
    @blp.response(202, SmsSentSchema)
    @per_ip("10 per minute; 60 per hour")
    @require(public=True)
    def post(self, data):
        """Send a login code by SMS

        A 6-digit code, valid 5 minutes. Per phone: one per 60 s (429 `sms_too_frequent`) and 10 per day
        (429 `sms_daily_limit`), both with `Retry-After`.
        """
        return services.send_sms_code(data["phone"])


@blp.route("/sms/login")
class SmsLogin(MethodView):
    @blp.arguments(SmsLoginSchema)
    @blp.response(200, TokensSchema)
    @per_ip("20 per minute; 200 per hour")
    @require(public=True)
    def post(self, data):
        """Sign in with a phone and SMS code

        Creates the account on first login. A wrong code is 400 `sms_code_invalid` with
        `details.remaining_attempts`; after 5 wrong tries, expiry or use the code is dead: 400 `sms_code_expired`.
        """
        return services.sms_login(data["phone"], data["code"])


@blp.route("/sms/bind")
class SmsBind(MethodView):
    @blp.arguments(SmsBindSchema)
    @blp.response(200, PhoneBoundSchema)
    @per_ip("20 per minute; 200 per hour")
    @require()
    def post(self, data):
        """Bind a phone verified by SMS code

        Same linking rules as binding through WeChat.
        """
        return services.sms_bind_phone(current_user(), data["phone"], data["code"])


@blp.route("/password/login")
class PasswordLogin(MethodView):
    @blp.arguments(PasswordLoginSchema)
    @blp.response(200, TokensSchema)
    @per_ip("20 per minute; 200 per hour")
    @require(public=True)
    def post(self, data):
        """Sign in with username and password (staff, vendors, providers)

        401 `invalid_credentials` whether the username or the password is wrong. After 5 failures in a row the
        username is locked for 15 minutes: 429 `login_locked` with `Retry-After`.
        """
        return passwords.password_login(data["username"], data["password"])


@blp.route("/password/change")
class PasswordChange(MethodView):
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    @per_ip("20 per minute; 200 per hour")
    @require()
    def post(self, data):
        """Change my password (accounts that sign in with a password)

        The new password: 10 to 128 characters using at least two of letters, digits and symbols (422
        `password_too_weak`; the same as the current one: 422 `password_unchanged`). A wrong current password is 400
        `password_incorrect` with `details.remaining_attempts` and counts toward the login lockout (429
        `login_locked`). Every other session of the account is signed out; this one stays. No password on the
        account: 409 `password_not_set`.
        """
        passwords.change_password(current_user(), current_session_id(), data["old_password"], data["new_password"])


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokensSchema)
    @per_ip("60 per minute")
    @require(public=True)
    def post(self, data):
        """Exchange a refresh token for new tokens

        Each refresh token works once. Presenting one again (a replay, or two refreshes racing) revokes the whole
        session: 401 `refresh_token_reused`.
        """
        return sessions.refresh(data["refresh_token"])


@blp.route("/logout")
class Logout(MethodView):
    @blp.arguments(LogoutSchema)
    @blp.response(204)
    @require()
    def post(self, data):
        """Sign out

        Revokes this session (or, with `everywhere`, all of mine); its access token stops working within the
        revocation delay (2 s by default).
        """
        sessions.logout(current_user(), current_session_id(), everywhere=data["everywhere"])


@blp.route("/sessions")
class Sessions(MethodView):
    @blp.arguments(SessionListArgsSchema, location="query")
    @blp.response(200, SessionPageSchema)
    @require()
    def get(self, args):
        """List my signed-in devices"""
        return sessions.list_my_sessions(current_user(), cursor=args["cursor"], limit=args["limit"])


@blp.route("/sessions/<session_id>")
class Session(MethodView):
    @blp.response(204)
    @require()
    def delete(self, session_id: str):
        """Sign one of my devices out

        404 for a session that is not mine.
        """
        sessions.revoke_my_session(current_user(), session_id)


@dev_blp.route("/dev-login")
class DevLogin(MethodView):
    @dev_blp.arguments(DevLoginSchema)
    @dev_blp.response(200, TokensSchema)
    @require(public=True)
    def post(self, data):
        """Sign in as any account (demo mode only)

        By `user_public_id`, or by `phone` (the account is created when missing). Outside demo mode this route
        does not exist.
        """
        return services.dev_login(user_public_id=data.get("user_public_id"), phone=data.get("phone"))


@admin_blp.route("/merge")
class AccountMerge(MethodView):
    @admin_blp.arguments(AccountMergeSchema)
    @admin_blp.response(200, AccountMergedSchema)
    @scoped("account.merge", also="accounts holding roles: platform admins only; never one's own account")
    def post(self, data):
        """Merge two accounts of one person (staff, audited)

        For the case linking by phone refuses (`phone_bound_to_other_account`: both accounts hold data). The `fold`
        account's logins move to `keep` where `keep` has none of that kind (`moved`); where both have one, `keep`'s
        stays and the other stops working (`dropped`). Role assignments and the resident move; `fold` is deactivated
        and signed out everywhere. Both linked to residents: 409 `residents_must_be_merged`. Either already merged or
        deactivated: 409 `account_inactive`.
        """
        return merge.merge_accounts(current_user(), keep=data["keep"], fold=data["fold"], reason=data["reason"])
