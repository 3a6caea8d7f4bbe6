"""The request-side Redis connection: short timeouts and a breaker so a Redis outage never stalls a request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from flask import Flask

log = logging.getLogger(__name__)
T = TypeVar("T")


class RedisClient:
    """Wraps a ``redis.Redis`` for caches and revocation checks; callers say what to do when Redis is down."""

    #: After a failure, skip Redis for this long instead of paying the timeout on every request.
    BREAKER_SECONDS = 5.0

    def __init__(self) -> None:
        self._client: redis.Redis | None = None
        self._down_until = 0.0
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        timeout = app.config["REDIS_TIMEOUT"]
        self._client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._down_until = 0.0
        app.extensions["linli_redis"] = self

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            raise RuntimeError("RedisClient used before init_app")
        return self._client

    def is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def call(self, fn: Callable[[redis.Redis], T], default: T) -> T:
        """Run ``fn(client)``; on any Redis error (or while the breaker is open) return ``default``."""
        if self.is_down():
            return default
        try:
            return fn(self.client)
        except redis.RedisError as error:
            with self._lock:
                self._down_until = time.monotonic() + self.BREAKER_SECONDS
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
