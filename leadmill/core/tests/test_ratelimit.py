import pytest

from leadmill.core.models import RateCounter
from leadmill.core.ratelimit import (
    _in_redis,
    rate_counters_prune,
    rate_limit_hit,
    rate_limits_in_memory_clear,
)

pytestmark = pytest.mark.django_db


def test_hits_up_to_the_limit_pass_and_the_next_gets_the_seconds_left_in_the_window():
    results = [rate_limit_hit(key="ip:1", limit=3, window_s=60, now=1_000_010.0) for _ in range(4)]

    assert results == [None, None, None, 11]
    assert RateCounter.objects.get(key="ip:1").hits == 4


def test_a_new_window_starts_a_new_count():
    for _ in range(3):
        rate_limit_hit(key="ip:2", limit=2, window_s=60, now=1_000_000.0)

    assert rate_limit_hit(key="ip:2", limit=2, window_s=60, now=1_000_061.0) is None


def test_keys_are_counted_apart():
    assert rate_limit_hit(key="a", limit=1, window_s=60, now=100.0) is None
    assert rate_limit_hit(key="b", limit=1, window_s=60, now=100.0) is None
    assert rate_limit_hit(key="a", limit=1, window_s=60, now=100.0) is not None


def test_redis_counts_when_configured(settings):
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    settings.REDIS_URL = url
    store = _in_redis(url).storage
    store.reset()

    results = [rate_limit_hit(key="ip:redis", limit=1, window_s=60) for _ in range(2)]

    assert results[0] is None
    assert 1 <= results[1] <= 61  # the seconds left in the window
    assert redis.Redis.from_url(url).keys("leadmill-rl*")
    assert not RateCounter.objects.exists()
    store.reset()


def test_without_redis_a_per_process_limit_is_counted_in_memory():
    rate_limits_in_memory_clear()

    results = [
        rate_limit_hit(key="collect:x", limit=2, window_s=60, shared=False) for _ in range(3)
    ]

    assert results[:2] == [None, None]
    assert 1 <= results[2] <= 61
    assert not RateCounter.objects.exists()
    rate_limits_in_memory_clear()
    assert rate_limit_hit(key="collect:x", limit=2, window_s=60, shared=False) is None


def test_old_windows_are_pruned():
    rate_limit_hit(key="old", limit=5, window_s=60, now=60.0)

    assert rate_counters_prune() == 1
    assert not RateCounter.objects.exists()
