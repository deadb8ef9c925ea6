"""Reads of the forms report (docs/analytics.md, "Forms").

For one form and a period: views, starts, submissions, completion rate and median time to
complete; per field, how many browsers reached it, how many left the form there (its last
field touched before abandoning) and its validation error rate. Field events come from the
tracker (``form_field``: the field's name, never its value); errors from the posts
themselves (``Submission.errors``).

:func:`form_report_raw` reads the period's raw rows: it is the definition. :func:`form_report`
(served) gives the same numbers from the rows the fill stored (:mod:`.form_counts`) and the
days after them counted from the raw rows, kept a minute (:mod:`.tail`), ADR 64.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

from leadmill.capture.models import Form, Submission
from leadmill.tracking.models import Event, EventType

from .counts import by_a_bot_visitor, day_bounds
from .form_counts import (
    BrowserDay,
    FormDay,
    FormPeriod,
    browser_fold,
    form_days,
)
from .models import FormBrowserDay, FormDayCount
from .selectors import _ratio
from .tail import FillMark, fill_mark, kept_for_fill, kept_tail


def _median(values: list[float]) -> float | None:
    """Nearest-rank median: the ⌈n/2⌉-th smallest (as the funnel's medians)."""
    if not values:
        return None
    return sorted(values)[max(1, math.ceil(len(values) / 2)) - 1]


def form_report_raw(*, form: Form, since: dt.date, until: dt.date) -> dict:
    """The numbers of ``form`` from ``since`` to ``until`` (both included), from the raw rows.

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

    return _report(
        form=form,
        since=since,
        until=until,
        views=views,
        starts=len(first_start) + anonymous_starts,
        submissions=len(accepted),
        posts=len(posts),
        seconds=list(seconds_by_visitor.values()),
        reached={name: len(visitors) for name, visitors in reached.items()},
        left=left,
        errors=errors,
    )


def _report(
    *,
    form: Form,
    since: dt.date,
    until: dt.date,
    views: int,
    starts: int,
    submissions: int,
    posts: int,
    seconds: list[float],
    reached: dict[str, int],
    left: dict[str, int],
    errors: dict[str, int],
) -> dict:
    """The report's shape, from its numbers (counts of zero are absent from the dicts)."""
    names = [field.name for field in form.fields.all()]
    labels = {field.name: field.display_label for field in form.fields.all()}
    names += sorted((set(reached) | set(errors)) - set(names))  # fields removed since
    return {
        "form": form.slug,
        "name": form.name,
        "since": since,
        "until": until,
        "views": views,
        "starts": starts,
        "submissions": submissions,
        "completion_rate": _ratio(submissions, starts),
        "median_seconds_to_complete": _median(seconds),
        "fields": [
            {
                "field": name,
                "label": str(labels.get(name, name)),
                "reached": reached.get(name, 0),
                "left_here": left.get(name, 0),
                "error_rate": _ratio(errors.get(name, 0), posts),
            }
            for name in names
        ],
    }


def form_report(*, form: Form, since: dt.date, until: dt.date) -> dict:
    """The numbers of ``form`` from ``since`` to ``until`` (both included), as served: the
    same as :func:`form_report_raw`, from the days the fill stored plus the days after them
    counted from the raw rows (kept a minute, so exact as of that moment). Before the first
    fill, the raw reading."""
    mark = fill_mark()
    if mark is None:
        return form_report_raw(form=form, since=since, until=until)
    filled = mark.filled_until
    stored_until = min(until, filled - dt.timedelta(days=1)) if filled > dt.date.min else None
    period = FormPeriod()
    if stored_until is not None and since <= stored_until:
        period = kept_for_fill(  # the stored days change only when the fill writes
            ("form-stored", form.pk, since, stored_until),
            mark,
            lambda: stored_period(form_id=form.pk, since=since, until=stored_until),
        )
    tail: dict[str, list[BrowserDay]] = {}
    day = max(since, filled)
    while day <= until:
        tally, rows = day_form(day, form=form, mark=mark)
        period.add_day(tally)
        for row in rows:
            tail.setdefault(row.visitor_id, []).append(row)
        day += dt.timedelta(days=1)
    if tail:
        _tail_add(period, tail, form_id=form.pk, since=since, stored_until=stored_until)
    return _report(
        form=form,
        since=since,
        until=until,
        views=period.day.views,
        starts=period.started + period.day.anonymous_starts,
        submissions=period.day.submissions,
        posts=period.day.posts,
        seconds=[value for value, number in period.seconds.items() for _ in range(number)],
        reached={name: number for name, number in period.reached.items() if number},
        left={name: number for name, number in period.left.items() if number},
        errors={name: number for name, number in period.day.errors.items() if number},
    )


def _stored_rows(rows) -> list[BrowserDay]:
    return [
        BrowserDay(
            visitor_id=visitor_id,
            day=day,
            first_start=first_start,
            first_post=first_post,
            post_after_start=post_after_start,
            last_field=last_field,
            fields=fields,
        )
        for visitor_id, day, first_start, first_post, post_after_start, last_field, fields in rows
    ]


BROWSER_COLUMNS = (
    "visitor_id",
    "day",
    "first_start",
    "first_post",
    "post_after_start",
    "last_field",
    "fields",
)


def stored_period(*, form_id: int, since: dt.date, until: dt.date) -> FormPeriod:
    """A form's numbers over stored days: the days' counts summed, each browser's days
    folded into its part (:func:`.form_counts.browser_fold`)."""
    period = FormPeriod()
    for views, anonymous, submissions, posts, errors in FormDayCount.objects.filter(
        form_id=form_id, day__gte=since, day__lte=until
    ).values_list("views", "anonymous_starts", "submissions", "posts", "errors"):
        period.add_day(FormDay(views, anonymous, submissions, posts, errors or {}))
    # Grouped here, not ordered by the database: ordered by visitor, PostgreSQL may walk
    # every day of the form through the (form, visitor) index instead of the period's rows.
    by_browser: dict[str, list[tuple]] = {}
    for row in FormBrowserDay.objects.filter(
        form_id=form_id, day__gte=since, day__lte=until
    ).values_list(*BROWSER_COLUMNS):
        by_browser.setdefault(row[0], []).append(row)
    for rows in by_browser.values():
        period.add(browser_fold(_stored_rows(rows)))
    return period


def _tail_add(
    period: FormPeriod,
    tail: dict[str, list[BrowserDay]],
    *,
    form_id: int,
    since: dt.date,
    stored_until: dt.date | None,
) -> None:
    """Add the tail's browsers to ``period``; a browser also seen on a stored day of the
    period has its stored part taken away and its whole period's part added instead."""
    stored: dict[str, list[BrowserDay]] = {}
    if stored_until is not None and since <= stored_until:
        visitors = sorted(tail)
        for start in range(0, len(visitors), 2000):
            for row in _stored_rows(
                FormBrowserDay.objects.filter(
                    form_id=form_id,
                    visitor_id__in=visitors[start : start + 2000],
                    day__gte=since,
                    day__lte=stored_until,
                ).values_list(*BROWSER_COLUMNS)
            ):
                stored.setdefault(row.visitor_id, []).append(row)
    for visitor_id, rows in tail.items():
        before = stored.get(visitor_id)
        if before:
            period.add(browser_fold(before), sign=-1)
            rows = before + rows
        period.add(browser_fold(rows))


def day_form(day: dt.date, *, form: Form, mark: FillMark) -> tuple[FormDay, list[BrowserDay]]:
    """One form's counts and browser rows of a day after the fill's mark, kept a minute."""

    def count() -> tuple[FormDay, list[BrowserDay]]:
        return form_days(day, form=form).get(form.pk, (FormDay(), []))

    return kept_tail(f"form-{form.pk}", day, mark, count)
