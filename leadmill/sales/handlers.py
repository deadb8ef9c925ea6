"""Subscribers of the sales app. Idempotent: events may arrive more than once."""

from __future__ import annotations

from leadmill.contacts.events import StageChanged
from leadmill.contacts.models import Contact, LifecycleStage
from leadmill.nurture.events import OwnerNotificationRequested

from .events import OwnerAssigned
from .notifications import leads_assigned_send, sequence_step_notification_send
from .services import leads_assign


def assign_new_mql(batch: list[StageChanged]) -> None:
    """Contacts became MQLs (a batch handler): hand them to sales, in one transaction
    (once; an assigned lead is left as it is)."""
    mql_at: dict[int, object] = {}
    for event in batch:
        if event.to_stage == LifecycleStage.MQL:
            mql_at.setdefault(event.contact_id, event.occurred_at)
    if not mql_at:
        return
    # Merged away, or moved on (back to lead, disqualified, customer) before this ran: left.
    contacts = list(
        Contact.objects.filter(
            pk__in=sorted(mql_at), lifecycle_stage__in=(LifecycleStage.MQL, LifecycleStage.SQL)
        ).order_by("pk")
    )
    if contacts:
        leads_assign(contacts=contacts, mql_at={c.pk: mql_at[c.pk] for c in contacts})


def notify_new_owner(batch: list[OwnerAssigned]) -> None:
    """Leads got their owners (a batch handler): email each owner "new lead for you", once
    per lead, over one mail connection, in the delivery that assigned them (no queue hop).
    A send that raises fails the delivery (the bus retries it, then keeps a dead letter);
    a mail server that cannot take the emails leaves them queued for the send queue."""
    leads_assigned_send(lead_ids=sorted({event.lead_id for event in batch}))


def notify_owner_of_sequence_step(event: OwnerNotificationRequested) -> None:
    """A sequence reached a "notify owner" step: email the lead's owner its message (once)."""
    sequence_step_notification_send(request=event)
