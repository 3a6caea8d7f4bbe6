"""Request and response schemas of the login and session endpoints."""

from __future__ import annotations

from flask import g
from marshmallow import ValidationError, fields, validate, validates_schema

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from app.auth.phones import mask_phone


class WeChatCodeSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "wx.login() 或手机号授权返回的 code"},
    )


class SmsSendSchema(Schema):
    phone = fields.String(
        required=True, validate=validate.Length(min=1, max=32), metadata={"description": "中国大陆手机号"}
    )


class SmsSentSchema(Schema):
    expires_in = fields.Integer(strict=True, metadata={"description": "验证码有效秒数"})
    resend_after = fields.Integer(strict=True, metadata={"description": "再次获取前需等待的秒数"})


class SmsLoginSchema(Schema):
    phone = fields.String(required=True, validate=validate.Length(min=1, max=32))
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="验证码为6位数字"))


class PasswordLoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128))


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=128))


class LogoutSchema(Schema):
    everywhere = fields.Boolean(load_default=False, metadata={"description": "true: 退出本账号的所有设备"})


class DevLoginSchema(Schema):
    user_public_id = fields.String(validate=validate.Length(min=1, max=24))
    phone = fields.String(validate=validate.Length(min=1, max=32))

    @validates_schema
    def exactly_one(self, data, **kwargs):
        if ("user_public_id" in data) == ("phone" in data):
            raise ValidationError("请提供 user_public_id 或 phone 之一", field_name="_schema")


class AccountSchema(Schema):
    id = fields.String(attribute="public_id")
    display_name = fields.String()
    phone = fields.Function(lambda user: mask_phone(user.phone), metadata={"description": "已验证手机号（脱敏）"})


class TokensSchema(Schema):
    token_type = fields.Constant("Bearer")
    access_token = fields.String(metadata={"description": "JWT，放在 Authorization: Bearer <token>"})
    expires_in = fields.Integer(strict=True, metadata={"description": "access_token 有效秒数（不超过600）"})
    refresh_token = fields.String(metadata={"description": "换取新令牌用，只能使用一次"})
    refresh_expires_in = fields.Integer(strict=True)
    session_id = fields.Function(lambda tokens: tokens.session.public_id)
    created = fields.Boolean(metadata={"description": "本次登录新建了账号"})
    user = fields.Nested(AccountSchema)


class PhoneBoundSchema(Schema):
    user = fields.Nested(AccountSchema, metadata={"description": "现在持有该手机号的账号"})
    linked = fields.Boolean(metadata={"description": "是否与另一个账号合并"})
    tokens = fields.Nested(
        TokensSchema, allow_none=True, metadata={"description": "当前账号并入了另一个账号时的新令牌，否则为 null"}
    )


class SmsBindSchema(SmsLoginSchema):
    pass


class SessionSchema(Schema):
    id = fields.String(attribute="public_id")
    method = fields.Function(lambda session: session.method.value)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime()
    expires_at = fields.DateTime()
    user_agent = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    current = fields.Function(
        lambda session: session.public_id == g.get("current_session_id"),
        metadata={"description": "是否为发出本次请求的设备"},
    )


SessionPageSchema = cursor_page_schema(SessionSchema)


class SessionListArgsSchema(CursorArgsSchema):
    pass


class PasswordChangeSchema(Schema):
    old_password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128))
    new_password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=256),
        metadata={"description": "10至128位，至少包含字母、数字、符号中的两种（空格算作符号）"},
    )


class AccountMergeSchema(Schema):
    keep = fields.String(
        required=True, validate=validate.Length(min=1, max=24), metadata={"description": "保留的账号 id"}
    )
    fold = fields.String(
        required=True,
        validate=validate.Length(min=1, max=24),
        metadata={"description": "并入后停用的账号 id"},
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(min=2, max=200),
        metadata={"description": "合并事由，如当面核实的情况（记入审计日志）"},
    )


class MovedRoleSchema(Schema):
    role = fields.String()
    scope_kind = fields.String()


class AccountMergedSchema(Schema):
    user = fields.Nested(AccountSchema, metadata={"description": "保留的账号（合并后）"})
    folded_id = fields.Function(lambda merged: merged.folded.public_id, metadata={"description": "已停用的账号 id"})
    moved = fields.List(fields.String(), metadata={"description": "转到保留账号的登录方式"})
    dropped = fields.List(
        fields.String(), metadata={"description": "保留账号已有同类登录方式而作废的登录方式（不再能登录）"}
    )
    roles_moved = fields.List(fields.Nested(MovedRoleSchema))
    resident_id = fields.String(
        attribute="resident_public_id", allow_none=True, metadata={"description": "保留账号关联的居民 id"}
    )
