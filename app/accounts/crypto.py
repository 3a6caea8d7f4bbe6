"""Field encryption (AES-256-GCM under a key id) and keyed lookup hashes (HMAC-SHA256) for personal data.

Ciphertext layout, stored in a ``bytea`` column::

    version (1 byte, = 1) | key id length (1 byte) | key id (ASCII) | nonce (12 bytes) | AES-GCM ciphertext + tag

The associated data is ``purpose`` (e.g. ``accounts_residents.document``) and the key id, so a value copied into
another column, or relabelled with another key id, fails to decrypt. ``FIELD_ENCRYPTION_KEYS`` is
``kid:base64key,kid2:base64key``: the first key encrypts, every key decrypts (rotate by putting a new key first;
old ciphertexts keep working). Lookup hashes use ``LOOKUP_HASH_KEY``, a separate key, so they can be indexed and
compared without decrypting anything.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from app.config import ConfigError

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class DecryptionFailed(Exception):
    """A stored ciphertext cannot be decrypted (unknown key id, corrupted, or moved from another column)."""


@dataclass(frozen=True)
class KeyRing:
    primary: str
    keys: dict[str, bytes]


@functools.lru_cache(maxsize=8)
def parse_keys(spec: str) -> KeyRing:
    """Parse ``kid:base64key,…``; every key must be 32 bytes. Fails loudly (the service must not start half-keyed)."""
    keys: dict[str, bytes] = {}
    primary = None
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not _KEY_ID.fullmatch(kid):
            raise ConfigError("FIELD_ENCRYPTION_KEYS entries must look like kid:base64key")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"FIELD_ENCRYPTION_KEYS: key {kid!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise ConfigError(f"FIELD_ENCRYPTION_KEYS: key {kid!r} must be {KEY_BYTES} bytes (AES-256)")
        if kid in keys:
            raise ConfigError(f"FIELD_ENCRYPTION_KEYS: key id {kid!r} appears twice")
        keys[kid] = key
        primary = primary or kid
    if primary is None:
        raise ConfigError("FIELD_ENCRYPTION_KEYS is empty")
    return KeyRing(primary, keys)


@functools.lru_cache(maxsize=8)
def _lookup_key(encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("LOOKUP_HASH_KEY is not valid base64") from None
    if len(key) < 32:
        raise ConfigError("LOOKUP_HASH_KEY must be at least 32 bytes")
    return key


def _ring() -> KeyRing:
    return parse_keys(current_app.config["FIELD_ENCRYPTION_KEYS"])


def _aad(purpose: str, kid: bytes) -> bytes:
    return purpose.encode() + b"\x00" + kid


def encrypt(plaintext: str, *, purpose: str) -> bytes:
    """Encrypt under the primary key with a fresh random nonce (so two encryptions of one value differ)."""
    ring = _ring()
    kid = ring.primary.encode("ascii")
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.primary]).encrypt(nonce, plaintext.encode(), _aad(purpose, kid))
    return bytes([FORMAT_VERSION, len(kid)]) + kid + nonce + sealed


def split(blob: bytes) -> tuple[str, bytes, bytes]:
    """``(key id, nonce, ciphertext with tag)`` of a stored value."""
    blob = bytes(blob)
    if len(blob) < 2 or blob[0] != FORMAT_VERSION:
        raise DecryptionFailed("unknown ciphertext format")
    kid_end = 2 + blob[1]
    kid = blob[2:kid_end]
    nonce, sealed = blob[kid_end : kid_end + NONCE_BYTES], blob[kid_end + NONCE_BYTES :]
    if len(nonce) != NONCE_BYTES or not sealed:
        raise DecryptionFailed("truncated ciphertext")
    return kid.decode("ascii"), nonce, sealed


def decrypt(blob: bytes, *, purpose: str) -> str:
    """Decrypt with the key the value names; any key in ``FIELD_ENCRYPTION_KEYS`` works, not just the primary."""
    kid, nonce, sealed = split(blob)
    key = _ring().keys.get(kid)
    if key is None:
        raise DecryptionFailed(f"key id {kid!r} is not configured")
    try:
        return AESGCM(key).decrypt(nonce, sealed, _aad(purpose, kid.encode("ascii"))).decode()
    except InvalidTag:
        raise DecryptionFailed("ciphertext does not authenticate") from None


def lookup_hash(value: str, *, purpose: str) -> bytes:
    """HMAC-SHA256 of a normalised value: equal inputs give equal hashes, for unique indexes and exact search."""
    key = _lookup_key(current_app.config["LOOKUP_HASH_KEY"])
    return hmac.new(key, purpose.encode() + b"\x00" + value.encode(), hashlib.sha256).digest()
