"""Fixed-window rate limits counted in a store every process shares.

With Redis configured (``REDIS_URL``) the counters live in the Redis cache; otherwise in the
``core_ratecounter`` table, bumped by one ``INSERT … ON CONFLICT … RETURNING`` statement
(atomic on SQLite and PostgreSQL, unlike the database cache's read-then-write ``incr``).
Old windows are deleted by a periodic task.

A caller whose limit may be counted per process (``shared=False``: the tracking collect
endpoint, whose events create no contacts) skips the database without Redis: its counters
live in this process's memory, so the effective limit is ``limit`` times the number of web
processes. Form posts keep the shared count.
"""

from __future__ import annotations

import threading
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


_MEMORY_MAX_KEYS = 100_000  # past this many keys, windows that ended are dropped
_memory: dict[tuple[str, int, int], int] = {}
_memory_lock = threading.Lock()


def _hits_in_memory(key: str, window_start: int, window_s: int) -> int:
    counter = (key, window_s, window_start)
    with _memory_lock:
        if len(_memory) >= _MEMORY_MAX_KEYS and counter not in _memory:
            for stale in [item for item in _memory if item[2] + item[1] <= window_start]:
                del _memory[stale]
            if len(_memory) >= _MEMORY_MAX_KEYS:  # a flood of distinct keys in one window
                _memory.clear()
        hits = _memory.get(counter, 0) + 1
        _memory[counter] = hits
    return hits


def rate_limits_in_memory_clear() -> None:
    """Forget this process's in-memory counters (tests start from zero)."""
    with _memory_lock:
        _memory.clear()


def rate_limit_hit(
    *, key: str, limit: int, window_s: int, now: float | None = None, shared: bool = True
) -> int | None:
    """Count one hit on ``key``. Returns None while at most ``limit`` hits fell in the
    current window, else the seconds until the window ends (for Retry-After).

    ``shared=False``: without Redis, count in this process's memory instead of the database
    (no write on the request path; each web process then allows ``limit`` on its own)."""
    now = now if now is not None else time.time()
    window_start = int(now // window_s) * window_s
    if settings.REDIS_URL:
        hits = _hits_in_cache(key, window_start, window_s)
    elif not shared:
        hits = _hits_in_memory(key, window_start, window_s)
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
