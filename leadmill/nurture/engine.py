"""The sequence engine: walking enrolled contacts through the steps (the walk itself is in
:mod:`.walker`; enrolling and leaving are services, :mod:`.services`).

State lives in :class:`Enrollment` rows: ``step_id`` is the step the contact is at (empty:
not started), ``next_run_at`` when that step is due. :func:`enrollments_advance` takes due
enrollments in batches (``SKIP LOCKED`` on PostgreSQL, so several workers share the work)
and, in ONE transaction per batch, runs each one's steps until a wait or the end, queues
the emails of its "send email" steps and moves ``step_id`` / ``next_run_at`` on. A crash
rolls the whole batch back: no step is ever skipped, no email queued twice.

Picking an enrollment up runs the step it is at. A wait step is over when its end, counted
from ``step_started_at`` in the contact's time zone, has passed; until then it sets
``next_run_at`` to that end. Webhook steps run after the batch commits (see
:mod:`.actions`); a notify-owner step publishes OwnerNotificationRequested in the batch and
goes on (sales sends the email).

Editing a sequence: an enrollment at a step that was removed continues at the next step
(in the old order) that still exists, or completes when none does
(:func:`.services.enrollments_remap`, called when a sequence is saved). If a step vanished some other
way, the engine completes the enrollment ("its step was removed").
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection, transaction
from django.utils import timezone

from leadmill.core import events

from . import actions
from .models import Enrollment
from .services import enrollments_ended_publish
from .walker import SAVED_FIELDS, Walker

logger = logging.getLogger(__name__)

BATCH_SIZE = 100  # short write transactions: SQLite has one writer (~25 ms a batch here)
BATCH_SIZE_POSTGRESQL = 500  # concurrent writers: larger batches, fewer round trips
ACTIVE = Enrollment.State.ACTIVE


# --- Advancing ------------------------------------------------------------------------------


def enrollments_advance(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Run the due steps of up to ``limit`` active enrollments of active sequences.

    Batches of :data:`BATCH_SIZE` (:data:`BATCH_SIZE_POSTGRESQL` there), oldest due first, one transaction each; then the webhook
    calls the batch reached. Returns how many enrollments were advanced.
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
        enrollments_ended_publish([e for e in enrollments if e.state != ACTIVE])
        events.publish_many(walker.owner_notifications)
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
