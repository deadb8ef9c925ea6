"""Background entry points of capture: thin, idempotent."""

import time

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from . import services

LINGER_S = 1.0


@db_task()
def submissions_process_task() -> None:
    """Process received submissions until none has arrived for a moment.

    One runs at a time (a lock shared by every consumer); a second one queued meanwhile
    exits at once, since the first keeps polling before it stops.
    """
    try:
        with HUEY.lock_task("capture.submissions_process"):
            _drain(linger_s=0.0 if HUEY.immediate else LINGER_S)
    except TaskLockedException:
        return


def _drain(*, linger_s: float) -> None:
    idle_since = time.monotonic()
    while True:
        if services.submissions_process():
            idle_since = time.monotonic()
            continue
        if time.monotonic() - idle_since >= linger_s:
            return
        time.sleep(0.05)


@db_periodic_task(crontab(minute="*"))
@lock_task("capture.submissions_catch_up")
def submissions_catch_up() -> None:
    """Process what a crash or an unreachable queue left received, and the errors whose
    retry time has come (services.submissions_retry_due)."""
    services.submissions_retry_due()
    while services.submissions_process():
        pass
