"""Background entry points of core: thin, idempotent."""

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from . import events
from .locks import ExpiringLock

# Ahead of the other tasks in the queue: a lead's way to its owner goes through it.
OUTBOX_PRIORITY = 10


@db_task(priority=OUTBOX_PRIORITY)
def outbox_deliver(outbox_ids: list[int]) -> None:
    """Deliver the events one transaction published, then those its handlers published in
    turn (:func:`events.deliver_chain`). A failing handler is not retried by Huey: its
    delivery row holds when it is due, and the sweep runs it then."""
    events.deliver_chain(outbox_ids)


@db_periodic_task(crontab(minute="*"))
def outbox_sweep() -> None:
    """Every minute: what a crash left undelivered, and the retries that are due."""
    events.sweep()


OUTBOX_RETENTION_LOCK = ExpiringLock("core.outbox_retention", seconds=600)


@db_periodic_task(crontab(minute="7", hour="*"))
def outbox_retention() -> None:
    """Every hour: delete delivered outbox events older than LEADMILL_OUTBOX_RETENTION_DAYS
    (0 keeps all); undelivered ones stay for the sweep."""
    days = settings.LEADMILL_OUTBOX_RETENTION_DAYS
    if days > 0:
        with OUTBOX_RETENTION_LOCK.hold() as held:
            if held:
                events.outbox_prune(older_than_days=days, keep_going=held.renew)


@db_periodic_task(crontab(minute="*"))
def planner_statistics_refresh() -> None:
    """Every minute: ANALYZE our tables whose statistics are stale (PostgreSQL; ADR 0058)."""
    from .db import planner_statistics_refresh as refresh

    refresh()


@db_periodic_task(crontab(minute="*/10"))
def rate_counters_prune() -> None:
    from .ratelimit import rate_counters_prune as prune

    prune()


@db_periodic_task(crontab(minute="*"))
def pages_publish_scheduled() -> None:
    """Wagtail's scheduled publishing and unpublishing (go-live / expiry dates)."""
    from django.core.management import call_command

    call_command("publish_scheduled", verbosity=0)


@db_periodic_task(crontab(minute="17", hour="3"))
def sessions_clear() -> None:
    from django.core.management import call_command

    call_command("clearsessions", verbosity=0)


@HUEY.on_startup("leadmill.startup_objects_freeze")
def startup_objects_freeze() -> None:
    """The consumer's modules and settings, loaded by now, are left out of the garbage
    collector's full passes (core.memory)."""
    from .memory import startup_objects_freeze as freeze

    freeze()


@HUEY.on_startup("leadmill.locks_release_dead")
def locks_release_dead() -> None:
    """A consumer that starts frees the task locks a killed worker of this machine left."""
    from .locks import locks_release_dead as release

    release()
