"""Branch conditions of a sequence: is it true for this enrolled contact, now?

Each reads the database once; every condition about behaviour counts humans only (bot page
views and scanner opens or clicks never set ``opened_at`` / ``clicked_at``).
"""

from __future__ import annotations

import datetime as dt
import logging

from leadmill.contacts.models import Contact
from leadmill.messaging.models import Message
from leadmill.scoring.models import ContactScore
from leadmill.scoring.selectors import engagement_now
from leadmill.segments.models import Segment
from leadmill.tracking.models import Event, EventType

from .models import Enrollment
from .plans import Plan

logger = logging.getLogger(__name__)


def branch_holds(
    *, plan: Plan, index: int, enrollment: Enrollment, contact: Contact, now: dt.datetime
) -> bool:
    """Whether the branch at ``plan.steps[index]`` is true for ``contact``.

    An incomplete condition (a deleted segment, an unknown label) is false, and logged.
    """
    value = plan.steps[index].value
    condition = value.get("condition")
    expected = str(value.get("value") or "").strip()
    if condition in ("opened", "clicked"):
        label = (value.get("step_label") or "").strip()
        target = (
            plan.steps[plan.by_label[label]]
            if label in plan.by_label
            else plan.last_email_before(index)
        )
        if target is None:
            logger.warning(
                "sequence %s step %s: no email step to test", plan.sequence_id, plan.steps[index].id
            )
            return False
        column = "opened_at" if condition == "opened" else "clicked_at"
        return Message.objects.filter(
            enrollment_id=enrollment.pk, step_id=target.id, **{f"{column}__isnull": False}
        ).exists()
    if condition == "visited":
        return Event.objects.filter(
            contact_id=contact.pk,
            type=EventType.PAGE_VIEW,
            is_bot=False,
            occurred_at__gte=enrollment.enrolled_at,
            url__contains=expected,
        ).exists()
    if condition == "in_segment":
        from leadmill.segments.selectors import segment_contains

        segment = Segment.objects.filter(pk=value.get("segment")).first()
        if segment is None:
            logger.warning(
                "sequence %s step %s: its segment is gone", plan.sequence_id, plan.steps[index].id
            )
            return False
        return segment_contains(segment=segment, contact_id=contact.pk)
    if condition == "stage":
        return contact.lifecycle_stage == expected
    if condition == "temperature":
        return contact.temperature == expected
    if condition == "score_at_least":
        score = ContactScore.objects.filter(contact_id=contact.pk).first()
        total = 0.0 if score is None else score.fit_score + engagement_now(score=score, at=now)
        try:
            return total >= float(expected)
        except ValueError:
            return False
    if condition == "field_equals":
        field, _, wanted = expected.partition("=")
        return _field_text(contact, field.strip()) == wanted.strip()
    logger.warning(
        "sequence %s step %s: unknown condition %r",
        plan.sequence_id,
        plan.steps[index].id,
        condition,
    )
    return False


def _field_text(contact: Contact, field: str) -> str:
    """A contact's field (or custom field) as text, for comparing with what a marketer typed."""
    if field in (contact.custom or {}):
        value = contact.custom[field]
    elif field in {f.attname for f in Contact._meta.concrete_fields} and field not in ("id",):
        value = getattr(contact, field)
    else:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
