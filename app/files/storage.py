"""Where file bytes live: the ``FileStorage`` interface and the local-disk backend (an S3-compatible one fits too)."""

from __future__ import annotations

import abc
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

from flask import current_app

#: Keys are ours (never built from user input), but the backend refuses anything that could leave its root:
#: segments of letters, digits, ``.``, ``_`` and ``-`` that do not start with a dot, joined by ``/``.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}){0,7}")


class InvalidStorageKey(ValueError):
    """A key that could escape the storage root (``..``, absolute paths, odd characters)."""


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidStorageKey(f"invalid storage key: {key!r}")
    return key


def new_storage_key() -> str:
    """A random key, unrelated to the public id: knowing a file's URL says nothing about where it is stored."""
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token[2:4]}/{token}"


class FileStorage(abc.ABC):
    """Bytes by key. Implementations: ``LocalDiskStorage``; an S3-compatible store implements the same four calls."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """Store ``data`` (bytes, or a binary stream read from its current position) under ``key``, replacing it."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary stream of the stored bytes; the caller closes it. :raises FileNotFoundError:"""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...


class LocalDiskStorage(FileStorage):
    """Files under one root directory; writes go to a temporary file renamed into place, so readers never see half."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # The pattern already refuses "..", but a symlink placed under the root must not lead outside it either.
        if not path.is_relative_to(self.root):
            raise InvalidStorageKey(f"storage key leaves the root: {key!r}")
        return path

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            with temporary.open("xb") as out:
                if isinstance(data, bytes | bytearray | memoryview):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out)
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()


def get_storage() -> FileStorage:
    """The app's storage: ``app.extensions["linli_file_storage"]`` when set (e.g. an S3 backend), else local disk.

    The local root is ``FILES_ROOT``, default ``<INSTANCE_PATH>/files``; it is read on each call (cheap), so a
    test can point it at a temporary directory.
    """
    configured = current_app.extensions.get("linli_file_storage")
    if configured is not None:
        return configured
    root = current_app.config.get("FILES_ROOT") or Path(current_app.config["INSTANCE_PATH"]) / "files"
    return LocalDiskStorage(root)
