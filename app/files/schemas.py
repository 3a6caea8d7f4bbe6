"""Schemas of the file endpoints."""

from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields
from werkzeug.datastructures import FileStorage

from app.api import Schema
from app.files.models import FileVisibility


class UploadedFile(Upload):
    """A multipart file part; a plain text value under the same name is refused."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ValidationError("请选择要上传的文件")
        return value


class FileUploadSchema(Schema):
    file = UploadedFile(required=True, metadata={"description": "JPEG、PNG、WebP、GIF 图片或 PDF；类型按内容识别"})
    visibility = fields.Enum(
        FileVisibility,
        by_value=True,
        load_default=FileVisibility.private,
        metadata={"description": "private：仅凭签名链接访问（默认）；public：公开链接（商品、帖子图片）"},
    )


class FileSchema(Schema):
    id = fields.String(metadata={"description": "File public id"})
    filename = fields.String(metadata={"description": "Original name, sanitised; its extension matches the type"})
    content_type = fields.String(metadata={"description": "Recognised from the bytes"})
    size = fields.Integer(metadata={"description": "Bytes"})
    sha256 = fields.String()
    visibility = fields.Enum(FileVisibility, by_value=True)
    attached = fields.Boolean(metadata={"description": "Whether the file belongs to a record yet"})
    created_at = fields.DateTime()
    url = fields.String(
        metadata={"description": "Plain URL for a public file; a signed, expiring URL for a private one"}
    )
    url_expires_at = fields.DateTime(allow_none=True, metadata={"description": "When a signed URL stops working"})


class SignedUrlArgsSchema(Schema):
    expires = fields.Integer(load_default=None, metadata={"description": "Unix time the URL expires"})
    u = fields.String(load_default=None, metadata={"description": "Public id of the user the URL was issued to"})
    sig = fields.String(load_default=None, metadata={"description": "HMAC-SHA256 signature"})
