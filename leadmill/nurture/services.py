"""Writes of the nurture app: enrolling contacts in sequences and ending enrollments.

Each public function is one transaction (a bulk one, one per chunk) and publishes the facts
it made true in it: :class:`.events.EnrollmentStarted` for each enrollment started,
:class:`.events.EnrollmentExited` for each one ended. Walking enrollments through their
steps is the engine's (:mod:`.engine`, which publishes the ends it reaches the same way).
Broadcast scheduling stays in :mod:`.broadcasts` beside the queueing it drives.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Collection, Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.core import events
from leadmill.core.db import instances_insert
from leadmill.messaging.models import Message

from .events import EnrollmentExited, EnrollmentStarted
from .models import Enrollment, Sequence
from .plans import sequence_plan
from .reasons import Reason

logger = logging.getLogger(__name__)

CHUNK = 1000
ACTIVE = Enrollment.State.ACTIVE
# Holdout draws: not secret, only unbiased (tests replace it to pin who is held out).
_random = random.Random()


def enrollments_ended_publish(enrollments: Iterable[Enrollment]) -> None:
    """Publish EnrollmentExited for enrollments just ended (in the caller's transaction),
    in one INSERT."""
    events.publish_many(
        [
            EnrollmentExited(
                enrollment_id=e.pk,
                contact_id=e.contact_id,
                sequence_id=e.sequence_id,
                state=e.state,
                reason=e.exit_reason,
                occurred_at=e.ended_at,
            )
            for e in enrollments
        ]
    )


def _started_publish(
    rows: Iterable[tuple[int, int]], *, sequence: Sequence, source: str, now: dt.datetime
) -> None:
    events.publish_many(
        [
            EnrollmentStarted(
                enrollment_id=pk,
                contact_id=contact_id,
                sequence_id=sequence.pk,
                source=source,
                occurred_at=now,
            )
            for pk, contact_id in rows
        ]
    )


# --- Enrolment ------------------------------------------------------------------------------


def _blocked(sequence: Sequence, contact_ids: Collection[int]) -> set[int]:
    """Who may not be enrolled (again): anyone ever enrolled (NEVER), or anyone enrolled now."""
    rows = Enrollment.objects.filter(sequence=sequence, contact_id__in=contact_ids)
    if sequence.reenrol == Sequence.Reenrol.AFTER_EXIT:
        rows = rows.filter(state=ACTIVE)
    return set(rows.values_list("contact_id", flat=True))


def _enrollable(sequence: Sequence, contact_ids: Collection[int]) -> set[int]:
    """Those of ``contact_ids`` that exist and are not at one of the sequence's exit stages
    (they would leave at once: a customer is not enrolled in a sequence that ends at
    "customer")."""
    rows = Contact.objects.filter(pk__in=list(contact_ids))
    if sequence.exit_stages:
        rows = rows.exclude(lifecycle_stage__in=list(sequence.exit_stages))
    return set(rows.values_list("pk", flat=True))


def _held_out(sequence: Sequence) -> bool:
    """Whether this enrolment is held out, at random by the sequence's holdout share."""
    return sequence.holdout_percent > 0 and _random.random() * 100 < sequence.holdout_percent


def enrollment_start(
    *, sequence: Sequence, contact_id: int, source: str, now: dt.datetime | None = None
) -> Enrollment | None:
    """Enrol one contact; its first step is due at once. Publishes EnrollmentStarted.

    Returns None when the re-enrolment policy forbids it, the contact is enrolled already
    (the partial unique constraint settles races), does not exist or is at one of the
    sequence's exit stages. Does not check consent: a "send email" step does, when it comes.
    A share of enrolments (``sequence.holdout_percent``) is held out at random: recorded,
    still active, but with no step due, so the engine never walks it (no step, no email).
    """
    now = now or timezone.now()
    if not _enrollable(sequence, [contact_id]) or _blocked(sequence, [contact_id]):
        return None
    source = source[:100]
    try:
        with transaction.atomic():
            enrollment = _enrollment_new(sequence, contact_id, source=source, now=now)
            enrollment.save(force_insert=True)
            _started_publish(
                [(enrollment.pk, contact_id)], sequence=sequence, source=source, now=now
            )
            return enrollment
    except IntegrityError:
        return None


def enrollments_start_bulk(
    *, sequence: Sequence, contact_ids: Iterable[int], source: str, now: dt.datetime | None = None
) -> int:
    """Enrol many contacts, 1,000 per transaction, by the same rules as
    :func:`enrollment_start` (and publishing the same events); returns how many were
    enrolled."""
    now = now or timezone.now()
    ids = sorted(set(contact_ids))
    source = source[:100]
    enrolled = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        present = _enrollable(sequence, chunk)
        fresh = sorted(present - _blocked(sequence, present))
        if not fresh:
            continue
        rows = [
            _enrollment_new(sequence, contact_id, source=source, now=now) for contact_id in fresh
        ]
        with transaction.atomic():
            started = _enrollments_insert(rows, sequence=sequence, source=source, now=now)
            _started_publish(started, sequence=sequence, source=source, now=now)
        enrolled += len(started)
    return enrolled


def _enrollment_new(
    sequence: Sequence, contact_id: int, *, source: str, now: dt.datetime
) -> Enrollment:
    """An unsaved enrolment starting now: its first step due at once, or none when it is
    held out (:func:`_held_out`)."""
    held_out = _held_out(sequence)
    return Enrollment(
        sequence=sequence,
        contact_id=contact_id,
        source=source,
        enrolled_at=now,
        step_started_at=now,
        next_run_at=None if held_out else now,
        held_out=held_out,
    )


def _enrollments_insert(
    rows: list[Enrollment], *, sequence: Sequence, source: str, now: dt.datetime
) -> list[tuple[int, int]]:
    """Insert new enrolments of ``sequence``; returns (enrolment id, contact id) of those
    written. Inside the caller's transaction.

    The rows were checked just before (present, not enrolled, not blocked), so they go in
    by the lean insert (ADR 72), in a savepoint. When a concurrent enrolment of one of the
    contacts committed meanwhile, the partial unique constraint refuses the whole insert:
    then each row that does not conflict is written, and the ones written are read back
    (an insert that skips rows returns no ids)."""
    try:
        with transaction.atomic():
            return [(row.pk, row.contact_id) for row in instances_insert(rows)]
    except IntegrityError:
        pass
    for row in rows:
        row.pk, row._state.adding = None, True
    Enrollment.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        Enrollment.objects.filter(
            sequence=sequence,
            contact_id__in=[row.contact_id for row in rows],
            state=ACTIVE,
            enrolled_at=now,
            source=source,
        ).values_list("pk", "contact_id")
    )


# --- Leaving --------------------------------------------------------------------------------


def enrollment_exit(
    *,
    contact_id: int,
    reason: str,
    sequence_ids: Collection[int] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """End the contact's active enrollments (in ``sequence_ids``, or all); returns how many.
    Publishes EnrollmentExited for each.

    Their emails still queued are not sent (marked ``suppressed``: the lead left before).
    Idempotent. An enrollment being advanced right now is left after that batch commits
    (its row lock is waited for, and the state checked again).
    """
    now = now or timezone.now()
    rows = Enrollment.objects.filter(contact_id=contact_id, state=ACTIVE)
    if sequence_ids is not None:
        rows = rows.filter(sequence_id__in=list(sequence_ids))
    with transaction.atomic():
        leaving = list(rows.select_for_update().only("pk", "contact_id", "sequence_id"))
        if not leaving:
            return 0
        ids = [e.pk for e in leaving]
        ended = Enrollment.objects.filter(pk__in=ids, state=ACTIVE).update(
            state=Enrollment.State.EXITED,
            ended_at=now,
            next_run_at=None,
            exit_reason=reason[:200],
        )
        Message.objects.filter(enrollment_id__in=ids, status=Message.Status.QUEUED).update(
            status=Message.Status.SUPPRESSED, error="the lead left the sequence before it was sent"
        )
        for e in leaving:
            e.state, e.ended_at, e.exit_reason = Enrollment.State.EXITED, now, reason[:200]
        enrollments_ended_publish(leaving)
    return ended


def enrollments_exit_bulk(
    *, sequence: Sequence, contact_ids: Iterable[int], reason: str, now: dt.datetime | None = None
) -> int:
    """End the active enrollments of ``contact_ids`` in ``sequence``, one lead per
    transaction, as :func:`enrollment_exit` does (its events, its queued emails not sent);
    returns how many ended."""
    return sum(
        enrollment_exit(contact_id=pk, reason=reason, sequence_ids=[sequence.pk], now=now)
        for pk in sorted(set(contact_ids))
    )


def enrollments_remap(
    *, sequence: Sequence, old_step_ids: list[str], now: dt.datetime | None = None
) -> int:
    """After ``sequence``'s steps were edited: move enrollments at a removed step to the next
    step, in the old order, that still exists (keeping their due time), or complete them
    when none does (publishing EnrollmentExited). Returns how many enrollments moved or
    completed."""
    now = now or timezone.now()
    current = set(sequence_plan(sequence).by_id)
    changed = 0
    with transaction.atomic():
        for index, old_id in enumerate(old_step_ids):
            if old_id in current:
                continue
            rows = Enrollment.objects.filter(sequence=sequence, state=ACTIVE, step_id=old_id)
            successor = next(
                (step_id for step_id in old_step_ids[index + 1 :] if step_id in current), None
            )
            if successor:
                changed += rows.update(step_id=successor)
                continue
            completing = list(rows.select_for_update().only("pk", "contact_id", "sequence_id"))
            changed += Enrollment.objects.filter(
                pk__in=[e.pk for e in completing], state=ACTIVE
            ).update(
                state=Enrollment.State.COMPLETED,
                ended_at=now,
                next_run_at=None,
                exit_reason=Reason.STEP_REMOVED,
            )
            for e in completing:
                e.state, e.ended_at, e.exit_reason = (
                    Enrollment.State.COMPLETED,
                    now,
                    Reason.STEP_REMOVED,
                )
            enrollments_ended_publish(completing)
    return changed
