"""APIError and the handlers that give every error one JSON body: {"code", "message", "details"}."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from flask import Flask, jsonify
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

log = logging.getLogger(__name__)


class APIError(Exception):
    """An error the caller can act on. Subclasses set ``status``, ``code`` (stable, English) and ``message`` (中文)."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = "请求有误"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


class NotFound(APIError):
    status, code, message = 404, "not_found", "资源不存在"


class Unauthenticated(APIError):
    status, code, message = 401, "unauthenticated", "请先登录"


class Forbidden(APIError):
    status, code, message = 403, "forbidden", "没有权限执行此操作"


class Conflict(APIError):
    status, code, message = 409, "conflict", "操作与当前状态冲突"


class ValidationFailed(APIError):
    status, code, message = 422, "validation_failed", "提交的数据有误"


class ServiceUnavailable(APIError):
    status, code, message = 503, "service_unavailable", "服务暂时不可用，请稍后再试"


#: Chinese messages for HTTP errors raised by Flask/werkzeug itself, keyed by status.
HTTP_MESSAGES = {
    400: ("bad_request", "请求有误"),
    401: ("unauthenticated", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "操作与当前状态冲突"),
    413: ("payload_too_large", "上传内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_failed", "提交的数据有误"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误"),
    503: ("service_unavailable", "服务暂时不可用，请稍后再试"),
}


def _rollback() -> None:
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:  # the connection itself may be gone; the error being handled matters more
        log.exception("rollback after error failed")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(APIError)
    def handle_api_error(error: APIError):
        _rollback()
        return jsonify(error.body()), error.status, error.headers

    @app.errorhandler(OperationalError)
    def handle_operational_error(error: OperationalError):
        # The database is unreachable or restarting: tell the client to retry, never a bare 500.
        _rollback()
        log.warning("database unavailable: %s", error.orig)
        return jsonify(ServiceUnavailable().body()), 503, {"Retry-After": "5"}

    @app.errorhandler(DataError)
    def handle_data_error(error: DataError):
        # PostgreSQL refused a value the schemas let through (a NUL byte in text, a number beyond bigint):
        # the caller's data, so a 422, never a 500.
        _rollback()
        log.warning("data refused by the database: %s", error.orig)
        return jsonify(error_body("validation_failed", "提交的数据包含无法保存的字符或超出范围的数值")), 422

    @app.errorhandler(DBAPIError)
    def handle_dbapi_error(error: DBAPIError):
        _rollback()
        if error.connection_invalidated:
            return jsonify(ServiceUnavailable().body()), 503, {"Retry-After": "5"}
        return _internal_error(app, error)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        _rollback()
        return _internal_error(app, error)


def _internal_error(app: Flask, error: Exception):
    log.error("unhandled error", exc_info=error)
    if app.testing and app.config.get("PROPAGATE_UNEXPECTED", True):
        raise error
    code, message = HTTP_MESSAGES[500]
    return jsonify(error_body(code, message)), 500
