"""Reads of the landing-pages report (docs/analytics.md, "Landing pages").

Per page (its path, without query or fragment): views, unique visitors and conversions in a
period, and the conversion rate; and, week by week, how many landing pages were live beside
how many leads came in, to check the claim that more landing pages bring more leads.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from datasketches import cpc_sketch, cpc_union
from django.utils import timezone

from leadmill.capture.pages import LandingPage

from .models import Metric, PageCount
from .page_counts import SKETCH_LG_K, visitors_estimate
from .selectors import _ratio, daily
from .tail import day_pages, fill_mark, kept_for_fill


def page_report(*, since: dt.date, until: dt.date, page: str = "") -> dict:
    """Views, unique visitors, conversions and rate per landing page, busiest first.

    Views and visitors exclude bots (the event's flag and the visitor's); a conversion is an
    accepted form post sent from the page. ``page`` (a path) keeps that page only. Days the
    fill has counted come from :class:`.models.PageCount`, later ones from the raw rows.
    Unique visitors (and so the rate) are exact for one day or when every day is counted
    from the raw rows; over several days with counted ones they are the days' sketches
    merged, an estimate within 1 %, and ``unique_visitors_approximate`` says so (ADR 56).
    """
    mark = fill_mark()
    filled = mark.filled_until if mark else None
    boundary = filled or since
    # The last day the fill counted; None before its first run (and no day before the
    # first of the calendar to count back from: a period may start on 0001-01-01).
    stored_until = (
        min(until, filled - dt.timedelta(days=1)) if filled and filled > dt.date.min else None
    )
    stored = stored_until is not None and since <= stored_until
    approximate = stored and since != until
    views: dict[str, int] = defaultdict(int)
    conversions: dict[str, int] = defaultdict(int)
    exact: dict[str, int] = defaultdict(int)  # one day, counted by the fill
    sketches: dict[str, list[bytes]] = defaultdict(list)
    if stored:
        counted = kept_for_fill(  # the stored days change only when the fill writes
            ("pages-stored", since, stored_until, page, approximate),
            mark,
            lambda: stored_pages(since=since, until=stored_until, page=page, sketches=approximate),
        )
        for path, (viewed, converted, visitors, merged) in counted.items():
            views[path] += viewed
            conversions[path] += converted
            exact[path] += visitors
            if merged:
                sketches[path].append(merged)
    raw: dict[str, set[str]] = defaultdict(set)  # the days after the counted ones
    day = max(since, boundary)
    while day <= until:
        for path, tally in day_pages(day, mark=mark).items():
            if page and path != page:
                continue
            views[path] += tally.views
            conversions[path] += tally.conversions
            if approximate and tally.sketch:  # a kept day (:mod:`.tail`) carries its sketch
                sketches[path].append(tally.sketch)
            else:
                raw[path] |= tally.visitors
        day += dt.timedelta(days=1)
    rows = []
    for path in set(views) | set(conversions):
        if approximate:
            visitors = visitors_estimate(sketches.get(path, ()), raw.get(path, ()))
        else:
            visitors = exact.get(path, 0) + len(raw.get(path, ()))
        rows.append(
            {
                "page": path,
                "views": views.get(path, 0),
                "unique_visitors": visitors,
                "unique_visitors_approximate": approximate,
                "conversions": conversions.get(path, 0),
                "conversion_rate": _ratio(conversions.get(path, 0), visitors),
            }
        )
    rows.sort(key=lambda row: (-row["views"], -row["conversions"], row["page"]))
    return {
        "since": since,
        "until": until,
        "unique_visitors_approximate": approximate,
        "rows": rows,
        "weeks": pages_live_by_week(since=since, until=until),
    }


def stored_pages(*, since: dt.date, until: dt.date, page: str, sketches: bool):
    """The stored days' counts per page: ``path -> (views, conversions, visitors, sketch)``,
    ``sketch`` the days' sketches merged (serialized; empty unless ``sketches``)."""
    counted = PageCount.objects.filter(day__gte=since, day__lte=until)
    if page:
        counted = counted.filter(landing_page=page)
    fields = ["landing_page", "views", "conversions", "visitors"]
    totals: dict[str, list] = {}
    unions: dict[str, cpc_union] = {}
    for path, viewed, converted, visitors, *sketch in counted.values_list(
        *fields, *(["visitors_sketch"] if sketches else [])
    ):
        total = totals.setdefault(path, [0, 0, 0, b""])
        total[0] += viewed
        total[1] += converted
        total[2] += visitors
        if sketch:
            unions.setdefault(path, cpc_union(SKETCH_LG_K)).update(
                cpc_sketch.deserialize(bytes(sketch[0]))
            )
    for path, union in unions.items():
        totals[path][3] = union.get_result().serialize()
    return {path: tuple(total) for path, total in totals.items()}


def pages_live_by_week(*, since: dt.date, until: dt.date) -> list[dict]:
    """Per week (Monday to Sunday) that overlaps the period: the landing pages live at its
    end (first published by then and live today: Wagtail keeps no history of unpublishing)
    and the leads that came in during its days inside the period."""
    leads = daily(metric=Metric.LEADS, since=since, until=until)
    published = sorted(
        timezone.localtime(moment).date()
        for moment in LandingPage.objects.live()
        .exclude(first_published_at=None)
        .values_list("first_published_at", flat=True)
    )
    weeks = []
    monday = since - dt.timedelta(days=since.weekday())
    while monday <= until:
        sunday = monday + dt.timedelta(days=6)
        weeks.append(
            {
                "week": monday,
                "pages_live": sum(1 for day in published if day <= sunday),
                "leads": sum(
                    sum(groups.values()) for day, groups in leads.items() if monday <= day <= sunday
                ),
            }
        )
        monday += dt.timedelta(days=7)
    return weeks
