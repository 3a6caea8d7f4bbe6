"""Errors the gateway channels raise to API callers."""

from __future__ import annotations

from app.errors import NotFound, ValidationFailed


class WeChatOpenidMissing(ValidationFailed):
    code, message = "wechat_openid_missing", "请先通过微信小程序登录，再使用微信支付"


class ReportNotFound(NotFound):
    code, message = "reconciliation_not_found", "对账报告不存在"
