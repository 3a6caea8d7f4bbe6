import pytest
import redis as redis_lib


def test_private_redis_can_be_stopped_and_started(private_redis):
    client = redis_lib.Redis.from_url(private_redis.url, socket_connect_timeout=0.2, socket_timeout=0.2)
    client.set("k", "v")
    private_redis.stop()
    with pytest.raises(redis_lib.ConnectionError):
        client.ping()
    private_redis.start()
    assert client.ping()
    assert client.get("k") is None  # nothing kept on disk: a restart loses everything, like CI's Redis
    client.close()
