"""Background entry points of capture: thin, idempotent."""

import time

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from leadmill.core import events
from leadmill.core.locks import ExpiringLock, Held

from . import services

LINGER_S = 1.0
# Renewed after every batch: a worker killed mid-drain leaves a lock that lapses within a
# minute, and one restarted on the same machine releases it at once.
PROCESS_LOCK = ExpiringLock("capture.submissions_process", seconds=60)
CATCH_UP_LOCK = ExpiringLock("capture.submissions_catch_up", seconds=60)


@db_task()
def submissions_process_task() -> None:
    """Process received submissions until none has arrived for a moment.

    One runs at a time (an expiring lock shared by every consumer); a second one queued
    meanwhile exits at once, since the first keeps polling before it stops.
    """
    with PROCESS_LOCK.hold() as held:
        if held:
            _drain(held, linger_s=0.0 if HUEY.immediate else LINGER_S)


def _drain(held: Held, *, linger_s: float) -> None:
    """Process batch after batch; each batch's events (its leads captured) are delivered
    here, before the next batch, not by a queued task (a lead's way to its owner costs no
    queue hop, and the next batch takes what arrived meanwhile)."""
    idle_since = time.monotonic()
    while held.renew():
        with events.delivered_here():
            processed = services.submissions_process()
        if processed:
            idle_since = time.monotonic()
            continue
        if time.monotonic() - idle_since >= linger_s:
            return
        time.sleep(0.05)


@db_periodic_task(crontab(minute="*"))
def submissions_catch_up() -> None:
    """Process what a crash or an unreachable queue left received, and the errors whose
    retry time has come (services.submissions_retry_due)."""
    with CATCH_UP_LOCK.hold() as held:
        if held:
            services.submissions_retry_due()
        while held.renew() and services.submissions_process():
            pass
