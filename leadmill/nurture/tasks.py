"""Background entry points of nurture: thin, idempotent.

``nurture_tick`` runs every minute on one worker at a time. ``nurture_kick`` is queued after
a commit that enrolled contacts, so a first email leaves within seconds rather than at the
next minute: it drains, lingers a moment for more, and a kick queued while one runs exits
at once (the running one picks that work up).

Their locks expire (a cache key with a timeout, not Huey's ``lock_task``): a worker killed
mid-pass must not leave a lock that stops nurture until someone flushes it by hand. The work
itself is safe to overlap (``SKIP LOCKED`` batches, claimed messages), so a pass that outlives
its lock costs time, not correctness.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

from django.core.cache import cache
from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from .runner import nurture_pass

LINGER_S = 2.0
TICK_LOCK_S = 600
KICK_LOCK_S = 300
KICK_MAX_S = 240  # then the minute tick carries on


@contextlib.contextmanager
def expiring_lock(name: str, *, seconds: int) -> Iterator[bool]:
    """Yields True when this process holds ``name`` (for at most ``seconds``), else False."""
    key, token = f"leadmill.lock.{name}", uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=seconds)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)


@db_periodic_task(crontab(minute="*"))
def nurture_tick() -> None:
    """Every minute: segment sweep, due steps, due broadcasts, the send queue."""
    with expiring_lock("nurture.tick", seconds=TICK_LOCK_S) as acquired:
        if acquired:
            nurture_pass()


@db_task()
def nurture_kick() -> None:
    with expiring_lock("nurture.kick", seconds=KICK_LOCK_S) as acquired:
        if not acquired:
            return
        linger_s = 0.0 if HUEY.immediate else LINGER_S
        started = idle_since = time.monotonic()
        while time.monotonic() - started < KICK_MAX_S:
            if nurture_pass(sweep_segments=False, start_broadcasts=False).did_something:
                idle_since = time.monotonic()
                continue
            if time.monotonic() - idle_since >= linger_s:
                return
            time.sleep(0.2)


def nurture_kick_after_commit() -> None:
    """Queue a kick once the current transaction commits (at once outside one)."""
    transaction.on_commit(nurture_kick)
