"""Helpers for engine tests: sequences written as step lists, subscribed leads."""

from __future__ import annotations

import uuid

from leadmill.consent.tests.factories import consent_give
from leadmill.contacts.tests.factories import ContactFactory

from ..models import Sequence
from .factories import SequenceFactory


def step(kind: str, label: str = "", **value) -> dict:
    """One StreamField step as stored JSON, with a fresh id."""
    return {"type": kind, "value": {"label": label, **value}, "id": str(uuid.uuid4())}


def sequence_with(*steps: dict, **fields) -> Sequence:
    """An active sequence with exactly these steps (``step(...)`` dicts)."""
    sequence = SequenceFactory(**fields)
    sequence.steps = list(steps)
    sequence.save()
    sequence.refresh_from_db()
    return sequence


def subscribed_contact(**fields):
    """A lead with a granted marketing-email consent."""
    contact = ContactFactory(**fields)
    consent_give(contact)
    return contact
