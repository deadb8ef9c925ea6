"""One day's landing-page counts from the raw tables, and their daily rows (ADR 56).

Per landing page (its path) and day: non-bot page views, accepted form posts sent from
it, and its distinct visitors. The fill stores them in :class:`.models.PageCount` with a
sketch of the day's visitor ids, so that the distinct visitors of any period are the
sketches merged: an estimate (within 1 %, labelled approximate), where summing the days'
exact counts would count a visitor once per day it came back.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from datasketches import cpc_sketch, cpc_union
from django.db import connection, transaction
from django.db.models import Count

from leadmill.capture.models import Submission
from leadmill.tracking.models import Event, EventType

from .counts import by_a_bot_visitor, day_bounds, landing_page_of, without_jit
from .models import PageCount

# CPC sketches of 2**16 slots: a relative standard error near 0.3 % once merged (ADR 56),
# so an estimate stays within the 1 % promised; a few kilobytes per page and day.
SKETCH_LG_K = 16


@dataclass
class PageTally:
    """One page's views, conversions and distinct visitor ids (of one day, or merged);
    ``sketch``: the visitors' serialized sketch, when computed beforehand (:mod:`.tail`)."""

    views: int = 0
    conversions: int = 0
    visitors: set[str] = field(default_factory=set)
    sketch: bytes = b""


def page_tallies(day: dt.date) -> dict[str, PageTally]:
    """The landing pages of ``day`` counted from the raw rows: views and visitors leave out
    bots (the event's flag and the visitor's); a conversion is an accepted form post sent
    from the page. Pages without a path are left out."""
    start, end = day_bounds(day)
    pages: dict[str, PageTally] = defaultdict(PageTally)
    paths: dict[str, str] = {}  # a URL's path, parsed once per distinct URL
    events = (
        Event.objects.filter(
            occurred_at__gte=start, occurred_at__lt=end, type=EventType.PAGE_VIEW, is_bot=False
        )
        .exclude(by_a_bot_visitor())
        .values("url", "visitor_id")
        .annotate(n=Count("id"))
        .values_list("url", "visitor_id", "n")
    )
    sql, params = events.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:  # plain rows, no converters
        without_jit(cursor)
        if connection.vendor == "postgresql":
            # The day's (URL, visitor) pairs are grouped in memory: about 40 MB at
            # 170,000 page views a day, which spill to disk under PostgreSQL's default
            # 4 MB (ADR 62). For this transaction only.
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for url, visitor_id, number in rows:
        path = paths.get(url)
        if path is None:
            path = paths[url] = landing_page_of(url)
        tally = pages[path]
        tally.views += number
        if visitor_id:
            tally.visitors.add(visitor_id)
    for page_url, number in (
        Submission.objects.filter(
            created_at__gte=start, created_at__lt=end, status=Submission.Status.ACCEPTED
        )
        .values("page_url")
        .annotate(n=Count("id"))
        .values_list("page_url", "n")
    ):
        pages[landing_page_of(page_url)].conversions += number
    pages.pop("", None)
    return pages


def sketch_of(visitors: Iterable[str]) -> cpc_sketch:
    sketch = cpc_sketch(SKETCH_LG_K)
    for visitor in visitors:
        sketch.update(visitor)
    return sketch


def page_counts_of(day: dt.date) -> list[PageCount]:
    """The rows the fill stores for ``day`` (computed before its write transaction)."""
    return [
        PageCount(
            day=day,
            landing_page=path,
            views=tally.views,
            conversions=tally.conversions,
            visitors=len(tally.visitors),
            visitors_sketch=sketch_of(tally.visitors).serialize(),
        )
        for path, tally in page_tallies(day).items()
    ]


def page_counts_write(day: dt.date, rows: list[PageCount]) -> None:
    """Replace the rows of ``day`` (inside the fill's transaction of that day)."""
    PageCount.objects.filter(day=day).delete()
    PageCount.objects.bulk_create(rows, batch_size=500)


def visitors_estimate(sketches: Iterable[bytes], visitors: Iterable[str]) -> int:
    """Distinct visitors of stored day sketches and raw visitor ids, merged: an estimate."""
    union = cpc_union(SKETCH_LG_K)
    for stored in sketches:
        union.update(cpc_sketch.deserialize(bytes(stored)))
    union.update(sketch_of(visitors))
    return round(union.get_result().get_estimate())
