"""Use cases for files: upload (sniffed, limited), read checks through the owner-kind registry, attach, signed URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import mimetypes
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, BinaryIO

import filetype
import sqlalchemy as sa
from flask import current_app, url_for

from app.db import atomic
from app.extensions import db
from app.files.errors import (
    FileAlreadyAttached,
    FileEmpty,
    FileNotFound,
    FileTooLarge,
    FileTypeMismatch,
    FileTypeNotAllowed,
    FileUrlExpired,
    FileUrlInvalid,
)
from app.files.models import FileVisibility, StoredFile
from app.files.storage import get_storage, new_storage_key

log = logging.getLogger(__name__)

#: Sniffed content type → (extension given to stored names, extensions a client may have used for it).
#: SVG and HTML are absent on purpose: both can carry script.
ALLOWED_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "image/jpeg": ("jpg", frozenset({"jpg", "jpeg", "jpe", "jfif"})),
    "image/png": ("png", frozenset({"png"})),
    "image/webp": ("webp", frozenset({"webp"})),
    "image/gif": ("gif", frozenset({"gif"})),
    "application/pdf": ("pdf", frozenset({"pdf"})),
}

#: filetype needs at most this many leading bytes to recognise a format.
_SNIFF_BYTES = 8192
_CHUNK = 64 * 1024
#: Uploads up to this size stay in memory while they are checked; larger ones spill to a temporary file.
_SPOOL_IN_MEMORY = 1024 * 1024
_FILENAME_FORBIDDEN = set('<>:"/\\|?*;')
_OWNER_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")

# --- owner kinds ---------------------------------------------------------------------------------------------

#: ``can_read(user, owner_id) -> bool`` per owner kind; domains fill it at import time.
OWNER_KINDS: dict[str, Callable[[Any, int], bool]] = {}


def register_owner_kind(kind: str, can_read: Callable[[Any, int], bool]) -> None:
    """Let files attached to records of ``kind`` be read by whoever ``can_read(user, owner_id)`` allows.

    The uploader can always read their own file; everyone else is answered 404 unless this check says yes.
    """
    if not _OWNER_KIND.fullmatch(kind):
        raise ValueError(f"owner kind must be lower snake_case, at most 32 characters: {kind!r}")
    registered = OWNER_KINDS.get(kind)
    if registered is not None and registered is not can_read:
        raise ValueError(f"owner kind {kind!r} is already registered")
    OWNER_KINDS[kind] = can_read


def can_read(user, stored: StoredFile) -> bool:
    """Whether ``user`` may see ``stored``: its uploader, anyone for a public file, else the owner kind's check."""
    if stored.uploader_id == user.id or stored.is_public:
        return True
    if stored.owner_kind is None:
        return False
    check = OWNER_KINDS.get(stored.owner_kind)
    if check is None:
        log.warning("file %s belongs to unregistered owner kind %r", stored.id, stored.owner_kind)
        return False
    return bool(check(user, stored.owner_id))


# --- upload --------------------------------------------------------------------------------------------------


def upload_file(
    *, user, stream: BinaryIO, filename: str | None, visibility: FileVisibility = FileVisibility.private
) -> StoredFile:
    """Store an upload after checking its size and sniffing its type from the bytes (the client's claim is ignored).

    :raises FileTooLarge: more than ``MAX_UPLOAD_BYTES``.
    :raises FileEmpty: no bytes.
    :raises FileTypeNotAllowed: not a JPEG, PNG, WebP or GIF image or a PDF.
    :raises FileTypeMismatch: the name's extension names another type (a PNG called ``scan.pdf``).
    """
    limit = int(current_app.config["MAX_UPLOAD_BYTES"])
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        size, digest = _copy_limited(stream, spool, limit)
        if size == 0:
            raise FileEmpty()
        spool.seek(0)
        content_type = sniff_content_type(spool.read(_SNIFF_BYTES))
        name = safe_filename(filename, content_type)
        spool.seek(0)
        key = new_storage_key()
        storage = get_storage()
        # Bytes first, row second: a failure between the two leaves an unreferenced blob, never a row without bytes.
        storage.put(key, spool)
    try:
        with atomic():
            stored = StoredFile(
                uploader_id=user.id,
                visibility=visibility,
                content_type=content_type,
                size=size,
                sha256=digest,
                storage_key=key,
                filename=name,
            )
            db.session.add(stored)
            db.session.flush()
    except BaseException:
        storage.delete(key)
        raise
    log.info("file %s (%s, %d bytes, %s) uploaded by user %s", stored.id, content_type, size, visibility.value, user.id)
    return stored


def _copy_limited(stream: BinaryIO, out: BinaryIO, limit: int) -> tuple[int, str]:
    size, digest = 0, hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise FileTooLarge(
                f"上传的文件过大，不能超过 {_human_size(limit)}",
                details={"max_bytes": limit, "max": _human_size(limit)},
            )
        digest.update(chunk)
        out.write(chunk)
    return size, digest.hexdigest()


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} 字节"


def sniff_content_type(head: bytes) -> str:
    """The content type recognised from the leading bytes, if it is one we accept. :raises FileTypeNotAllowed:"""
    kind = filetype.guess(head)
    detected = kind.mime if kind is not None else None
    if detected not in ALLOWED_TYPES:
        raise FileTypeNotAllowed(details={"detected": detected, "allowed": sorted(ALLOWED_TYPES)})
    return detected


def safe_filename(raw: str | None, content_type: str) -> str:
    """A display name safe in a header and on any disk, whose extension agrees with ``content_type``.

    Path parts, control characters and characters Windows refuses are dropped; Chinese is kept.
    :raises FileTypeMismatch: the extension names a different known type.
    """
    canonical, accepted = ALLOWED_TYPES[content_type]
    name = unicodedata.normalize("NFC", (raw or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if ch not in _FILENAME_FORBIDDEN and not unicodedata.category(ch).startswith("C"))
    name = name.strip().lstrip(".").strip()
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    extension = extension.lower()
    if extension in accepted:
        kept = extension
    else:
        claimed = mimetypes.guess_type(f"x.{extension}", strict=False)[0] if extension else None
        if claimed is not None:
            raise FileTypeMismatch(details={"extension": extension[:16], "detected": content_type})
        # Not an extension we know ("IMG_2024.06.01"): it is part of the name, and ours is appended.
        stem, kept = name, canonical
    stem = stem.strip()[:100].strip() or "file"
    return f"{stem}.{kept}"


# --- reading -------------------------------------------------------------------------------------------------


def _by_public_id(public_id: str) -> StoredFile | None:
    if not _PUBLIC_ID.fullmatch(public_id):
        return None  # not one of ours; and a NUL byte from the URL must not reach PostgreSQL
    return db.session.scalar(sa.select(StoredFile).where(StoredFile.public_id == public_id))


def get_file(public_id: str, *, user) -> StoredFile:
    """The file, if ``user`` may see it. :raises FileNotFound: missing, or outside what the caller may read."""
    stored = _by_public_id(public_id)
    if stored is None or not can_read(user, stored):
        raise FileNotFound()
    return stored


def get_public_file(public_id: str) -> StoredFile:
    """A public file for its plain URL. :raises FileNotFound: missing or private (never 403: it would confirm it)."""
    stored = _by_public_id(public_id)
    if stored is None or not stored.is_public:
        raise FileNotFound()
    return stored


def files_of(owner_kind: str, owner_id: int) -> list[StoredFile]:
    """Files attached to one record, oldest first (for domains showing a post's images)."""
    return list(
        db.session.scalars(
            sa.select(StoredFile)
            .where(StoredFile.owner_kind == owner_kind, StoredFile.owner_id == owner_id)
            .order_by(StoredFile.created_at, StoredFile.id)
        )
    )


def open_content(stored: StoredFile) -> BinaryIO:
    """A stream of the file's bytes; the caller closes it. :raises FileNotFound: the bytes are gone."""
    try:
        return get_storage().open(stored.storage_key)
    except FileNotFoundError:
        log.error("file %s has a row but no bytes under %s", stored.id, stored.storage_key)
        raise FileNotFound() from None


# --- attaching to a record -----------------------------------------------------------------------------------


def attach(file_public_id: str, owner_kind: str, owner_id: int, *, by_user) -> StoredFile:
    """Make an uploaded file belong to a record (a post, an application). Joins the caller's transaction.

    Only the uploader may attach, and only a file not yet attached; attaching again to the same record is a no-op.
    :raises FileNotFound: no such file, or not uploaded by ``by_user``.
    :raises FileAlreadyAttached: it belongs to another record.
    """
    if owner_kind not in OWNER_KINDS:
        raise ValueError(f"owner kind {owner_kind!r} is not registered")
    with atomic():
        # One conditional UPDATE: two requests racing to attach the same file cannot both win.
        stored = db.session.scalar(
            sa.update(StoredFile)
            .where(
                StoredFile.public_id == file_public_id,
                StoredFile.uploader_id == by_user.id,
                StoredFile.owner_kind.is_(None),
            )
            .values(owner_kind=owner_kind, owner_id=owner_id)
            .returning(StoredFile)
            .execution_options(populate_existing=True)
        )
        if stored is not None:
            log.info("file %s attached to %s %s by user %s", stored.id, owner_kind, owner_id, by_user.id)
            return stored
        stored = db.session.scalar(
            sa.select(StoredFile).where(StoredFile.public_id == file_public_id, StoredFile.uploader_id == by_user.id)
        )
        if stored is None:
            raise FileNotFound()
        if (stored.owner_kind, stored.owner_id) == (owner_kind, owner_id):
            return stored
        raise FileAlreadyAttached()


# --- URLs ----------------------------------------------------------------------------------------------------


def _signing_key() -> bytes:
    # A key of its own, derived from SECRET_KEY, so a file URL signature can never pass for any other signature.
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"linli.files.signed-url.v1", hashlib.sha256).digest()


def _signature(file_public_id: str, user_public_id: str, expires: int) -> str:
    message = f"{file_public_id}\n{user_public_id}\n{expires}".encode()
    raw = hmac.new(_signing_key(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_url(stored: StoredFile, *, user, expires_in: int | None = None) -> tuple[str, datetime]:
    """A URL to the file's bytes for ``user``, valid ``expires_in`` seconds (default ``FILE_URL_TTL``).

    The signature covers the file, the user it was issued to and the expiry. Call inside a request (the URL is
    absolute, built from the request's host). :return: ``(url, expires_at)``
    """
    ttl = int(current_app.config["FILE_URL_TTL"]) if expires_in is None else expires_in
    expires = int(time.time()) + ttl
    url = url_for(
        "files.FileContent",
        public_id=stored.public_id,
        expires=expires,
        u=user.public_id,
        sig=_signature(stored.public_id, user.public_id, expires),
        _external=True,
    )
    return url, datetime.fromtimestamp(expires, UTC)


def public_url(stored: StoredFile) -> str:
    """The plain URL of a public file (call inside a request)."""
    return url_for("files.PublicFileContent", public_id=stored.public_id, _external=True)


def file_url(stored: StoredFile, *, user) -> tuple[str, datetime | None]:
    """The URL to give ``user``: plain for a public file, signed for a private one. :return: ``(url, expires_at)``"""
    if stored.is_public:
        return public_url(stored), None
    return signed_url(stored, user=user)


def check_signed_url(public_id: str, *, expires: int | None, user_public_id: str | None, sig: str | None) -> int:
    """Verify a signed URL's parameters.

    :raises FileUrlInvalid: missing or wrong signature (checked first, so a changed expiry is simply invalid).
    :raises FileUrlExpired: a genuine URL past its expiry.
    :return: seconds the URL has left.
    """
    if expires is None or not user_public_id or not sig:
        raise FileUrlInvalid()
    expected = _signature(public_id, user_public_id, expires)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise FileUrlInvalid()
    left = expires - int(time.time())
    if left < 0:
        raise FileUrlExpired()
    return left


def get_signed_file(
    public_id: str, *, expires: int | None, user_public_id: str | None, sig: str | None
) -> tuple[StoredFile, int]:
    """The file a signed URL points to. :return: ``(stored, seconds_left)``; raises as ``check_signed_url``."""
    left = check_signed_url(public_id, expires=expires, user_public_id=user_public_id, sig=sig)
    stored = _by_public_id(public_id)
    if stored is None:
        raise FileNotFound()
    return stored, left


def describe_file(stored: StoredFile, *, user) -> dict[str, Any]:
    """What a caller sees of a file (for ``FileSchema``), with a URL fit for them."""
    url, expires_at = file_url(stored, user=user)
    return {
        "id": stored.public_id,
        "filename": stored.filename,
        "content_type": stored.content_type,
        "size": stored.size,
        "sha256": stored.sha256,
        "visibility": stored.visibility,
        "attached": stored.owner_kind is not None,
        "created_at": stored.created_at,
        "url": url,
        "url_expires_at": expires_at,
    }
