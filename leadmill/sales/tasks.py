"""Background entry points of sales: thin, idempotent (each email is sent once per lead)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from leadmill.core.locks import ExpiringLock

from . import notifications


@db_task(retries=3, retry_delay=60)
def new_leads_alert(lead_ids: list[int]) -> None:
    notifications.new_leads_alert_send(lead_ids=lead_ids)


# What an older version queued still runs after an upgrade (the owner's email is now sent
# by the OwnerAssigned handler, handlers.notify_new_owner).
@db_task(retries=3, retry_delay=60)
def lead_assigned_notify(lead_id: int) -> None:
    notifications.leads_assigned_send(lead_ids=[lead_id])


@db_task(retries=3, retry_delay=60)
def new_lead_alert(lead_id: int) -> None:
    notifications.new_leads_alert_send(lead_ids=[lead_id])


@db_periodic_task(crontab(minute="*/5"))
@ExpiringLock("sales.sla_warnings", seconds=300)
def sla_warnings() -> None:
    """Every five minutes: warn owners of leads past their SLA with no activity."""
    notifications.sla_warnings_send()


@db_periodic_task(crontab(minute="*/10"))
@ExpiringLock("sales.unowned_leads", seconds=600)
def unowned_leads_assign() -> None:
    """Every ten minutes: leads that found no available rep try again."""
    from .services import leads_unowned_assign  # services queue this module's tasks

    leads_unowned_assign()
