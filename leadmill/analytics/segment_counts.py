"""The funnel's counts per segment (docs/analytics.md, "Breakdowns"; ADR 59).

A lead may be in many segments, or in none, so segments are no partition of the leads and
no column of the daily counts: a segment's row counts, with the very statement the fill
uses for a day, the leads of the period who are in the segment *now* (its membership is
evaluated when the report is read, as every segment read is). Rows do not add up to the
total; a segment has no visitors and no spend.
"""

from __future__ import annotations

import datetime as dt

from leadmill.segments.definitions import SegmentDefinitionError
from leadmill.segments.models import Segment
from leadmill.segments.selectors import segment_contacts

from .counts import DayCounts, day_bounds, leads_counts


def segment_counts(*, since: dt.date, until: dt.date) -> list[tuple[Segment, DayCounts]]:
    """Every segment (by name) with the leads' rows of the period from ``since`` to
    ``until`` (both included) among its members now: one statement per segment. A dynamic
    segment whose filters cannot be evaluated (it refers to a deleted segment) is left out.
    """
    start, end = day_bounds(since)[0], day_bounds(until)[1]
    found = []
    for segment in Segment.objects.order_by("name", "pk"):
        try:
            members = segment_contacts(segment=segment).order_by().values("pk")
            among = members.query.sql_with_params()
        except SegmentDefinitionError:
            continue
        counts = DayCounts()
        leads_counts(start, end, counts, among=among)
        found.append((segment, counts))
    return found
