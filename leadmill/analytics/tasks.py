"""Background entry points of analytics: thin and idempotent."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from leadmill.core.locks import ExpiringLock

from . import digest, services


@db_periodic_task(crontab(minute="*/15"))
@ExpiringLock("analytics.counts_fill", seconds=3600)
def counts_fill() -> None:
    """Every quarter of an hour: count the days that ended and correct the late ones."""
    services.counts_fill()


@db_periodic_task(crontab(day_of_week="1", hour="7", minute="0"))
@ExpiringLock("analytics.digests_send", seconds=3600)
def digests_send() -> None:
    """Mondays at 07:00: last week's digest to the users chosen for it."""
    digest.digests_send()
