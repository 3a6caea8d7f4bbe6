"""The stored-file record: who uploaded it, which record it belongs to, what it is and where its bytes live."""

from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import created_at, intpk, public_id
from app.extensions import db


class FileVisibility(enum.Enum):
    #: Served only through short-lived signed URLs, to callers the owning record allows.
    private = "private"
    #: Served by a plain URL to anyone (listing photos, post images).
    public = "public"


class StoredFile(db.Model):
    """An uploaded file. Its bytes are in the file storage under ``storage_key``; they never change."""

    __tablename__ = "core_files"
    __table_args__ = (
        sa.CheckConstraint("size > 0", name="size_positive"),
        sa.CheckConstraint("(owner_kind IS NULL) = (owner_id IS NULL)", name="owner_complete"),
        sa.Index("ix_core_files_owner", "owner_kind", "owner_id"),
    )
    # created_at comes back with the INSERT (RETURNING) instead of a second SELECT when first read.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    uploader_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accounts_users.id"), index=True, comment="The user who uploaded the file (its owner)"
    )
    owner_kind: Mapped[str | None] = mapped_column(
        sa.String(32), comment="Kind of record the file belongs to (registered owner kind); null until attached"
    )
    owner_id: Mapped[int | None] = mapped_column(sa.BigInteger, comment="Id of the record the file belongs to")
    visibility: Mapped[FileVisibility] = mapped_column(default=FileVisibility.private)
    content_type: Mapped[str] = mapped_column(sa.String(100), comment="Sniffed from the bytes, never the client's")
    size: Mapped[int] = mapped_column(sa.BigInteger, comment="Bytes")
    sha256: Mapped[str] = mapped_column(sa.String(64), comment="Hex digest of the bytes")
    storage_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(255), comment="Original filename, sanitised")
    created_at: Mapped[created_at]

    @property
    def is_public(self) -> bool:
        return self.visibility is FileVisibility.public

    def __repr__(self) -> str:
        return f"<StoredFile {self.id} {self.content_type}>"
