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


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_count_commits_without_waiting_for_the_flush_and_counts_right():
    """Every request of one API key bumps one row, locked until its commit: on PostgreSQL
    that commit does not wait for the WAL flush, for that statement only."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as seen:
        results = [
            rate_limit_hit(key="api-key:7", limit=2, window_s=60, now=500.0) for _ in range(3)
        ]

    assert results == [None, None, 41]  # the third waits for the window (480–540 s) to end
    assert RateCounter.objects.get(key="api-key:7").hits == 3
    upserts = [q["sql"] for q in seen.captured_queries if "core_ratecounter" in q["sql"]]
    assert len(upserts) == 3
    postgres = connection.vendor == "postgresql"
    assert all(("synchronous_commit" in sql) == postgres for sql in upserts)
    if postgres:  # SET LOCAL: the session's own setting is untouched afterwards
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"


def test_inside_a_transaction_the_count_leaves_the_transactions_commit_alone():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as seen:
        assert rate_limit_hit(key="api-key:8", limit=5, window_s=60, now=500.0) is None

    [upsert] = [q["sql"] for q in seen.captured_queries if "core_ratecounter" in q["sql"]]
    assert "synchronous_commit" not in upsert
