"""The sequence engine: enrolling contacts and walking them through the steps (the walk
itself is in :mod:`.walker`).

State lives in :class:`Enrollment` rows: ``step_id`` is the step the contact is at (empty:
not started), ``next_run_at`` when that step is due. :func:`enrollments_advance` takes due
enrollments in batches (``SKIP LOCKED`` on PostgreSQL, so several workers share the work)
and, in ONE transaction per batch, runs each one's steps until a wait or the end, queues
the emails of its "send email" steps and moves ``step_id`` / ``next_run_at`` on. A crash
rolls the whole batch back: no step is ever skipped, no email queued twice.

Picking an enrollment up runs the step it is at. A wait step is over when its end, counted
from ``step_started_at`` in the contact's time zone, has passed; until then it sets
``next_run_at`` to that end. Webhook and notify-owner steps run after the batch commits
(see :mod:`.actions`).

Editing a sequence: an enrollment at a step that was removed continues at the next step
(in the old order) that still exists, or completes when none does
(:func:`enrollments_remap`, called when a sequence is saved). If a step vanished some other
way, the engine completes the enrollment ("its step was removed").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.messaging.models import Message

from . import actions
from .models import Enrollment, Sequence
from .plans import sequence_plan
from .reasons import Reason
from .walker import SAVED_FIELDS, Walker

logger = logging.getLogger(__name__)

BATCH_SIZE = 100  # short write transactions: SQLite has one writer (~25 ms a batch here)
BATCH_SIZE_POSTGRESQL = 500  # concurrent writers: larger batches, fewer round trips
CHUNK = 1000

ACTIVE = Enrollment.State.ACTIVE


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


def enrollment_start(
    *, sequence: Sequence, contact_id: int, source: str, now: dt.datetime | None = None
) -> Enrollment | None:
    """Enrol one contact; its first step is due at once.

    Returns None when the re-enrolment policy forbids it, the contact is enrolled already
    (the partial unique constraint settles races), does not exist or is at one of the
    sequence's exit stages. Does not check consent: a "send email" step does, when it comes.
    """
    now = now or timezone.now()
    if not _enrollable(sequence, [contact_id]) or _blocked(sequence, [contact_id]):
        return None
    try:
        with transaction.atomic():
            return Enrollment.objects.create(
                sequence=sequence,
                contact_id=contact_id,
                source=source[:100],
                enrolled_at=now,
                step_started_at=now,
                next_run_at=now,
            )
    except IntegrityError:
        return None


def enrollments_start_bulk(
    *, sequence: Sequence, contact_ids: Iterable[int], source: str, now: dt.datetime | None = None
) -> int:
    """Enrol many contacts, 1,000 per transaction, by the same rules as
    :func:`enrollment_start`; returns how many were enrolled."""
    now = now or timezone.now()
    ids = sorted(set(contact_ids))
    enrolled = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        present = _enrollable(sequence, chunk)
        fresh = sorted(present - _blocked(sequence, present))
        if not fresh:
            continue
        with transaction.atomic():
            Enrollment.objects.bulk_create(
                [
                    Enrollment(
                        sequence=sequence,
                        contact_id=contact_id,
                        source=source[:100],
                        enrolled_at=now,
                        step_started_at=now,
                        next_run_at=now,
                    )
                    for contact_id in fresh
                ],
                ignore_conflicts=True,  # a concurrent enrolment won: the constraint says so
            )
        enrolled += Enrollment.objects.filter(
            sequence=sequence, contact_id__in=fresh, state=ACTIVE, enrolled_at=now
        ).count()
    return enrolled


# --- Leaving --------------------------------------------------------------------------------


def enrollment_exit(
    *,
    contact_id: int,
    reason: str,
    sequence_ids: Collection[int] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """End the contact's active enrollments (in ``sequence_ids``, or all); returns how many.

    Their emails still queued are not sent (marked ``suppressed``: the lead left before).
    Idempotent. An enrollment being advanced right now is left after that batch commits
    (its row lock is waited for, and the state checked again).
    """
    rows = Enrollment.objects.filter(contact_id=contact_id, state=ACTIVE)
    if sequence_ids is not None:
        rows = rows.filter(sequence_id__in=list(sequence_ids))
    with transaction.atomic():
        ids = list(rows.select_for_update().values_list("pk", flat=True))
        if not ids:
            return 0
        ended = Enrollment.objects.filter(pk__in=ids, state=ACTIVE).update(
            state=Enrollment.State.EXITED,
            ended_at=now or timezone.now(),
            next_run_at=None,
            exit_reason=reason[:200],
        )
        Message.objects.filter(enrollment_id__in=ids, status=Message.Status.QUEUED).update(
            status=Message.Status.SUPPRESSED, error="the lead left the sequence before it was sent"
        )
    return ended


def enrollments_remap(
    *, sequence: Sequence, old_step_ids: list[str], now: dt.datetime | None = None
) -> int:
    """After ``sequence``'s steps were edited: move enrollments at a removed step to the next
    step, in the old order, that still exists (keeping their due time), or complete them
    when none does. Returns how many enrollments moved or completed."""
    now = now or timezone.now()
    current = set(sequence_plan(sequence).by_id)
    changed = 0
    for index, old_id in enumerate(old_step_ids):
        if old_id in current:
            continue
        rows = Enrollment.objects.filter(sequence=sequence, state=ACTIVE, step_id=old_id)
        successor = next(
            (step_id for step_id in old_step_ids[index + 1 :] if step_id in current), None
        )
        if successor:
            changed += rows.update(step_id=successor)
        else:
            changed += rows.update(
                state=Enrollment.State.COMPLETED,
                ended_at=now,
                next_run_at=None,
                exit_reason=Reason.STEP_REMOVED,
            )
    return changed


# --- Advancing ------------------------------------------------------------------------------


def enrollments_advance(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Run the due steps of up to ``limit`` active enrollments of active sequences.

    Batches of :data:`BATCH_SIZE` (:data:`BATCH_SIZE_POSTGRESQL` there), oldest due first, one transaction each; then the webhook
    and notify-owner calls the batch reached. Returns how many enrollments were advanced.
    An error in one enrollment's step is logged with its ids and retried later; the others
    go on.
    """
    now = now or timezone.now()
    advanced = 0
    while advanced < limit:
        batch = BATCH_SIZE_POSTGRESQL if connection.vendor == "postgresql" else BATCH_SIZE
        walker = _batch_advance(now=now, size=min(batch, limit - advanced))
        if not walker.count:
            break
        advanced += walker.count
        for action in walker.actions:
            actions.action_run(action=action, now=now)
    return advanced


def _batch_advance(*, now: dt.datetime, size: int) -> Walker:
    from leadmill.messaging.services import messages_queue_bulk

    with transaction.atomic():
        due = Enrollment.objects.filter(
            state=ACTIVE, next_run_at__lte=now, sequence__is_active=True
        ).order_by("next_run_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        enrollments = list(due[:size])
        walker = Walker(now=now, enrollments=enrollments)
        for enrollment in enrollments:
            walker.walk(enrollment)
        _enrollments_save(enrollments)
        if walker.messages:
            messages_queue_bulk(walker.messages)
    return walker


def _enrollments_save(enrollments: list[Enrollment]) -> None:
    """One UPDATE per distinct outcome (a batch usually has a handful: the same next step,
    the same wake time), instead of a CASE per row and field as ``bulk_update`` writes."""
    groups: dict[tuple, list[int]] = {}
    for enrollment in enrollments:
        values = tuple(getattr(enrollment, name) for name in SAVED_FIELDS)
        groups.setdefault(values, []).append(enrollment.pk)
    for values, ids in groups.items():
        Enrollment.objects.filter(pk__in=ids).update(**dict(zip(SAVED_FIELDS, values, strict=True)))
