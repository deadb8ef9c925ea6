"""Background entry points of the API: thin, idempotent."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .idempotency import idempotent_requests_prune


@db_periodic_task(crontab(minute="23", hour="*"))
def idempotent_requests_expire() -> None:
    """Every hour: forget the Idempotency-Key answers older than 24 hours."""
    idempotent_requests_prune()
