"""Subscribers of the analytics app. Idempotent (events arrive at least once)."""

from __future__ import annotations

from leadmill.core import events
from leadmill.tracking.events import VisitorIdentified

from .models import JourneyChange


def note_journey_change(event: VisitorIdentified) -> None:
    """A browser identified as a lead attached its earlier events to it: the lead's
    journey may have changed, and with it its shares under the attribution models. Noted
    for the next fill, which counts the lead's days again (ADR 65); a repeated delivery
    notes it twice, which counts them once."""
    if event.events_attached:
        JourneyChange.objects.create(contact_id=event.contact_id)


def subscribe_all() -> None:
    """Subscribe analytics' handlers on the event bus (called from ``AnalyticsConfig.ready``)."""
    events.subscribe(VisitorIdentified, note_journey_change)
