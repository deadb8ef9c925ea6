"""The funnel's counts per segment (docs/analytics.md, "Breakdowns"; ADR 59 and 65).

A lead may be in many segments, or in none, so segments are no partition of the leads and
no column of the daily counts: a segment's row counts the leads of the period who are in
the segment *now* (its membership is evaluated when the report is read, as every segment
read is). Rows do not add up to the total; a segment has no visitors and no spend.

The leads' rows of the filled days are read from :class:`.models.LeadRow` (the fill's
per-lead rows: metric, lag, amount), joined with every segment's members in one statement,
kept as the tail is (ADR 69: the members as of the moment counted, at most
``LEADMILL_ANALYTICS_TAIL_SECONDS``; an edited segment or a fill's write counts again at
once); the days not filled yet are counted from the raw tables by the statement the fill
uses, per segment, and kept a minute as the rest of the tail is (:mod:`.tail`). With a
filter on the leads' dimensions, or before the first fill, every day is counted from the
raw tables.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection

from leadmill.segments.definitions import SegmentDefinitionError
from leadmill.segments.models import Segment
from leadmill.segments.selectors import segment_contacts

from .counts import CENT, DayCounts, _leads_cursor, day_bounds, leads_counts
from .models import LeadRow
from .tail import fill_mark, kept_as_of, kept_tail

# A stored lead row has no dimensions: the key of "every lead" (no filter).
NO_DIMS = ("", "", "", "", "", 0, "", "")


def segment_counts(
    *, since: dt.date, until: dt.date, filtered: bool = False
) -> list[tuple[Segment, DayCounts]]:
    """Every segment (by name) with the leads' rows of the period from ``since`` to
    ``until`` (both included) among its members now. ``filtered``: the rows keep the leads'
    dimensions (every day counted from the raw tables), else only metric and lag. A dynamic
    segment whose filters cannot be evaluated (it refers to a deleted segment) is left out.
    """
    segments = []
    for segment in Segment.objects.order_by("name", "pk"):
        try:
            members = segment_contacts(segment=segment).order_by().values("pk")
            segments.append((segment, members.query.sql_with_params(), DayCounts()))
        except SegmentDefinitionError:
            continue
    mark = fill_mark()
    start, end = day_bounds(since)[0], day_bounds(until)[1]
    if mark is None or filtered:
        for _segment, among, counts in segments:
            leads_counts(start, end, counts, among=among)
        return [(segment, counts) for segment, _among, counts in segments]
    if since < mark.filled_until and segments:
        stored_until = min(until, mark.filled_until - dt.timedelta(days=1))
        # Members now, joined with the stored rows: kept as the tail is (ADR 69); an edited
        # segment (its ``updated_at``) or a fill's write counts them again at once.
        _moment, stored = kept_as_of(
            "segments",
            (since, stored_until, [(s.pk, s.updated_at.timestamp()) for s, _a, _c in segments]),
            mark,
            lambda _moment: _stored_rows(segments, since, stored_until),
            recall={"since": since, "until": until},
        )
        for index, rows in stored.items():
            for (metric, lag), (number, amount) in rows.items():
                segments[index][2].add(metric, NO_DIMS, lag=lag, amount=amount, number=number)
    tail_since = max(since, mark.filled_until)
    if tail_since <= until:
        tail_start = day_bounds(tail_since)[0]
        for segment, among, counts in segments:

            def count(among=among) -> dict:
                tail = DayCounts()
                leads_counts(tail_start, end, tail, among=among)
                return dict(tail.rows)

            for key, (number, amount) in kept_tail(
                f"segment:{segment.pk}:{segment.updated_at.timestamp()}:{until.isoformat()}",
                tail_since,
                mark,
                count,
            ).items():
                counts.add(key[0], key[1:-1], lag=key[-1], amount=amount, number=number)
    return [(segment, counts) for segment, _among, counts in segments]


def _stored_rows(segments: list, since: dt.date, until: dt.date) -> dict[int, dict]:
    """The stored leads' rows of the filled days from ``since`` to ``until`` per segment, by
    one statement: the rows of the period joined with each segment's members (its own
    query), grouped by segment, metric and lag. ``{segment index: {(metric, lag): [count,
    amount]}}``."""
    members = " UNION ALL ".join(
        f"SELECT {index} AS segment_index, m.pk AS id FROM ({sql}) AS m"  # noqa: S608 -- Django's SQL
        for index, (_segment, (sql, _params), _counts) in enumerate(segments)
    )
    params = [param for _segment, (_sql, params), _counts in segments for param in params]
    table = connection.ops.quote_name(LeadRow._meta.db_table)
    rows: dict[int, dict] = {}
    with _leads_cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.segment_index, r.metric, r.lag_days, COUNT(*), SUM(r.amount)
            FROM {table} r JOIN ({members}) AS s ON s.id = r.contact_id
            WHERE r.day >= %s AND r.day <= %s
            GROUP BY s.segment_index, r.metric, r.lag_days
            """,  # noqa: S608 -- table names and Django's SQL; the values are parameters
            [
                *params,
                connection.ops.adapt_datefield_value(since),
                connection.ops.adapt_datefield_value(until),
            ],
        )
        for index, metric, lag, number, amount in cursor.fetchall():
            rows.setdefault(index, {})[(metric, lag)] = [number, _decimal(amount)]
    return rows


def _decimal(amount) -> Decimal:
    """A sum of amounts as money (SQLite sums the stored decimals as floats)."""
    if isinstance(amount, Decimal):
        return amount
    return Decimal(str(amount or 0)).quantize(CENT)
