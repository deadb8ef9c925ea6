"""Subscribers of the sales app. Idempotent: events may arrive more than once."""

from __future__ import annotations

from leadmill.contacts.events import StageChanged
from leadmill.contacts.models import Contact, LifecycleStage
from leadmill.nurture.events import OwnerNotificationRequested

from .notifications import sequence_step_notification_send
from .services import lead_assign


def assign_new_mql(event: StageChanged) -> None:
    """A contact became an MQL: hand it to sales (once; an assigned lead is left as it is)."""
    if event.to_stage != LifecycleStage.MQL:
        return
    contact = Contact.objects.filter(pk=event.contact_id).first()
    if contact is None or contact.lifecycle_stage not in (LifecycleStage.MQL, LifecycleStage.SQL):
        return  # merged away, or it moved on (back to lead, disqualified, customer) before this ran
    lead_assign(contact=contact, mql_at=event.occurred_at)


def notify_owner_of_sequence_step(event: OwnerNotificationRequested) -> None:
    """A sequence reached a "notify owner" step: email the lead's owner its message (once)."""
    sequence_step_notification_send(request=event)
