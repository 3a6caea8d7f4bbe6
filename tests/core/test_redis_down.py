"""With Redis stopped, requests neither stall nor fail: limits fall back to memory, health says degraded."""

import time

import pytest
from flask.views import MethodView

from app.api import Blueprint
from app.auth import require
from app.extensions import limiter
from tests.conftest import extra_app

probe = Blueprint("redis_probe", __name__, url_prefix="/api/v1/test-probe/redis")


@probe.route("")
class LimitedProbe(MethodView):
    @probe.response(201)
    @limiter.limit("3 per minute")
    @require(public=True)
    def post(self):
        """A rate-limited create, for the Redis-down test"""
        return {"ok": True}


@pytest.fixture
def redis_down_app(database_url, private_redis):
    with extra_app(database_url, private_redis.url, extra_blueprints=(probe,), RATELIMIT_ENABLED=True) as app:
        yield app


def timed(call):
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_with_redis_down_get_and_rate_limited_post_answer_fast(redis_down_app, private_redis, outage):
    client = redis_down_app.test_client()
    assert client.post("/api/v1/test-probe/redis").status_code == 201  # Redis up: counted in Redis
    if outage == "stopped":
        private_redis.stop()
    else:
        private_redis.pause()  # accepts connections, never answers: only timeouts save us

    health, seconds = timed(lambda: client.get("/healthz"))
    assert health.status_code == 200
    assert health.json == {"status": "degraded", "database": "ok", "redis": "down"}
    assert seconds < 0.5

    statuses = []
    for _ in range(4):
        response, seconds = timed(lambda: client.post("/api/v1/test-probe/redis"))
        statuses.append(response.status_code)
        assert seconds < 0.5, f"a request took {seconds:.3f}s with Redis down"
    # The in-memory fallback still limits (3 per minute, counted afresh in memory; how a timed-out hit is
    # counted differs between a refused and a frozen server), and never answers 5xx.
    assert statuses[0] == 201
    assert statuses[-1] == 429
    assert set(statuses) <= {201, 429}
    limited = client.post("/api/v1/test-probe/redis")
    assert limited.json["code"] == "rate_limited"
    assert limited.json["message"] == "请求过于频繁，请稍后再试"


def test_an_app_built_on_another_redis_leaves_the_main_app_alone(client, database_url, private_redis):
    with extra_app(database_url, private_redis.url, RATELIMIT_ENABLED=True):
        private_redis.stop()
    assert client.get("/healthz").json == {"status": "ok", "database": "ok", "redis": "ok"}
