"""Reads of the forms report (docs/analytics.md, "Forms").

For one form and a period: views, starts, submissions, completion rate and median time to
complete; per field, how many browsers reached it, how many left the form there (its last
field touched before abandoning) and its validation error rate. Field events come from the
tracker (``form_field``: the field's name, never its value); errors from the posts
themselves (``Submission.errors``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

from leadmill.capture.models import Form, Submission
from leadmill.tracking.models import Event, EventType

from .counts import by_a_bot_visitor, day_bounds
from .selectors import _ratio


def _median(values: list[float]) -> float | None:
    """Nearest-rank median: the ⌈n/2⌉-th smallest (as the funnel's medians)."""
    if not values:
        return None
    return sorted(values)[max(1, math.ceil(len(values) / 2)) - 1]


def form_report(*, form: Form, since: dt.date, until: dt.date) -> dict:
    """The numbers of ``form`` from ``since`` to ``until`` (both included).

    A browser is known by its visitor id; a start or field event without one (a site that
    waits for consent) counts as a browser of its own. Bots' events never count.
    """
    start, end = day_bounds(since)[0], day_bounds(until)[1]
    events = Event.objects.filter(
        occurred_at__gte=start, occurred_at__lt=end, name=form.slug, is_bot=False
    ).exclude(by_a_bot_visitor())  # the few bots hashed, not every visitor (ADR 62)
    views = events.filter(type=EventType.FORM_VIEW).count()
    first_start: dict[str, dt.datetime] = {}
    anonymous_starts = 0
    for visitor_id, moment in (
        events.filter(type=EventType.FORM_START)
        .order_by("occurred_at", "id")
        .values_list("visitor_id", "occurred_at")
    ):
        if not visitor_id:
            anonymous_starts += 1
        elif visitor_id not in first_start:
            first_start[visitor_id] = moment
    posts = list(
        Submission.objects.filter(
            form=form,
            created_at__gte=start,
            created_at__lt=end,
            status__in=(Submission.Status.ACCEPTED, Submission.Status.REJECTED),
        ).values_list("status", "visitor_id", "created_at", "errors")
    )
    accepted = [post for post in posts if post[0] == Submission.Status.ACCEPTED]
    finished = {visitor for _status, visitor, _at, _errors in accepted if visitor}
    seconds_by_visitor: dict[str, float] = {}  # one time per browser: its first completion
    for _status, visitor, created_at, _errors in sorted(accepted, key=lambda post: post[2]):
        started = first_start.get(visitor)
        if visitor and visitor not in seconds_by_visitor and started and started <= created_at:
            seconds_by_visitor[visitor] = (created_at - started).total_seconds()

    reached: dict[str, set] = defaultdict(set)
    last_field: dict[str, str] = {}
    for visitor_id, properties in (
        events.filter(type=EventType.FORM_FIELD)
        .order_by("occurred_at", "id")
        .values_list("visitor_id", "properties")
    ):
        field = (properties or {}).get("field") if isinstance(properties, dict) else None
        if not isinstance(field, str) or not field:
            continue
        if visitor_id:
            reached[field].add(visitor_id)
            last_field[visitor_id] = field
    left: dict[str, int] = defaultdict(int)
    for visitor_id, field in last_field.items():
        if visitor_id in first_start and visitor_id not in finished:
            left[field] += 1
    errors: dict[str, int] = defaultdict(int)
    for _status, _visitor, _at, post_errors in posts:
        for field in post_errors or {}:
            errors[field] += 1

    names = [field.name for field in form.fields.all()]
    labels = {field.name: field.display_label for field in form.fields.all()}
    names += sorted((set(reached) | set(errors)) - set(names))  # fields removed since
    starts = len(first_start) + anonymous_starts
    return {
        "form": form.slug,
        "name": form.name,
        "since": since,
        "until": until,
        "views": views,
        "starts": starts,
        "submissions": len(accepted),
        "completion_rate": _ratio(len(accepted), starts),
        "median_seconds_to_complete": _median(list(seconds_by_visitor.values())),
        "fields": [
            {
                "field": name,
                "label": str(labels.get(name, name)),
                "reached": len(reached.get(name, ())),
                "left_here": left.get(name, 0),
                "error_rate": _ratio(errors.get(name, 0), len(posts)),
            }
            for name in names
        ],
    }
