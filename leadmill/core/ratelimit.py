"""The one rate-limit interface: :func:`rate_limit_hit`, fixed windows, three stores
(docs/adr/0028-one-rate-limit-interface.md).

- With Redis configured (``REDIS_URL``) every process counts in Redis, through the
  ``limits`` library (one round trip per hit).
- Without Redis, in the database: the ``core_ratecounter`` table, bumped by one
  ``INSERT … ON CONFLICT … RETURNING`` statement (atomic on SQLite and PostgreSQL).
  Old windows are deleted by a periodic task.
- A caller whose limit may be counted per process (``shared=False``: the tracking collect
  endpoint, whose events create no contacts) skips the database without Redis: its
  counters live in this process's memory (``limits``' memory store), so the effective
  limit is ``limit`` times the number of web processes.

The form post's own limits (per address, per render token) are the database store of the
same rule written into the submission's insert (capture/services.py: the post's one
statement); sign-in throttling is django-axes' (its lock-out is more than a count).
"""

from __future__ import annotations

import functools
import time

from django.conf import settings
from django.db import connection
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import FixedWindowRateLimiter

from .db import NO_FLUSH_WAIT, no_flush_wait_applies

_UPSERT = (
    "INSERT INTO core_ratecounter (key, window_start, hits) VALUES (%s, %s, 1) "
    "ON CONFLICT (key, window_start) DO UPDATE SET hits = core_ratecounter.hits + 1 "
    "RETURNING hits"
)
# On PostgreSQL, outside a transaction, the statement's own commit does not wait for the WAL
# flush (core.db's NO_FLUSH_WAIT). Every request of one API key bumps the same row, and its
# lock is held until the commit: with a flush per commit the key's requests went one at a
# time, a few milliseconds each (bench/pg_activity.py found this statement running in 73 % of
# the samples of an API phase at 200 posts/s). A crash of the database server itself may
# forget the last few hundred milliseconds of counts: a few more requests get through.
_UPSERT_NO_FLUSH_WAIT = (
    "INSERT INTO core_ratecounter (key, window_start, hits) SELECT %s, %s, 1 "
    f"WHERE {NO_FLUSH_WAIT} "
    "ON CONFLICT (key, window_start) DO UPDATE SET hits = core_ratecounter.hits + 1 "
    "RETURNING hits"
)


def _hit_in_database(key: str, limit: int, window_s: int, now: float) -> int | None:
    window_start = int(now // window_s) * window_s
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT_NO_FLUSH_WAIT if no_flush_wait_applies() else _UPSERT,
            [key[:200], window_start],
        )
        hits = cursor.fetchone()[0]
    return max(1, int(window_start + window_s - now) + 1) if hits > limit else None


_in_memory = FixedWindowRateLimiter(MemoryStorage())


@functools.lru_cache(maxsize=4)
def _in_redis(url: str) -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(RedisStorage(url, key_prefix="leadmill-rl"))


def _hit_in(limiter: FixedWindowRateLimiter, key: str, limit: int, window_s: int) -> int | None:
    item = RateLimitItemPerSecond(limit, window_s)
    if limiter.hit(item, key):
        return None
    return max(1, int(limiter.get_window_stats(item, key).reset_time - time.time()) + 1)


def rate_limits_in_memory_clear() -> None:
    """Forget this process's in-memory counters (tests start from zero)."""
    _in_memory.storage.reset()


def rate_limit_hit(
    *, key: str, limit: int, window_s: int, now: float | None = None, shared: bool = True
) -> int | None:
    """Count one hit on ``key``. Returns None while at most ``limit`` hits fell in the
    current window, else the seconds until the window ends (for Retry-After).

    ``shared=False``: without Redis, count in this process's memory instead of the database
    (no write on the request path; each web process then allows ``limit`` on its own).
    ``now`` (tests) places the hit in time in the database store; Redis and memory count
    by the clock. Raises Redis' connection errors when it cannot be reached (503 at the
    edge, :func:`leadmill.core.middleware.is_unavailable`)."""
    if settings.REDIS_URL:
        return _hit_in(_in_redis(settings.REDIS_URL), key, limit, window_s)
    if not shared:
        return _hit_in(_in_memory, key, limit, window_s)
    return _hit_in_database(key, limit, window_s, now if now is not None else time.time())


def rate_counters_prune(*, older_than_s: int = 3600) -> int:
    """Delete counters of windows that ended long ago. Returns how many rows went."""
    from .models import RateCounter

    deleted, _ = RateCounter.objects.filter(
        window_start__lt=int(time.time()) - older_than_s
    ).delete()
    return deleted
