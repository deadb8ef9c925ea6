from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .services import deliveries_send_due


@db_task()
def deliveries_send_task() -> None:
    """Send what is due, batch after batch, until nothing is."""
    while deliveries_send_due():
        pass


@db_periodic_task(crontab(minute="*"))
def deliveries_send_periodic() -> None:
    """Retries that came due, and what a killed worker left leased."""
    while deliveries_send_due():
        pass
