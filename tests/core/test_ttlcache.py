"""The per-process cache: entries live until their own expiry; a full cache first drops what has expired."""

import pytest

from app import ttlcache
from app.ttlcache import TTLCache


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """``clock[0]`` is what ``time.monotonic`` answers in the cache."""
    now = [100.0]
    monkeypatch.setattr(ttlcache.time, "monotonic", lambda: now[0])
    return now


def test_an_entry_lives_until_its_own_expiry(clock):
    cache = TTLCache(max_entries=10)
    cache.put("page", b"{}", 5)
    clock[0] = 104.9
    assert cache.get("page") == b"{}"
    clock[0] = 105.1
    assert cache.get("page") is None


def test_a_full_cache_drops_expired_entries_and_keeps_live_ones(clock):
    cache = TTLCache(max_entries=3)
    cache.put("old", 1, 1)
    cache.put("scope", 2, 60)
    cache.put("older", 3, 1)
    clock[0] = 102.0  # "old" and "older" have expired
    cache.put("new", 4, 5)
    assert (cache.get("scope"), cache.get("new")) == (2, 4)


def test_a_cache_still_more_than_half_full_of_live_entries_is_emptied(clock):
    cache = TTLCache(max_entries=4)
    for key in "abc":
        cache.put(key, key, 60)
    cache.put("gone", 0, 1)
    clock[0] = 102.0  # one expired, three (more than half) still live
    cache.put("e", "e", 60)
    assert [cache.get(key) for key in "abce"] == [None, None, None, "e"]
