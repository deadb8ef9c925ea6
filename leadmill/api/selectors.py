"""Reads of the API: pages of rows behind an opaque cursor.

A cursor is the last row's id written in base 36 (at most 12 characters, so every string
the schema allows decodes to a 64-bit id). Pages run in id order: a row written while a
client pages gets a higher id and shows on a later page; none is skipped or repeated.
Each page is one query whatever its size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from leadmill.contacts.identity import email_normalise
from leadmill.contacts.models import Contact
from leadmill.core.errors import DomainError
from leadmill.sales.models import SalesRep

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


def leads_filtered(filters: LeadFilters) -> QuerySet[Contact]:
    """The leads matching every filter given (first-touch channel / source / campaign)."""
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
