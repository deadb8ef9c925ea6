"""What enrols a contact in a sequence on its own: a form or offer, a lifecycle stage, entering
a segment; and what makes it leave: an exit stage, an unsubscribe.

Called by the event handlers (:mod:`.handlers`) for a batch of contacts, and by the periodic sweep
for whole trigger segments. Every function is idempotent: an enrolment the re-enrolment
policy forbids, or one that exists already, is skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection

from django.db.models import Q
from django.utils import timezone

from leadmill.capture.models import Form, Offer
from leadmill.consent.selectors import may_receive_marketing_email
from leadmill.messaging.models import EmailTemplate
from leadmill.segments.models import Segment

from .models import Enrollment, Sequence
from .plans import sequence_plan
from .reasons import Reason
from .services import enrollment_exit, enrollments_start_bulk

logger = logging.getLogger(__name__)
ACTIVE = Enrollment.State.ACTIVE


def _active(trigger: str):
    return Sequence.objects.filter(is_active=True, trigger=trigger)


def sequences_enrol_captured(*, leads: Collection[tuple[int, int | None, int | None]]) -> int:
    """Leads were captured (from any channel), each ``(contact_id, form_id, offer_id)``:
    enrol them in the active sequences triggered by any capture, and by their form or
    offer when they came with one (a sequence triggered by a form or offer is triggered by
    its translations too, ADR 43); one bulk enrolment per sequence. Returns enrolments
    made."""
    forms = _with_translations(Form, {form_id for _, form_id, _ in leads if form_id is not None})
    offers = _with_translations(
        Offer, {offer_id for _, _, offer_id in leads if offer_id is not None}
    )
    condition = Q(trigger=Sequence.Trigger.CAPTURE)
    if forms:
        condition |= Q(
            trigger=Sequence.Trigger.FORM, trigger_form_id__in=sorted(set().union(*forms.values()))
        )
    if offers:
        condition |= Q(
            trigger=Sequence.Trigger.OFFER,
            trigger_offer_id__in=sorted(set().union(*offers.values())),
        )
    enrolled = 0
    for sequence in Sequence.objects.filter(condition, is_active=True).order_by("pk"):
        contact_ids = [
            contact_id
            for contact_id, form_id, offer_id in leads
            if sequence.trigger == Sequence.Trigger.CAPTURE
            or (
                sequence.trigger == Sequence.Trigger.FORM
                and sequence.trigger_form_id in forms.get(form_id, ())
            )
            or (
                sequence.trigger == Sequence.Trigger.OFFER
                and sequence.trigger_offer_id in offers.get(offer_id, ())
            )
        ]
        enrolled += enrollments_start_bulk(
            sequence=sequence, contact_ids=contact_ids, source="form"
        )
    return enrolled


def _with_translations(model, ids: set[int]) -> dict[int, set[int]]:
    """Each id → itself and the ids of its translations (two queries for the batch)."""
    if not ids:
        return {}
    keys = dict(model.objects.filter(pk__in=sorted(ids)).values_list("pk", "translation_key"))
    family: dict = defaultdict(set)
    for pk, key in model.objects.filter(translation_key__in=set(keys.values())).values_list(
        "pk", "translation_key"
    ):
        family[key].add(pk)
    return {pk: family[key] for pk, key in keys.items()}


def sequences_enrol_stage(*, contact_ids: Collection[int], stage: str) -> int:
    """The contacts reached ``stage``: enrol them in the active sequences triggered by it."""
    return sum(
        enrollments_start_bulk(sequence=s, contact_ids=contact_ids, source="stage")
        for s in _active(Sequence.Trigger.STAGE).filter(trigger_stage=stage).order_by("pk")
    )


def segment_triggers_check(
    *,
    contact_ids: Collection[int] | None = None,
    now: dt.datetime | None = None,
    segment_ids: Collection[int] | None = None,
) -> int:
    """Enrol whoever just entered a segment an active sequence is triggered by.

    ``contact_ids`` limits the check to those contacts (an event about them); None checks
    each trigger segment whole (the periodic sweep). ``segment_ids`` limits it to those
    segments. A sequence enrols only leads who enter its segment after it started watching
    it: a whole check of the segment first records who is in it already (enrolling none of
    them) and starts the watch (``Sequence.segment_watched_since``). A segment that cannot
    be evaluated (it refers to a deleted segment) is logged and skipped; the others go on.
    Returns enrolments made.
    """
    from leadmill.segments.definitions import SegmentDefinitionError
    from leadmill.segments.services import segment_entries_detect

    now = now or timezone.now()
    sequences = _active(Sequence.Trigger.SEGMENT).filter(trigger_segment__isnull=False)
    if segment_ids is not None:
        sequences = sequences.filter(trigger_segment_id__in=list(segment_ids))
    by_segment: dict[int, list[Sequence]] = defaultdict(list)
    for sequence in sequences:
        by_segment[sequence.trigger_segment_id].append(sequence)
    if not by_segment:
        return 0
    enrolled = 0
    for segment in Segment.objects.filter(pk__in=list(by_segment)):
        try:
            newcomers = segment_entries_detect(segment=segment, contact_ids=contact_ids, now=now)
        except SegmentDefinitionError as error:
            logger.error(
                "segment %s (trigger of sequences %s) cannot be evaluated; skipped: %s",
                segment.pk,
                [s.pk for s in by_segment[segment.pk]],
                error,
            )
            continue
        for sequence in by_segment[segment.pk]:
            if sequence.segment_watched_since is None:
                if contact_ids is None:  # whoever is inside now was seen: watch from now on
                    Sequence.objects.filter(pk=sequence.pk, segment_watched_since=None).update(
                        segment_watched_since=now
                    )
                continue
            if newcomers:
                enrolled += enrollments_start_bulk(
                    sequence=sequence, contact_ids=newcomers, source="segment", now=now
                )
    return enrolled


def sequence_segment_watch_start(*, sequence: Sequence, now: dt.datetime | None = None) -> int:
    """The sequence was just activated or its trigger changed: from now on it enrols only
    leads who enter its trigger segment (the ones inside are not enrolled; "Enrol leads"
    can enrol them). Checks that segment whole at once; returns enrolments made in the
    segment's other sequences (leads who entered since the last check)."""
    Sequence.objects.filter(pk=sequence.pk).update(segment_watched_since=None)
    sequence.segment_watched_since = None
    if not (
        sequence.is_active
        and sequence.trigger == Sequence.Trigger.SEGMENT
        and sequence.trigger_segment_id
    ):
        return 0
    return segment_triggers_check(segment_ids=[sequence.trigger_segment_id], now=now)


def sequences_exit_stage(*, contact_ids: Collection[int], stage: str) -> int:
    """The contacts reached ``stage``: each leaves the sequences that end at it."""
    active = Enrollment.objects.filter(contact_id__in=sorted(set(contact_ids)), state=ACTIVE)
    ending = [
        sequence.pk
        for sequence in Sequence.objects.filter(pk__in=active.values("sequence_id")).only(
            "pk", "exit_stages"
        )
        if stage in (sequence.exit_stages or [])
    ]
    if not ending:
        return 0
    leaving: dict[int, list[int]] = defaultdict(list)
    for contact_id, sequence_id in active.filter(sequence_id__in=ending).values_list(
        "contact_id", "sequence_id"
    ):
        leaving[contact_id].append(sequence_id)
    return sum(
        enrollment_exit(
            contact_id=contact_id,
            reason=f"{Reason.EXIT_STAGE}: {stage}",
            sequence_ids=sorted(sequence_ids),
        )
        for contact_id, sequence_ids in sorted(leaving.items())
    )


def sequences_exit_unsubscribed(*, contact_id: int, purpose_ids: Collection[int]) -> int:
    """The contact withdrew marketing consent.

    No marketing email may reach it any more: it leaves every sequence. Otherwise it leaves
    the sequences that send an email of a withdrawn subscription type, and stays in those
    whose emails it still may receive.
    """
    if not may_receive_marketing_email(contact_id=contact_id):
        return enrollment_exit(contact_id=contact_id, reason=Reason.UNSUBSCRIBED)
    withdrawn = set(purpose_ids)
    active = Enrollment.objects.filter(contact_id=contact_id, state=Enrollment.State.ACTIVE)
    leaving = []
    for sequence in Sequence.objects.filter(pk__in=active.values("sequence_id")):
        template_ids = [
            s.value.get("template") for s in sequence_plan(sequence).steps if s.type == "send_email"
        ]
        purposes = set(
            EmailTemplate.objects.filter(pk__in=template_ids).values_list("purpose_id", flat=True)
        )
        if purposes & withdrawn:
            leaving.append(sequence.pk)
    if not leaving:
        return 0
    return enrollment_exit(contact_id=contact_id, reason=Reason.UNSUBSCRIBED, sequence_ids=leaving)
