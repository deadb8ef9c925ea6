"""Reads of the API: pages of rows behind an opaque cursor.

A cursor is the last row's id written in base 36 (at most 12 characters, so every string
the schema allows decodes to a 64-bit id). Pages run in id order: a row written while a
client pages gets a higher id and shows on a later page; none is skipped or repeated.
Each page is one query whatever its size.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.capture.models import Submission
from leadmill.consent.models import Consent
from leadmill.contacts.identity import email_normalise
from leadmill.contacts.models import Contact
from leadmill.core.errors import Conflict, DomainError, NotFound
from leadmill.nurture.models import Sequence
from leadmill.sales.models import Activity, SalesRep
from leadmill.scoring.models import ContactScore
from leadmill.segments.definitions import SegmentDefinitionError
from leadmill.segments.models import Segment
from leadmill.segments.scores import score_expression
from leadmill.segments.selectors import segment_contacts

CURSOR_PATTERN = r"^[0-9a-z]{1,12}$"
MAX_PAGE = 200


def cursor_encode(pk: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        pk, rest = divmod(pk, 36)
        text = digits[rest] + text
        if not pk:
            return text


def cursor_decode(cursor: str) -> int:
    return int(cursor, 36) if cursor else 0


@dataclass(frozen=True)
class LeadFilters:
    email: str = ""
    stage: str = ""
    temperature: str = ""
    owner_id: int | None = None
    channel: str = ""
    source: str = ""
    campaign: str = ""
    created_since: dt.datetime | None = None
    updated_since: dt.datetime | None = None
    segment_id: int | None = None
    # Score ranges, both ends included: ``{"score.fit": (min, max)}`` with None for an open end
    # (the names of segments' score conditions: score.fit, score.engagement, score.total,
    # score.predictive).
    scores: dict[str, tuple[float | None, float | None]] = dataclasses.field(default_factory=dict)


def leads_filtered(filters: LeadFilters) -> QuerySet[Contact]:
    """The leads matching every filter given (first-touch channel / source / campaign, a
    segment's members now, score ranges with the engagement decayed to now as segments
    compare it). Raises NotFound for an unknown segment, Conflict for a dynamic segment whose
    filters cannot be evaluated."""
    query = Contact.objects.all()
    if filters.email:
        try:
            query = query.filter(email=email_normalise(filters.email, check_deliverability=False))
        except DomainError:
            return Contact.objects.none()
    exact = {
        "lifecycle_stage": filters.stage,
        "temperature": filters.temperature,
        "owner_id": filters.owner_id,
        "first_channel": filters.channel,
        "first_source": filters.source,
        "first_campaign": filters.campaign,
    }
    query = query.filter(**{field: value for field, value in exact.items() if value})
    if filters.created_since is not None:
        query = query.filter(created_at__gte=filters.created_since)
    if filters.updated_since is not None:
        query = query.filter(updated_at__gte=filters.updated_since)
    if filters.segment_id is not None:
        query = query.filter(pk__in=segment_members(segment=segment_get(filters.segment_id)))
    now = timezone.now()
    for field, (low, high) in filters.scores.items():
        if low is None and high is None:
            continue
        scores = ContactScore.objects.filter(contact_id=OuterRef("pk")).annotate(
            value=score_expression(field, at=now)
        )
        if low is not None:
            scores = scores.filter(value__gte=low)
        if high is not None:
            scores = scores.filter(value__lte=high)
        query = query.filter(Exists(scores))
    return query


def segment_get(segment_id: int) -> Segment:
    """The segment, or NotFound."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise NotFound(_("No segment with this id."), code="not_found")
    return segment


def segment_members(*, segment: Segment) -> QuerySet[Contact]:
    """The segment's members now (one lazy query). Raises Conflict when a dynamic segment's
    filters cannot be evaluated (they name a segment since deleted, …): fix it in the admin."""
    try:
        return segment_contacts(segment=segment).order_by()
    except SegmentDefinitionError as exc:
        raise Conflict(
            _("This segment's filters cannot be evaluated: %(why)s") % {"why": exc.message},
            code="segment_invalid",
        ) from exc


def lead_get(lead_id: int) -> Contact:
    """The lead, or NotFound (404 ``not_found``)."""
    contact = Contact.objects.filter(pk=lead_id).first()
    if contact is None:
        raise NotFound(_("No lead with this id."), code="not_found")
    return contact


def leads_existing(lead_ids) -> set[int]:
    """Which of ``lead_ids`` are leads (one query)."""
    return set(Contact.objects.filter(pk__in=set(lead_ids)).values_list("pk", flat=True))


def lead_consents(*, contact_id: int) -> QuerySet[Consent]:
    """The lead's consent answers, newest first, with their purposes and texts (one query)."""
    return (
        Consent.objects.filter(contact_id=contact_id)
        .select_related("purpose", "purpose_text")
        .order_by("-occurred_at", "-id")
    )


def submissions_filtered(
    *,
    lead_id: int | None = None,
    channel: str = "",
    status: str = "",
    created_since: dt.datetime | None = None,
) -> QuerySet[Submission]:
    """Submissions matching every filter given (a page is one query)."""
    query = Submission.objects.all()
    if lead_id is not None:
        query = query.filter(contact_id=lead_id)
    if channel:
        query = query.filter(channel=channel)
    if status:
        query = query.filter(status=status)
    if created_since is not None:
        query = query.filter(created_at__gte=created_since)
    return query


def segments_all() -> QuerySet[Segment]:
    return Segment.objects.all()


def sequences_all() -> QuerySet[Sequence]:
    return Sequence.objects.all()


def activities_filtered(*, lead_id: int | None = None, kind: str = "") -> QuerySet[Activity]:
    """Sales activities (with their users: one query per page)."""
    query = Activity.objects.select_related("user")
    if lead_id is not None:
        query = query.filter(contact_id=lead_id)
    if kind:
        query = query.filter(kind=kind)
    return query


def page_after(query: QuerySet, *, after: str, limit: int) -> tuple[list, str | None]:
    """One page of ``query`` after the cursor, and the cursor of the next page (None at the
    end). One query: it reads ``limit + 1`` rows to know whether another page follows."""
    rows = list(query.filter(pk__gt=cursor_decode(after)).order_by("pk")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, cursor_encode(rows[-1].pk)


def owners_all() -> QuerySet[SalesRep]:
    """The sales reps with their users (one query per page)."""
    return SalesRep.objects.select_related("user")
