"""Privacy's reads."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ErasureRecord


def erasure_of(*, contact_id: int) -> ErasureRecord | None:
    """The erasure of the lead that had this id, if it was erased (its latest)."""
    return ErasureRecord.objects.filter(contact_id=contact_id).order_by("-erased_at", "-id").first()


def erasures_recent() -> QuerySet[ErasureRecord]:
    """Every erasure, newest first (the back office's audit listing)."""
    return ErasureRecord.objects.select_related("erased_by").order_by("-erased_at", "-id")
