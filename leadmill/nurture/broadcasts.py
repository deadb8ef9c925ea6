"""Broadcasts: one email to every member of a segment, now or at a set time.

Starting a due broadcast queues one :class:`Message` per segment member, 5,000 per
transaction, reading the members in id order with a keyset (never all ids in memory) and
skipping members it already queued for, so a crash part-way resumes where it stopped.
Permission is checked at send time by the sender (messages of contacts who may not be
emailed end ``suppressed``). ``sending`` becomes ``sent`` once none of its messages is
still queued or being sent.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.core.errors import ValidationFailed
from leadmill.messaging.models import Message
from leadmill.messaging.services import messages_queue_bulk

from .models import Broadcast

logger = logging.getLogger(__name__)

QUEUE_CHUNK = 5000


def broadcast_schedule(*, broadcast: Broadcast, send_at: dt.datetime | None = None) -> Broadcast:
    """Schedule a draft (or re-time a scheduled) broadcast; ``send_at`` None means now.

    Raises ValidationFailed once it is sending or sent.
    """
    send_at = send_at or timezone.now()
    updated = Broadcast.objects.filter(
        pk=broadcast.pk, status__in=[Broadcast.Status.DRAFT, Broadcast.Status.SCHEDULED]
    ).update(status=Broadcast.Status.SCHEDULED, send_at=send_at)
    if not updated:
        raise ValidationFailed(_("This broadcast is already being sent."), code="broadcast_started")
    broadcast.status, broadcast.send_at = Broadcast.Status.SCHEDULED, send_at
    return broadcast


def broadcast_cancel(*, broadcast: Broadcast) -> Broadcast:
    """Back to draft, if it has not started. Raises ValidationFailed once it has."""
    updated = Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.SCHEDULED).update(
        status=Broadcast.Status.DRAFT
    )
    if not updated:
        raise ValidationFailed(
            _("Only a scheduled broadcast can be cancelled."), code="broadcast_not_scheduled"
        )
    broadcast.status = Broadcast.Status.DRAFT
    return broadcast


def broadcasts_start_due(*, now: dt.datetime | None = None) -> int:
    """Queue the messages of every scheduled broadcast whose time has come (and finish
    queueing any a crash interrupted); mark finished ones sent. Returns messages queued.

    Runs in the periodic nurture task, which one worker runs at a time.
    """
    now = now or timezone.now()
    for broadcast in Broadcast.objects.filter(status=Broadcast.Status.SCHEDULED, send_at__lte=now):
        Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.SCHEDULED).update(
            status=Broadcast.Status.SENDING, queued_count=0
        )
    from leadmill.segments.definitions import SegmentDefinitionError

    queued = 0
    # queued_count stays 0 until queueing finished: a SENDING broadcast at 0 is (re)queued.
    for broadcast in Broadcast.objects.filter(status=Broadcast.Status.SENDING, queued_count=0):
        try:
            queued += _queue_members(broadcast)
        except SegmentDefinitionError as error:  # retried each pass, until the segment is fixed
            logger.error(
                "broadcast %s: its segment %s cannot be evaluated; not queued: %s",
                broadcast.pk,
                broadcast.segment_id,
                error,
            )
    broadcasts_finish()
    return queued


def _queue_members(broadcast: Broadcast) -> int:
    from leadmill.segments.selectors import segment_contacts

    already = Message.objects.filter(broadcast_id=broadcast.pk, contact_id=OuterRef("pk"))
    members = (
        segment_contacts(segment=broadcast.segment)
        .filter(email__isnull=False)
        .exclude(Exists(already))
    )
    before, after = Message.objects.filter(broadcast_id=broadcast.pk).count(), 0
    while True:
        ids = list(
            members.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:QUEUE_CHUNK]
        )
        if not ids:
            break
        with transaction.atomic():
            # a message queued already (a concurrent or repeated run) is skipped: the
            # (broadcast, contact) constraint says so
            messages_queue_bulk(
                [
                    Message(
                        contact_id=pk,
                        template_id=broadcast.template_id,
                        broadcast_id=broadcast.pk,
                    )
                    for pk in ids
                ],
                ignore_conflicts=True,
            )
        after = ids[-1]
    total = Message.objects.filter(broadcast_id=broadcast.pk).count()
    queued = total - before
    if total == 0:
        Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.SENT)
    else:
        Broadcast.objects.filter(pk=broadcast.pk).update(queued_count=total)
    logger.info("broadcast %s: %s messages queued (%s in all)", broadcast.pk, queued, total)
    return queued


def broadcasts_finish() -> int:
    """Mark sent the sending broadcasts none of whose messages is queued or being sent."""
    pending = Message.objects.filter(
        broadcast_id=OuterRef("pk"), status__in=[Message.Status.QUEUED, Message.Status.SENDING]
    )
    return (
        Broadcast.objects.filter(status=Broadcast.Status.SENDING, queued_count__gt=0)
        .exclude(Exists(pending))
        .update(status=Broadcast.Status.SENT)
    )


def broadcast_counts(*, broadcast_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per broadcast: messages by outcome, and human opens and clicks (one query)."""
    rows = (
        Message.objects.filter(broadcast_id__in=broadcast_ids)
        .values("broadcast_id")
        .annotate(
            queued=Count(
                "pk", filter=Q(status__in=[Message.Status.QUEUED, Message.Status.SENDING])
            ),
            sent=Count("pk", filter=Q(status=Message.Status.SENT)),
            suppressed=Count("pk", filter=Q(status=Message.Status.SUPPRESSED)),
            failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        )
    )
    return {row.pop("broadcast_id"): row for row in rows}
