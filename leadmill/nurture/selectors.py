"""Reads of nurture for screens: a lead's enrollments and emails (its timeline), sequence
counts, and contacts named by pasted email addresses."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from leadmill.contacts.identity import email_normalise
from leadmill.contacts.models import Contact, LifecycleStage
from leadmill.core.errors import ValidationFailed
from leadmill.core.registry import TimelineEntry
from leadmill.messaging.models import Message

from .models import Enrollment, Sequence

TIMELINE_ROWS = 100


def enrollment_timeline(contact_id: int) -> list[TimelineEntry]:
    """The lead's timeline part: enrolments, their ends, and marketing emails sent."""
    entries: list[TimelineEntry] = []
    enrollments = (
        Enrollment.objects.filter(contact_id=contact_id)
        .select_related("sequence")
        .order_by("-enrolled_at")
    )[:TIMELINE_ROWS]
    for enrollment in enrollments:
        name = enrollment.sequence.name
        entries.append(
            TimelineEntry(
                occurred_at=enrollment.enrolled_at,
                kind="sequence",
                title=_("Enrolled in the sequence “%(name)s”") % {"name": name},
                detail=enrollment.source,
            )
        )
        if enrollment.ended_at:
            title = (
                _("Completed the sequence “%(name)s”")
                if enrollment.state == Enrollment.State.COMPLETED
                else _("Left the sequence “%(name)s”")
            ) % {"name": name}
            entries.append(
                TimelineEntry(
                    occurred_at=enrollment.ended_at,
                    kind="sequence",
                    title=title,
                    detail=exit_reason_text(enrollment.exit_reason),
                )
            )
    sent = (
        Message.objects.filter(contact_id=contact_id, sent_at__isnull=False)
        .select_related("template")
        .order_by("-sent_at")
    )[:TIMELINE_ROWS]
    for message in sent:
        entries.append(
            TimelineEntry(
                occurred_at=message.sent_at,
                kind="email_sent",
                title=_("Marketing email sent: “%(subject)s”")
                % {"subject": message.template.subject},
                detail=message.template.name,
            )
        )
    return entries


def exit_reason_text(reason: str) -> str:
    """An enrollment's ``exit_reason`` in the reader's language (see :class:`.engine.Reason`);
    "reached an exit stage: sql" shows the stage's name."""
    head, sep, stage = reason.partition(": ")
    if sep and stage in LifecycleStage.values:
        return f"{_(head)}: {LifecycleStage(stage).label}"
    return _(reason) if reason else ""


def contact_enrollments(*, contact_id: int) -> QuerySet[Enrollment]:
    """The lead's enrollments, active first, newest first."""
    return (
        Enrollment.objects.filter(contact_id=contact_id)
        .select_related("sequence")
        .order_by("state", "-enrolled_at")
    )


def sequences_with_counts() -> QuerySet[Sequence]:
    """Sequences annotated with ``active_count`` and ``completed_count`` (one query)."""
    return Sequence.objects.annotate(
        active_count=Count("enrollments", filter=Q(enrollments__state=Enrollment.State.ACTIVE)),
        completed_count=Count(
            "enrollments", filter=Q(enrollments__state=Enrollment.State.COMPLETED)
        ),
    )


def step_name(sequence: Sequence, step_id: str) -> str:
    """How a step is named on screens: its label, else its type and position."""
    if not step_id:
        return _("not started")
    for position, child in enumerate(sequence.steps.raw_data, start=1):
        if child["id"] == step_id:
            label = (
                (child.get("value") or {}).get("label")
                if isinstance(child.get("value"), dict)
                else ""
            )
            return (
                label
                or f"{position}. {sequence.steps.stream_block.child_blocks[child['type']].label}"
            )
    return _("a removed step")


def contact_ids_by_email(text: str, *, limit: int = 10_000) -> tuple[list[int], list[str]]:
    """The leads whose (normalised) addresses are listed in ``text`` (one per line, or
    separated by commas), and the addresses no lead has.

    Raises ValidationFailed past ``limit`` addresses.
    """
    raw = [
        part.strip()
        for part in text.replace(",", "\n").replace(";", "\n").splitlines()
        if part.strip()
    ]
    if len(raw) > limit:
        raise ValidationFailed(
            _("Paste at most %(max)s addresses at a time.") % {"max": limit},
            code="too_many_addresses",
        )
    return contact_ids_by_emails(raw)


def contact_ids_by_emails(addresses: list[str]) -> tuple[list[int], list[str]]:
    """The leads whose (normalised) addresses are in ``addresses``, each one whole address
    (a comma or a line break inside one is not a separator), and the addresses no lead has."""
    wanted: dict[str, str] = {}
    for address in addresses:
        try:
            wanted[email_normalise(address, check_deliverability=False)] = address
        except ValidationFailed:
            wanted[address.lower()] = address
    found: dict[str, int] = {}
    keys = list(wanted)
    for start in range(0, len(keys), 1000):
        found.update(
            Contact.objects.filter(email__in=keys[start : start + 1000]).values_list("email", "pk")
        )
    return list(found.values()), [
        original for email, original in wanted.items() if email not in found
    ]


def _refers_to(group: dict, segment_id: int) -> bool:
    for condition in (group or {}).get("conditions") or []:
        if not isinstance(condition, dict):
            continue
        if "conditions" in condition and _refers_to(condition, segment_id):
            return True
        if condition.get("field") in ("in_segment", "not_in_segment"):
            try:
                if int(condition.get("value")) == segment_id:
                    return True
            except (TypeError, ValueError):
                continue
    return False


def segment_used_by(*, segment_id: int) -> list[str]:
    """What would break, or silently stop, if the segment were deleted: the segments whose
    filters refer to it, the sequences it triggers or that branch on it, its broadcasts."""
    from .models import Broadcast, Segment

    uses = [
        _("segment “%(name)s”") % {"name": other.name}
        for other in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exclude(pk=segment_id)
        if _refers_to(other.definition, segment_id)
    ]
    for sequence in Sequence.objects.all():
        branches = [
            step
            for step in sequence.steps.raw_data
            if step.get("type") == "branch"
            and str((step.get("value") or {}).get("segment") or "") == str(segment_id)
        ]
        if sequence.trigger_segment_id == segment_id or branches:
            uses.append(_("sequence “%(name)s”") % {"name": sequence.name})
    uses += [
        _("broadcast “%(name)s”") % {"name": name}
        for name in Broadcast.objects.filter(segment_id=segment_id).values_list("name", flat=True)
    ]
    return uses
