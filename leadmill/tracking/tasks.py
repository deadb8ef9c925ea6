"""Background entry points of tracking: thin, idempotent."""

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import services


@db_periodic_task(crontab(minute="23"))
@lock_task("tracking-events-retention")
def events_retention() -> None:
    """Every hour: delete raw events older than LEADMILL_EVENT_RETENTION_DAYS (0 keeps all)."""
    days = settings.LEADMILL_EVENT_RETENTION_DAYS
    if days > 0:
        services.events_prune(older_than_days=days)


@db_periodic_task(crontab(minute="*"))
@lock_task("tracking-visitors-sync")
def visitors_sync() -> None:
    """Every minute: write the visitors' rows from the events stored since the last run."""
    services.visitors_sync()
