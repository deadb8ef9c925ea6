"""Segments: dynamic (a filter evaluated as one SQL query whenever read) and static lists,
and the entry rows that tell who just entered a segment.

Until 2026-12 these were nurture's models; their tables were renamed from ``nurture_*`` to
``segments_*`` without losing a row (see ``migrations/0001_initial.py``).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from leadmill.contacts.models import Contact


class Segment(models.Model):
    """A set of contacts: dynamic (a filter, evaluated as one SQL query whenever read) or
    static (an explicit list in :class:`SegmentMember`).

    ``definition`` (dynamic only) is ``{"match": "all"|"any", "conditions": [...]}``; see
    :mod:`.definitions` and :mod:`.fields` for the condition vocabulary.
    """

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (filters)")
        STATIC = "static", _("Static list")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DYNAMIC)
    definition = models.JSONField(_("filters"), default=dict, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A contact on a static list."""

    wagtail_reference_index_ignore = True

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="segment_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} on {self.segment_id}"


class SegmentEntry(models.Model):
    """That a contact was seen inside a segment someone watches (a sequence it triggers).

    Only kept for watched segments: the difference between the segment's query and these rows
    is who just entered. Leaving deletes the row, so entering again can trigger again.
    """

    wagtail_reference_index_ignore = True

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="entries")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="segment_entry_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.segment_id}"
