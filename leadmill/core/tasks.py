"""Background entry points of core: thin, idempotent."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import events


@db_task(retries=5, retry_delay=10)
def outbox_deliver(outbox_id: int) -> None:
    if not events.deliver(outbox_id):
        raise RuntimeError(f"outbox event {outbox_id} not delivered; retrying")


@db_periodic_task(crontab(minute="*"))
def outbox_sweep() -> None:
    events.sweep()
