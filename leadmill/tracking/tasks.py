"""Background entry points of tracking: thin, idempotent."""

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from leadmill.core.locks import ExpiringLock

from . import services

RETENTION_LOCK = ExpiringLock("tracking.events_retention", seconds=600)


@db_periodic_task(crontab(minute="*/10"))
def events_retention() -> None:
    """Every ten minutes: delete raw events older than LEADMILL_EVENT_RETENTION_DAYS (0 keeps
    all), until none is left; its lock is renewed after every slice."""
    days = settings.LEADMILL_EVENT_RETENTION_DAYS
    if days > 0:
        with RETENTION_LOCK.hold() as held:
            if held:
                services.events_prune(older_than_days=days, keep_going=held.renew)


@db_periodic_task(crontab(minute="*"))
@ExpiringLock("tracking.visitors_sync", seconds=300)
def visitors_sync() -> None:
    """Every minute: write the visitors' rows from the events stored since the last run."""
    services.visitors_sync()
