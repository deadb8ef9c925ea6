"""Writes of segments: who is on a static list, and the entry rows that tell who just
entered a watched segment. One transaction each.

Putting contacts on, or taking them off, a static list publishes
:class:`~.events.StaticListChanged`, so what watches the segment (nurture's triggers) hears
of it at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _g

from leadmill.core import events
from leadmill.core.errors import ValidationFailed
from leadmill.scoring.rules import reference_param

from .events import StaticListChanged
from .models import Segment, SegmentEntry, SegmentMember
from .selectors import segment_contacts

CHUNK = 5000


def segment_entries_detect(
    *, segment: Segment, contact_ids: Collection[int] | None = None, now: dt.datetime | None = None
) -> list[int]:
    """Bring the segment's :class:`SegmentEntry` rows in line with its members, set-based.

    Inserts a row (``entered_at=now``) for each member without one and returns their contact
    ids (who just entered); deletes the rows of contacts no longer in it, so entering again
    is noticed again. ``contact_ids`` limits both to those contacts (after an event about
    them); None sweeps the whole segment. Safe to run concurrently: a row another run
    inserted first is skipped, not returned twice.
    """
    now = now or timezone.now()
    members = segment_contacts(segment=segment, now=now).order_by()
    if contact_ids is None:
        with transaction.atomic():
            return _entries_sync(
                segment, members, SegmentEntry.objects.filter(segment=segment), now
            )
    ids = sorted(set(contact_ids))
    entered: list[int] = []
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            entered += _entries_sync(
                segment,
                members.filter(pk__in=chunk),
                SegmentEntry.objects.filter(segment=segment, contact_id__in=chunk),
                now,
            )
    return entered


def _entries_sync(
    segment: Segment, members: QuerySet, entries: QuerySet, now: dt.datetime
) -> list[int]:
    table = connection.ops.quote_name(SegmentEntry._meta.db_table)
    leavers_sql, leavers_params = (
        entries.filter(~Exists(members.filter(pk=OuterRef("contact_id"))))
        .values("pk")
        .query.sql_with_params()
    )
    members_sql, members_params = (
        members.annotate(member_id=F("pk")).values("member_id").query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({leavers_sql})", leavers_params)  # noqa: S608 -- compiled SQL only
        cursor.execute(
            f"INSERT INTO {table} (segment_id, contact_id, entered_at) "  # noqa: S608 -- compiled SQL and placeholders only
            f"SELECT %s, m.member_id, %s FROM ({members_sql}) m WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} e WHERE e.segment_id = %s AND e.contact_id = m.member_id) "
            f"ON CONFLICT DO NOTHING RETURNING contact_id",
            [segment.pk, reference_param(now), *members_params, segment.pk],
        )
        return sorted(row[0] for row in cursor.fetchall())


def segment_members_add(*, segment: Segment, contact_ids: Iterable[int]) -> int:
    """Put contacts on a static list; those already on it are skipped. Returns how many were
    added. Raises ValidationFailed for a dynamic segment (it follows its filters)."""
    if segment.kind != Segment.Kind.STATIC:
        raise ValidationFailed(
            _g("Only a static list has members to add; a dynamic segment follows its filters."),
            code="segment_not_static",
        )
    ids = set(contact_ids)
    with transaction.atomic():
        present = set(
            SegmentMember.objects.filter(segment=segment, contact_id__in=ids).values_list(
                "contact_id", flat=True
            )
        )
        rows = [SegmentMember(segment=segment, contact_id=pk) for pk in sorted(ids - present)]
        SegmentMember.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        if rows:
            events.publish(
                StaticListChanged(
                    segment_id=segment.pk,
                    contact_ids=[row.contact_id for row in rows],
                    added=True,
                    occurred_at=timezone.now(),
                )
            )
    return len(rows)


def segment_members_remove(*, segment: Segment, contact_ids: Iterable[int]) -> int:
    """Take contacts off a static list. Returns how many were removed."""
    with transaction.atomic():
        rows = SegmentMember.objects.filter(segment=segment, contact_id__in=list(contact_ids))
        removed_ids = sorted(rows.values_list("contact_id", flat=True))
        removed, _by_model = rows.delete()
        if removed:
            events.publish(
                StaticListChanged(
                    segment_id=segment.pk,
                    contact_ids=removed_ids,
                    added=False,
                    occurred_at=timezone.now(),
                )
            )
    return removed
