"""Errors of the files package: codes are stable English, messages Chinese."""

from __future__ import annotations

from app.errors import APIError, NotFound


class FileNotFound(NotFound):
    message = "文件不存在"


class FileTooLarge(APIError):
    status, code, message = 413, "payload_too_large", "上传的文件过大"


class FileEmpty(APIError):
    status, code, message = 422, "file_empty", "上传的文件是空的"


class FileTypeNotAllowed(APIError):
    status, code, message = 415, "file_type_not_allowed", "只能上传 JPEG、PNG、WebP、GIF 图片或 PDF 文件"


class FileTypeMismatch(APIError):
    status, code, message = 415, "file_type_mismatch", "文件扩展名与文件内容不符"


class FileUrlInvalid(APIError):
    status, code, message = 403, "file_url_invalid", "文件链接无效"


class FileUrlExpired(APIError):
    status, code, message = 403, "file_url_expired", "文件链接已过期，请重新获取"


class FileAlreadyAttached(APIError):
    status, code, message = 409, "file_already_attached", "该文件已被其他内容使用"
