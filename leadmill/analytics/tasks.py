"""Background entry points of analytics: thin and idempotent."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from leadmill.core.locks import ExpiringLock

from . import services


@db_periodic_task(crontab(minute="*/15"))
@ExpiringLock("analytics.counts_fill", seconds=3600)
def counts_fill() -> None:
    """Every quarter of an hour: count the days that ended and correct the late ones."""
    services.counts_fill()
