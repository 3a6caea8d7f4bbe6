"""A small per-process cache: key → value until its own expiry, thread-safe and bounded.

One per app (``app_cache(name)``; tests build several apps in one process). Used for what a request would otherwise
read again and again: revoked sessions, signed-in accounts, catalogue pages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app


class TTLCache:
    """key → (value, valid until); when full, expired entries are dropped, and if more than half are still live it is
    emptied (each caller then reads once more)."""

    def __init__(self, max_entries: int) -> None:
        self._entries: dict[Hashable, tuple[Any, float]] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: Hashable) -> Any:
        """The value, or None when absent or expired."""
        entry = self._entries.get(key)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, key: Hashable, value: Any, seconds: float) -> None:
        if seconds <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                # Full: drop what has expired; a cache still more than half full of live entries is emptied, so that
                # the next pass over it is at least max_entries / 2 puts away (a cache that stayed nearly full made
                # a pass on nearly every put).
                self._entries = {k: entry for k, entry in self._entries.items() if entry[1] >= now}
                if len(self._entries) > self.max_entries // 2:
                    self._entries.clear()
            self._entries[key] = (value, now + seconds)

    def discard_values(self, matches: Callable[[Any], bool]) -> None:
        """Drop every entry whose value ``matches`` (e.g. an account whose sessions were all revoked)."""
        with self._lock:
            for key in [key for key, (value, _until) in self._entries.items() if matches(value)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def app_cache(name: str, max_entries: int) -> TTLCache:
    """The current app's cache called ``name``."""
    return current_app.extensions.setdefault(f"linli_{name}_cache", TTLCache(max_entries))


# --- entries shared between processes through Redis -------------------------------------------------------------


def share(key: str, value: str, seconds: float) -> None:
    """Keep ``value`` under ``key`` in Redis for ``seconds`` as ``<valid until>:<value>``, so that another process
    copies it only for what is left of those seconds (best effort: Redis unreachable, nothing is shared)."""
    from app.extensions import redis_client

    entry = f"{time.time() + seconds:.0f}:{value}"
    redis_client.call(lambda client: client.set(key, entry, ex=int(seconds)), default=None)


def shared(raw: bytes | None) -> tuple[str, float] | None:
    """(value, seconds left) of an entry ``share`` wrote, as read from Redis; None when absent or expired."""
    if raw is None:
        return None
    until, _, value = raw.decode().partition(":")
    left = float(until or 0) - time.time()
    return (value, left) if left > 0 else None
