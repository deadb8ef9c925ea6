"""Background entry points of analytics: thin and idempotent."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from leadmill.core.locks import ExpiringLock

from . import digest, services, tail


@db_periodic_task(crontab(minute="*/15"))
@ExpiringLock("analytics.counts_fill", seconds=3600)
def counts_fill() -> None:
    """Every quarter of an hour: count the days that ended and correct the late ones."""
    services.counts_fill()


@db_periodic_task(crontab(minute="*"))
@ExpiringLock("analytics.tail_keep_warm", seconds=300)
def tail_keep_warm() -> None:
    """Every minute, while someone reads the reports: today's numbers counted again, and
    the segments' members and the leads' scores the reports read, so no screen waits for
    them (ADR 66, 69)."""
    tail.tail_keep_warm()
    tail.readings_keep_warm()


@db_periodic_task(crontab(day_of_week="1", hour="7", minute="0"))
@ExpiringLock("analytics.digests_send", seconds=3600)
def digests_send() -> None:
    """Mondays at 07:00: last week's digest to the users chosen for it."""
    digest.digests_send()
