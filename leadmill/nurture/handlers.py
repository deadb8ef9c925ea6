"""Subscribers of the nurture app: enrolment triggers, exits, segment entry. Idempotent
(events arrive at least once): enrolment follows the re-enrolment policy and the one-active
constraint, exits only touch active enrollments."""

from __future__ import annotations

from leadmill.capture.events import LeadCaptured
from leadmill.consent.events import MarketingConsentWithdrawn
from leadmill.contacts.events import ContactCreated, ContactUpdated, StageChanged
from leadmill.core import events
from leadmill.scoring.events import ScoreChanged, TemperatureChanged
from leadmill.segments.events import StaticListChanged
from leadmill.tracking.events import ContactEventRecorded, ContactEventsIngested

from . import triggers
from .tasks import nurture_kick_after_commit


def enrol_captured_lead(batch: list[LeadCaptured]) -> None:
    """Leads were captured from any channel (a batch handler): sequences triggered by any
    capture, or by their form or offer, enrol them; they may also have entered a trigger
    segment."""
    enrolled = triggers.sequences_enrol_captured(
        leads=[(event.contact_id, event.form_id, event.offer_id) for event in batch]
    )
    enrolled += triggers.segment_triggers_check(contact_ids=_contacts(batch))
    if enrolled:
        nurture_kick_after_commit()


def follow_stage_change(batch: list[StageChanged]) -> None:
    """Contacts changed stage (a batch handler): leave the sequences that end at the new
    stage, then enrol where it is a trigger."""
    by_stage: dict[str, list[int]] = {}
    for event in batch:
        by_stage.setdefault(event.to_stage, []).append(event.contact_id)
    enrolled = 0
    for stage, contact_ids in by_stage.items():
        triggers.sequences_exit_stage(contact_ids=contact_ids, stage=stage)
        enrolled += triggers.sequences_enrol_stage(contact_ids=contact_ids, stage=stage)
    enrolled += triggers.segment_triggers_check(contact_ids=_contacts(batch))
    if enrolled:
        nurture_kick_after_commit()


def leave_on_unsubscribe(event: MarketingConsentWithdrawn) -> None:
    triggers.sequences_exit_unsubscribed(contact_id=event.contact_id, purpose_ids=event.purpose_ids)


def check_segment_entry(batch: list) -> None:
    """Something a segment may filter on changed for these contacts (a batch handler): did
    they enter a trigger segment?"""
    if triggers.segment_triggers_check(contact_ids=_contacts(batch)):
        nurture_kick_after_commit()


def check_segment_entry_of_visitors(event: ContactEventsIngested) -> None:
    """Page views of identified visitors arrived (a segment may filter on pages visited)."""
    if triggers.segment_triggers_check(contact_ids=sorted(set(event.contact_ids))):
        nurture_kick_after_commit()


def check_segment_entry_of_list(event: StaticListChanged) -> None:
    """Leads were put on or taken off a static list: did they enter (or leave) a trigger
    segment — the list itself, or a segment whose filters refer to it?"""
    if triggers.segment_triggers_check(contact_ids=sorted(set(event.contact_ids))):
        nurture_kick_after_commit()


def _contacts(batch: list) -> list[int]:
    return sorted({event.contact_id for event in batch})


def subscribe_all() -> None:
    """Subscribe nurture's handlers on the event bus (called from ``NurtureConfig.ready``)."""
    events.subscribe(LeadCaptured, enrol_captured_lead, batch=True)
    events.subscribe(StageChanged, follow_stage_change, batch=True)
    events.subscribe(MarketingConsentWithdrawn, leave_on_unsubscribe)
    for event_type in (
        ContactCreated,
        ContactUpdated,
        TemperatureChanged,
        ScoreChanged,
        ContactEventRecorded,
    ):
        events.subscribe(event_type, check_segment_entry, batch=True)
    events.subscribe(ContactEventsIngested, check_segment_entry_of_visitors)
    events.subscribe(StaticListChanged, check_segment_entry_of_list)
