"""Subscribers of the scoring app. Idempotent: events may arrive more than once.

A form, an identification, an edit or a merge rescores one lead from all its data
(:func:`.services.contacts_score_refresh`, a batch at a time: the handlers that take a
``batch`` are subscribed with ``batch=True``), so a repeated delivery finds nothing to change;
new tracking events rescore their lead from its events, so each counts once, in any order
(:func:`.services.score_apply_event`).
"""

from __future__ import annotations

from leadmill.capture.events import LeadCaptured
from leadmill.contacts.events import ContactsMerged, ContactUpdated
from leadmill.messaging.events import MessageClicked
from leadmill.tracking.events import ContactEventRecorded, ContactEventsIngested, VisitorIdentified

from . import services
from .models import FIT_FIELDS

# Contact fields whose change can move the fit score.
_FIT_INPUTS = frozenset({*FIT_FIELDS, "email", "custom"})


def score_captured_lead(batch: list[LeadCaptured]) -> None:
    """Leads were accepted from any channel (a batch handler): their points, an intent
    offer (hot at once), the fit of new details."""
    services.contacts_score_refresh(contact_ids=[event.contact_id for event in batch])


def score_identified_visitor(batch: list[VisitorIdentified]) -> None:
    """The behaviour visitors showed before they filled in a form now counts for their
    leads (a batch handler)."""
    services.contacts_score_refresh(contact_ids=[event.contact_id for event in batch])


def rescore_updated_contact(batch: list[ContactUpdated]) -> None:
    """People (or an import) changed fields the fit rules read (a batch handler)."""
    services.contacts_score_refresh(
        contact_ids=[event.contact_id for event in batch if _FIT_INPUTS.intersection(event.fields)]
    )


def rescore_merged_contact(batch: list[ContactsMerged]) -> None:
    """The survivors of merges now hold the other leads' events and submissions (a batch
    handler)."""
    services.contacts_score_refresh(contact_ids=[event.survivor_id for event in batch])


def score_recorded_event(event: ContactEventRecorded) -> None:
    """An email open or click (or another server-side event) of a lead: its points; a bot's
    (a mail scanner's) count nothing."""
    if not event.is_bot:
        services.score_apply_event(event_id=event.event_id)


def score_ingested_events(event: ContactEventsIngested) -> None:
    """An ingest batch held events of known leads: their points, one lead at a time."""
    services.score_events_apply(event_ids=event.event_ids)


def rescore_after_scanner_burst(event: MessageClicked) -> None:
    """A click proved the earlier clicks of its email a link scanner's: they may have been
    scored already, so the lead is recomputed without them."""
    if event.earlier_clicks_flagged and event.contact_id is not None:
        services.contact_score_refresh(contact_id=event.contact_id)
