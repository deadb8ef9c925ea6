"""The stored days of a lead that is erased or merged away, noted for the next fill (ADR 71).

The fill's stored rows (daily counts, credits, the leads' rows and shares, first visits,
pages' and forms' days) are computed from the raw rows. Erasure deletes a lead and its
events and empties its form posts; a merge moves the loser's history to the survivor and
deletes the loser. Neither writes anything the fill's high-water marks see, and afterwards
the rows that would say which days changed are gone. So the personal-data registry calls
these functions first, inside the erasure's or the merge's transaction: they note the days
as :class:`.models.JourneyChange` rows (a day, no one's id), and the survivor of a merge as
a lead whose days and shares are counted again, the mechanism of a late identification
(ADR 65). The next ordinary fill counts those days again and the served numbers equal a
direct count over the raw rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q

from leadmill.capture.models import Submission
from leadmill.tracking.models import Event

from .counts import day_of, days_touched_by_leads
from .models import FirstVisit, FormBrowserDay, JourneyChange, LeadRow, LeadShare


def _stored_days(contact_ids: Iterable[int]) -> set[dt.date]:
    """The filled days these leads counted in: their stored leads' rows (every metric of
    every day, so every day of the daily counts and credits they are in)."""
    return set(
        LeadRow.objects.filter(contact_id__in=list(contact_ids))
        .values_list("day", flat=True)
        .distinct()
    )


def _days_note(days: Iterable[dt.date], *, leads: Iterable[int] = ()) -> None:
    JourneyChange.objects.bulk_create(
        [JourneyChange(contact_id=lead) for lead in sorted(set(leads))]
        + [JourneyChange(day=day) for day in sorted(set(days))]
    )


def erased_days_note(*, subject_id: int, visitor_ids: frozenset[str]) -> None:
    """Before a lead is erased (the registry's ``before_erase``): note every day its
    erasure changes. Its own days (stored, and those its rows date now: a change not
    counted yet), and the days of what the erasure deletes or empties that the fill counts:
    its browsers' and its own events (visitors, pages, forms, CTAs), its form posts
    (conversions, posts and their errors), its browsers' first visits and form days. Days
    not filled yet are noted too (the fill leaves them to their turn): a fill running now
    may be counting one of them from the rows as they were."""
    visitors = sorted(visitor_ids)
    days = _stored_days([subject_id]) | days_touched_by_leads([subject_id])
    days.update(
        day_of(moment)
        for moment in Event.objects.filter(
            Q(contact_id=subject_id) | Q(visitor_id__in=visitors)
        ).values_list("occurred_at", flat=True)
    )
    days.update(
        day_of(moment)
        for moment in Submission.objects.filter(
            Q(contact_id=subject_id) | Q(visitor_id__in=visitors)
        ).values_list("created_at", flat=True)
    )
    if visitors:
        days.update(
            FirstVisit.objects.filter(visitor_id__in=visitors).values_list("day", flat=True)
        )
        days.update(
            FormBrowserDay.objects.filter(visitor_id__in=visitors).values_list("day", flat=True)
        )
    _days_note(days)


def lead_rows_merge(*, keep_id: int, gone_id: int) -> int:
    """The leads' rows of a merge (the registry's merge function for
    :class:`.models.LeadRow`): the days both leads counted in are noted, and the survivor,
    whose history (stage changes, outcome, form posts, touches) may now be the loser's
    too, is noted as a lead whose days and shares are counted again. The loser's rows are
    deleted: no lead of theirs is left. Returns the rows deleted."""
    _days_note(_stored_days([keep_id, gone_id]), leads=[keep_id])
    return LeadRow.objects.filter(contact_id=gone_id).delete()[0]


def lead_shares_merge(*, keep_id: int, gone_id: int) -> int:
    """The loser's shares go (the registry's merge function for
    :class:`.models.LeadShare`): the survivor's are computed again from its merged journey
    by the next fill (:func:`lead_rows_merge` notes it). Returns the rows deleted."""
    return LeadShare.objects.filter(contact_id=gone_id).delete()[0]
