"""Fixed-window rate limits counted in a store every process shares.

With Redis configured (``REDIS_URL``) the counters live in the Redis cache; otherwise in the
``core_ratecounter`` table, bumped by one ``INSERT … ON CONFLICT … RETURNING`` statement
(atomic on SQLite and PostgreSQL, unlike the database cache's read-then-write ``incr``).
Old windows are deleted by a periodic task.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection

_UPSERT = (
    "INSERT INTO core_ratecounter (key, window_start, hits) VALUES (%s, %s, 1) "
    "ON CONFLICT (key, window_start) DO UPDATE SET hits = core_ratecounter.hits + 1 "
    "RETURNING hits"
)


def _hits_in_database(key: str, window_start: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [key[:200], window_start])
        return cursor.fetchone()[0]


def _hits_in_cache(key: str, window_start: int, window_s: int) -> int:
    cache_key = f"rl:{key}:{window_start}"
    if cache.add(cache_key, 1, timeout=window_s + 1):
        return 1
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window_s + 1)
        return 1


def rate_limit_hit(*, key: str, limit: int, window_s: int, now: float | None = None) -> int | None:
    """Count one hit on ``key``. Returns None while at most ``limit`` hits fell in the
    current window, else the seconds until the window ends (for Retry-After)."""
    now = now if now is not None else time.time()
    window_start = int(now // window_s) * window_s
    if settings.REDIS_URL:
        hits = _hits_in_cache(key, window_start, window_s)
    else:
        hits = _hits_in_database(key, window_start)
    if hits > limit:
        return max(1, int(window_start + window_s - now) + 1)
    return None


def rate_counters_prune(*, older_than_s: int = 3600) -> int:
    """Delete counters of windows that ended long ago. Returns how many rows went."""
    from .models import RateCounter

    deleted, _ = RateCounter.objects.filter(window_start__lt=int(time.time()) - older_than_s).delete()
    return deleted
