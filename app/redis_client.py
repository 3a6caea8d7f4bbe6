"""The request-side Redis connection: short timeouts and a breaker so a Redis outage never stalls a request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from flask import Flask, current_app

log = logging.getLogger(__name__)
T = TypeVar("T")


class _AppRedis:
    """One app's connection and breaker state."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.down_until = 0.0
        self.lock = threading.Lock()


class RedisClient:
    """Wraps a ``redis.Redis`` for caches and revocation checks; callers say what to do when Redis is down.

    State lives on each app (``app.extensions``), so a second app (another Redis, in tests) leaves the first alone.
    """

    #: After a failure, skip Redis for this long instead of paying the timeout on every request.
    BREAKER_SECONDS = 5.0

    def init_app(self, app: Flask) -> None:
        timeout = app.config["REDIS_TIMEOUT"]
        client = redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=timeout, socket_connect_timeout=timeout)
        app.extensions["linli_redis"] = _AppRedis(client)

    @staticmethod
    def _state() -> _AppRedis:
        try:
            return current_app.extensions["linli_redis"]
        except KeyError:
            raise RuntimeError("RedisClient used before init_app") from None

    @property
    def client(self) -> redis.Redis:
        return self._state().client

    def is_down(self) -> bool:
        return time.monotonic() < self._state().down_until

    def call(self, fn: Callable[[redis.Redis], T], default: T) -> T:
        """Run ``fn(client)``; on any Redis error (or while the breaker is open) return ``default``."""
        state = self._state()
        if time.monotonic() < state.down_until:
            return default
        try:
            return fn(state.client)
        except redis.RedisError as error:
            with state.lock:
                state.down_until = time.monotonic() + self.BREAKER_SECONDS
            log.warning("redis unavailable, bypassing for %.0fs: %s", self.BREAKER_SECONDS, error)
            return default

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False


redis_client = RedisClient()


def worker_connection(url: str) -> redis.Redis:
    """A connection for RQ: blocking dequeues need no short socket timeout, but connecting stays bounded."""
    return redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
