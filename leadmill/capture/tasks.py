"""Background entry points of capture: thin, idempotent."""

import threading
import time

from django.conf import settings
from django.db import connection
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from leadmill.core import events
from leadmill.core.db import planner_statistics_due
from leadmill.core.locks import ExpiringLock, Held, locks_release_dead
from leadmill.core.tasks import planner_statistics_refresh as planner_statistics_refresh_task

from . import reminders, services

LINGER_S = 1.0
# One lock per drain that may run at once (LEADMILL_INTAKE_DRAINS, at most this many), the
# first with the one lock's name of earlier versions. Renewed after every batch: a worker
# killed mid-drain leaves a lock that lapses within a minute, and one restarted on the same
# machine releases it at once.
MAX_DRAINS = 4
PROCESS_LOCKS = tuple(
    ExpiringLock("capture.submissions_process" + (f".{n}" if n > 1 else ""), seconds=60)
    for n in range(1, MAX_DRAINS + 1)
)
PROCESS_LOCK = PROCESS_LOCKS[0]
# Events taken per round besides the batch's: an API lead publishes two (ADR 51).
CLAIM_LIMIT = 400
CATCH_UP_LOCK = ExpiringLock("capture.submissions_catch_up", seconds=60)


def drains_allowed() -> int:
    """How many drains may run at once: ``LEADMILL_INTAKE_DRAINS`` on PostgreSQL, whose
    batches skip each other's rows (``SKIP LOCKED``) and lock what they share in id order;
    one on SQLite, whose single writer two drains would only queue for (ADR 42)."""
    if connection.vendor != "postgresql":
        return 1
    return max(1, min(settings.LEADMILL_INTAKE_DRAINS, MAX_DRAINS))


@db_task()
def submissions_process_task() -> None:
    """Process received submissions until none has arrived for a moment.

    At most :func:`drains_allowed` run at once (one expiring lock each, shared by every
    consumer); one queued while they all run exits at once, since they keep polling
    before they stop. Under load, the tasks queued as posts arrive start the next drain.

    A drain looks once more after it released its lock: a post committed while it was
    letting go found the lock still held, so its own task exited, and nothing else would
    take it before the periodic catch-up. A drain that finds every lock held leaves the
    look to their holders, who each take it after releasing.
    """
    while _drain_once() and services.submissions_waiting():
        pass


def _drain_once(*, linger_s: float | None = None) -> bool:
    """Drain under the first free lock; False when every lock was held by another."""
    if linger_s is None:
        linger_s = 0.0 if HUEY.immediate else LINGER_S
    for lock in PROCESS_LOCKS[: drains_allowed()]:
        with lock.hold() as held:
            if held:
                _drain(held, linger_s=linger_s)
                return True
    return False


_started = threading.Event()


@HUEY.on_startup("capture.drain_on_start")
def drain_on_start() -> None:
    """A consumer that starts drains what was received while no worker ran: the tasks the
    web queued then may all have run into the lock a killed worker left, before it was
    released. Every worker thread runs the startup hooks; the first queues the drain (a
    second, in a race, queues one more, which finds the lock held)."""
    if _started.is_set():
        return
    _started.set()
    locks_release_dead()
    if services.submissions_waiting():
        submissions_process_task()


def _drain(held: Held, *, linger_s: float) -> None:
    """Process batch after batch; each batch's events (its leads captured) are delivered
    here, before the next batch, not by a queued task (a lead's way to its owner costs no
    queue hop, and the next batch takes what arrived meanwhile). With them go the events
    left for a claim (those of the leads the API processed in its requests, ADR 51)."""
    idle_since = time.monotonic()
    while held.renew():
        with events.delivered_here():
            processed = services.submissions_process()
            claimed = events.outbox_due_claim(limit=CLAIM_LIMIT)
            events.deliver_claimed(claimed)
        if processed or claimed:
            idle_since = time.monotonic()
            # A burst of leads into a new install's tables would be planned as if they
            # were empty (ADR 0058): the statistics are refreshed by a task of their own, so
            # this drain does not stop for the ANALYZE (ADR 67).
            if planner_statistics_due():
                planner_statistics_refresh_task()
            continue
        if time.monotonic() - idle_since >= linger_s:
            return
        time.sleep(0.05)


@db_periodic_task(crontab(minute="*"))
def submissions_catch_up() -> None:
    """Process what a crash or an unreachable queue left received, and the errors whose
    retry time has come (services.submissions_retry_due).

    It drains as a queued drain does, under a free drain lock, so its leads' events are
    delivered in this thread at once; a catch-up that processed a batch beside running
    drains used to queue their delivery as a task, which waited seconds behind the queue
    (ADR 67). With every drain lock held, the running drains take what is left."""
    with CATCH_UP_LOCK.hold() as held:
        if held:
            services.submissions_retry_due()
    if services.submissions_waiting():
        _drain_once(linger_s=0.0)


@db_periodic_task(crontab(minute="*"))
def event_reminders_task() -> None:
    """Email the webinar and event reminders now due (reminders.event_reminders_send: each
    once per registrant, however many consumers run this at once)."""
    reminders.event_reminders_send()
