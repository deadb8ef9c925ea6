"""Reads of nurture for screens: a lead's enrollments and emails (its timeline), sequence
counts, and what in nurture uses a segment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from leadmill.contacts.models import Contact, LifecycleStage, StageChange
from leadmill.contacts.selectors import contact_ids_by_emails
from leadmill.core.errors import NotFound, ValidationFailed
from leadmill.core.registry import TimelineEntry
from leadmill.core.stats import Arm, Uplift, uplift
from leadmill.messaging.models import Message

from .models import Broadcast, Enrollment, Sequence, enrollment_source_text

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
                detail=enrollment_source_text(enrollment.source),
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
        if message.kind == Message.Kind.TRANSACTIONAL:
            # An offer's delivery, a confirmation: sent whatever the marketing consent.
            title = _("Email sent: “%(subject)s”") % {"subject": message.subject}
            detail = message.category_label()
        else:
            # The subject as this lead got it (rendered when sent); an email sent before
            # subjects were kept, or whose subject is still template code, is named by
            # its template.
            name = message.template.name if message.template else ""
            subject = message.subject
            if not subject or "{{" in subject or "{%" in subject:
                subject = name
                name = ""
            title = _("Marketing email sent: “%(subject)s”") % {"subject": subject}
            detail = name
        entries.append(
            TimelineEntry(
                occurred_at=message.sent_at, kind="email_sent", title=title, detail=detail
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


def sequence_get(*, sequence_id: int) -> Sequence:
    """The sequence, or NotFound (``not_found``)."""
    sequence = Sequence.objects.filter(pk=sequence_id).first()
    if sequence is None:
        raise NotFound(_("No sequence with this id."), code="not_found")
    return sequence


def broadcast_get(*, broadcast_id: int) -> Broadcast:
    """The broadcast, or NotFound (``not_found``)."""
    broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
    if broadcast is None:
        raise NotFound(_("No broadcast with this id."), code="not_found")
    return broadcast


@dataclass(frozen=True)
class EnrollmentTargets:
    """The leads a call to enrol or unenrol names: those found (``contact_ids``, sorted) and
    what named no lead, as it was given."""

    contact_ids: list[int]
    unknown_contact_ids: list[int]
    unknown_emails: list[str]


def enrollment_targets(*, contact_ids: Collection[int], emails: list[str]) -> EnrollmentTargets:
    """The leads named by id or by email (matched after the same normalisation as forms),
    in two queries at most. Raises ValidationFailed (``nothing_to_enrol``) when neither
    names anyone."""
    if not contact_ids and not emails:
        raise ValidationFailed(_("Give contact_ids or emails."), code="nothing_to_enrol")
    wanted = set(contact_ids)
    known = (
        set(Contact.objects.filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()
    )
    found, unknown_emails = contact_ids_by_emails(emails) if emails else ([], [])
    return EnrollmentTargets(
        contact_ids=sorted(known | set(found)),
        unknown_contact_ids=sorted(wanted - known),
        unknown_emails=unknown_emails,
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


def segment_uses(segment_id: int) -> list[str]:
    """What in nurture uses the segment (asked through segments' ``SEGMENT_USES_HOOK``
    before a segment is deleted): the sequences it triggers or that branch on it, its
    broadcasts."""
    from .models import Broadcast

    uses = []
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


# --- Holdout uplift -------------------------------------------------------------------------

UPLIFT_STAGES = (LifecycleStage.MQL, LifecycleStage.SQL, LifecycleStage.CUSTOMER)


@dataclass(frozen=True)
class UpliftRow:
    """One stage of the uplift report: nurtured against held-out leads."""

    stage: str
    nurtured: Arm
    held_out: Arm
    uplift: Uplift


def sequence_uplift(*, sequence_id: int, window_days: int) -> list[UpliftRow]:
    """For MQL, SQL and customer: how many nurtured and held-out enrolments of the sequence
    reached that stage (or a later one) within ``window_days`` after their enrolment, from
    the stored stage history, with the absolute and relative uplift and their 95 % intervals
    (:func:`leadmill.core.stats.uplift`). Enrolments whose window has not ended yet count too:
    both groups are enrolled at random over the same time, so they are equally affected."""
    window = dt.timedelta(days=window_days)
    enrolled = list(
        Enrollment.objects.filter(sequence_id=sequence_id).values_list(
            "contact_id", "enrolled_at", "held_out"
        )
    )
    later_stages = {
        stage: {s.value for s in UPLIFT_STAGES[index:]} for index, stage in enumerate(UPLIFT_STAGES)
    }
    reached: dict[int, list[tuple[str, dt.datetime]]] = {}
    contact_ids = sorted({contact_id for contact_id, _at, _held in enrolled})
    for start in range(0, len(contact_ids), 1000):
        changes = StageChange.objects.filter(
            contact_id__in=contact_ids[start : start + 1000],
            to_stage__in=[stage.value for stage in UPLIFT_STAGES],
        ).values_list("contact_id", "to_stage", "changed_at")
        for contact_id, to_stage, changed_at in changes:
            reached.setdefault(contact_id, []).append((to_stage, changed_at))
    rows = []
    for stage in UPLIFT_STAGES:
        counts = {True: [0, 0], False: [0, 0]}  # held_out -> [enrolled, converted]
        for contact_id, enrolled_at, held_out in enrolled:
            counts[held_out][0] += 1
            if any(
                to_stage in later_stages[stage]
                and enrolled_at <= changed_at <= enrolled_at + window
                for to_stage, changed_at in reached.get(contact_id, ())
            ):
                counts[held_out][1] += 1
        nurtured, held = Arm(*counts[False]), Arm(*counts[True])
        rows.append(UpliftRow(stage.value, nurtured, held, uplift(nurtured, held)))
    return rows
