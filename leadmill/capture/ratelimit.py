"""Fixed-window counters in the cache shared by every process (database cache or Redis)."""

from __future__ import annotations

import time

from django.core.cache import cache


def rate_limit_hit(*, key: str, limit: int, window_s: int, now: float | None = None) -> int | None:
    """Count one hit on ``key``. Returns None while under ``limit`` in the current window,
    else the seconds until the window ends (the Retry-After)."""
    now = now if now is not None else time.time()
    window = int(now // window_s)
    cache_key = f"rl:{key}:{window}"
    if cache.add(cache_key, 1, timeout=window_s + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=window_s + 1)
            count = 1
    if count > limit:
        return max(1, int((window + 1) * window_s - now) + 1)
    return None
