"""Reads of segments: who is in one, how many, whether one contact is, and what uses a
segment. Every membership read is one SQL query (no rows are materialised).

Raise :class:`~.definitions.SegmentDefinitionError` when a dynamic segment's filters cannot
be evaluated (for instance, they refer to a segment that was deleted).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _
from wagtail import hooks

from leadmill.contacts.models import Contact

from .definitions import definition_q
from .models import Segment, SegmentMember

SEGMENT_USES_HOOK = "leadmill_segment_uses"
"""Wagtail hook through which higher apps say what uses a segment: each registered
``function(segment_id) -> [str]`` returns translated phrases ("sequence “Welcome”")."""


def segment_contacts(*, segment: Segment, now: dt.datetime | None = None) -> QuerySet[Contact]:
    """The contacts in the segment now, as one lazy queryset (no rows are materialised).

    Raises :class:`SegmentDefinitionError` when a dynamic segment's filters are invalid.
    """
    if segment.kind == Segment.Kind.STATIC:
        return Contact.objects.filter(
            Exists(SegmentMember.objects.filter(segment_id=segment.pk, contact_id=OuterRef("pk")))
        )
    return Contact.objects.filter(definition_q(segment.definition, now=now, segment_id=segment.pk))


def segment_count(*, segment: Segment, now: dt.datetime | None = None) -> int:
    """How many contacts are in the segment now (one ``COUNT``)."""
    return segment_contacts(segment=segment, now=now).order_by().count()


def definition_count(*, definition: dict, segment_id: int | None = None) -> int:
    """How many contacts a draft definition selects (the editor's live size)."""
    return (
        Contact.objects.filter(definition_q(definition, segment_id=segment_id)).order_by().count()
    )


def segment_contains(*, segment: Segment, contact_id: int, now: dt.datetime | None = None) -> bool:
    """Whether one contact is in the segment now."""
    return segment_contacts(segment=segment, now=now).filter(pk=contact_id).exists()


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
    filters refer to it, then what the apps above say through :data:`SEGMENT_USES_HOOK`
    (nurture: the sequences it triggers or that branch on it, its broadcasts)."""
    uses = [
        _("segment “%(name)s”") % {"name": other.name}
        for other in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exclude(pk=segment_id)
        if _refers_to(other.definition, segment_id)
    ]
    for find_uses in hooks.get_hooks(SEGMENT_USES_HOOK):
        uses += find_uses(segment_id)
    return uses
