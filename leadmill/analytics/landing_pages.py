"""Reads of the landing-pages report (docs/analytics.md, "Landing pages").

Per page (its path, without query or fragment): views, unique visitors and conversions in a
period, and the conversion rate; and, week by week, how many landing pages were live beside
how many leads came in, to check the claim that more landing pages bring more leads.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count
from django.utils import timezone

from leadmill.capture.models import Submission
from leadmill.capture.pages import LandingPage
from leadmill.tracking.models import Event, EventType

from .counts import day_bounds, landing_page_of
from .models import Metric
from .selectors import _ratio, daily


def page_report(*, since: dt.date, until: dt.date, page: str = "") -> dict:
    """Views, unique visitors, conversions and rate per landing page, busiest first.

    Views and visitors exclude bots (the event's flag and the visitor's); a conversion is an
    accepted form post sent from the page. ``page`` (a path) keeps that page only.
    """
    start, end = day_bounds(since)[0], day_bounds(until)[1]
    views: dict[str, int] = defaultdict(int)
    visitors: dict[str, set] = defaultdict(set)
    events = (
        Event.objects.filter(
            occurred_at__gte=start, occurred_at__lt=end, type=EventType.PAGE_VIEW, is_bot=False
        )
        .exclude(visitor__is_bot=True)
        .values("url", "visitor_id")
        .annotate(n=Count("id"))
    )
    for row in events:
        path = landing_page_of(row["url"])
        views[path] += row["n"]
        if row["visitor_id"]:
            visitors[path].add(row["visitor_id"])
    conversions: dict[str, int] = defaultdict(int)
    for row in (
        Submission.objects.filter(
            created_at__gte=start, created_at__lt=end, status=Submission.Status.ACCEPTED
        )
        .values("page_url")
        .annotate(n=Count("id"))
    ):
        conversions[landing_page_of(row["page_url"])] += row["n"]
    paths = (set(views) | set(conversions)) - {""}
    if page:
        paths &= {page}
    rows = [
        {
            "page": path,
            "views": views.get(path, 0),
            "unique_visitors": len(visitors.get(path, ())),
            "conversions": conversions.get(path, 0),
            "conversion_rate": _ratio(conversions.get(path, 0), len(visitors.get(path, ()))),
        }
        for path in paths
    ]
    rows.sort(key=lambda row: (-row["views"], -row["conversions"], row["page"]))
    return {
        "since": since,
        "until": until,
        "rows": rows,
        "weeks": pages_live_by_week(since=since, until=until),
    }


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
