"""Background entry points of nurture: thin, idempotent.

``nurture_tick`` runs every minute on one worker at a time. ``nurture_kick`` is queued after
a commit that enrolled contacts, so a first email leaves within seconds rather than at the
next minute: it drains, lingers a moment for more, and a kick queued while one runs exits
at once (the running one picks that work up).

Their locks expire (:mod:`leadmill.core.locks`): a worker killed mid-pass must not leave a
lock that stops nurture until someone flushes it by hand. The work itself is safe to overlap
(``SKIP LOCKED`` batches, claimed messages), so a pass that outlives its lock costs time, not
correctness.
"""

from __future__ import annotations

import time

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from leadmill.core.locks import ExpiringLock

from .runner import nurture_pass

LINGER_S = 2.0
TICK_LOCK_S = 600
KICK_LOCK_S = 300
KICK_MAX_S = 240  # then the minute tick carries on
TICK_LOCK = ExpiringLock("nurture.tick", seconds=TICK_LOCK_S)
KICK_LOCK = ExpiringLock("nurture.kick", seconds=KICK_LOCK_S)


@db_periodic_task(crontab(minute="*"))
def nurture_tick() -> None:
    """Every minute: segment sweep, due steps, due broadcasts, the send queue. While a kick
    runs, it walks the due steps itself: the tick leaves them to it rather than walk the
    same queue in a second thread beside it (ADR 68)."""
    with TICK_LOCK.hold() as held:
        if not held:
            return
        with KICK_LOCK.hold() as kick_idle:
            pass  # let go at once: a kick queued during the pass must be able to run
        nurture_pass(advance_steps=bool(kick_idle))


@db_task()
def nurture_kick() -> None:
    with KICK_LOCK.hold() as held:
        if not held:
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
