"""One day's form counts from the raw tables, their stored rows, and their fold (ADR 64).

The forms report's numbers are over a period, not sums of days: starts and "reached" are
distinct browsers, "left here" is a browser's last field of the period, the time to
complete runs from a browser's first start of the period to its first accepted post after
it. So the fill stores, per form and day, the day's plain counts (:class:`.models.FormDayCount`)
and, per browser that started, touched a field or sent an accepted post that day, what the
period needs of it (:class:`.models.FormBrowserDay`); :func:`browser_fold` folds a browser's
days of a period into its part of the report. A day not filled yet (today) is counted by
the same :func:`form_days`, so stored and raw days can only differ if rows changed after
the fill, which the fill's marks find.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from leadmill.capture.models import Form, Submission
from leadmill.core.db import instances_insert
from leadmill.tracking.models import Event, EventType

from .counts import by_a_bot_visitor, day_bounds, day_of
from .models import FormBrowserDay, FormDayCount

FORM_EVENTS = (EventType.FORM_VIEW, EventType.FORM_START, EventType.FORM_FIELD)
POSTS = (Submission.Status.ACCEPTED, Submission.Status.REJECTED)  # spam is not a post


@dataclass
class FormDay:
    """One form's plain counts of a day: they add up over days."""

    views: int = 0
    anonymous_starts: int = 0  # starts without a visitor id: a browser each
    submissions: int = 0  # accepted posts
    posts: int = 0  # accepted or refused as invalid
    errors: dict[str, int] = field(default_factory=dict)  # posts whose errors name the field


@dataclass
class BrowserDay:
    """What one browser did with one form on one day (site time zone)."""

    visitor_id: str
    day: dt.date
    first_start: dt.datetime | None = None
    first_post: dt.datetime | None = None  # its first accepted post of the day
    post_after_start: dt.datetime | None = None  # its first accepted post at or after first_start
    last_field: str = ""  # the field of its last field event of the day
    fields: list[str] = field(default_factory=list)  # the fields it reached, sorted


def form_days(
    day: dt.date, *, form: Form | None = None, slugs: dict[str, int] | None = None
) -> dict[int, tuple[FormDay, list[BrowserDay]]]:
    """Every form's counts and browser rows of ``day`` from the raw rows (``form``: that
    form only). Events as the report reads them: the form's name, not a bot's (the event's
    flag or its visitor's, through the bot index, ADR 62); posts accepted or refused.
    ``slugs``: every form's id by its slug, as the caller read them (default: read now)."""
    start, end = day_bounds(day)
    events = (
        Event.objects.filter(
            occurred_at__gte=start, occurred_at__lt=end, type__in=FORM_EVENTS, is_bot=False
        )
        .exclude(by_a_bot_visitor())
        .order_by("occurred_at", "id")
    )
    posts = Submission.objects.filter(
        created_at__gte=start, created_at__lt=end, status__in=POSTS, form__isnull=False
    ).order_by("created_at", "id")
    if form is not None:
        forms = {form.slug: form.pk}
        events = events.filter(name=form.slug)
        posts = posts.filter(form=form)
    else:
        forms = slugs if slugs is not None else dict(Form.objects.values_list("slug", "pk"))
        events = events.filter(name__in=list(forms))
    tallies: dict[int, FormDay] = {}
    browsers: dict[int, dict[str, BrowserDay]] = {}
    last_fields: dict[int, dict[str, str]] = {}
    reached: dict[int, dict[str, set[str]]] = {}

    def browser(form_id: int, visitor_id: str) -> BrowserDay:
        rows = browsers.setdefault(form_id, {})
        row = rows.get(visitor_id)
        if row is None:
            row = rows[visitor_id] = BrowserDay(visitor_id=visitor_id, day=day)
        return row

    for name, kind, visitor_id, moment, properties in events.values_list(
        "name", "type", "visitor_id", "occurred_at", "properties"
    ):
        form_id = forms[name]
        tally = tallies.setdefault(form_id, FormDay())
        if kind == EventType.FORM_VIEW:
            tally.views += 1
        elif kind == EventType.FORM_START:
            if not visitor_id:
                tally.anonymous_starts += 1
            else:
                row = browser(form_id, visitor_id)
                if row.first_start is None:  # in time order: the first
                    row.first_start = moment
        else:
            name_of_field = properties.get("field") if isinstance(properties, dict) else None
            if not isinstance(name_of_field, str) or not name_of_field or not visitor_id:
                continue
            reached.setdefault(form_id, {}).setdefault(visitor_id, set()).add(name_of_field)
            last_fields.setdefault(form_id, {})[visitor_id] = name_of_field
    accepted = []
    for form_id, status, visitor_id, created_at, errors in posts.values_list(
        "form_id", "status", "visitor_id", "created_at", "errors"
    ):
        tally = tallies.setdefault(form_id, FormDay())
        tally.posts += 1
        for name_of_field in errors or {}:
            tally.errors[name_of_field] = tally.errors.get(name_of_field, 0) + 1
        if status != Submission.Status.ACCEPTED:
            continue
        tally.submissions += 1
        accepted.append((form_id, visitor_id, created_at))
        if visitor_id:
            row = browser(form_id, visitor_id)
            if row.first_post is None:
                row.first_post = created_at
    for form_id, visitors in reached.items():
        for visitor_id, names in visitors.items():
            row = browser(form_id, visitor_id)
            row.fields = sorted(names)
            row.last_field = last_fields[form_id][visitor_id]
    # The first accepted post at or after the day's first start (the posts in time order).
    for form_id, visitor_id, created_at in accepted:
        row = browsers[form_id].get(visitor_id) if visitor_id else None
        if (
            row is not None
            and row.first_start is not None
            and row.post_after_start is None
            and row.first_start <= created_at
        ):
            row.post_after_start = created_at
    return {
        form_id: (tally, list(browsers.get(form_id, {}).values()))
        for form_id, tally in tallies.items()
    }


def form_counts_of(day: dt.date) -> tuple[list[FormDayCount], list[FormBrowserDay]]:
    """The rows the fill stores for ``day`` (computed before its write transaction)."""
    counts, browser_rows = [], []
    slugs = dict(Form.objects.values_list("slug", "pk"))
    slug_of = {form_id: slug for slug, form_id in slugs.items()}
    for form_id, (tally, rows) in form_days(day, slugs=slugs).items():
        counts.append(
            FormDayCount(
                form_id=form_id,
                day=day,
                slug=slug_of.get(form_id, ""),
                views=tally.views,
                anonymous_starts=tally.anonymous_starts,
                submissions=tally.submissions,
                posts=tally.posts,
                errors=tally.errors,
            )
        )
        browser_rows.extend(
            FormBrowserDay(
                form_id=form_id,
                day=day,
                visitor_id=row.visitor_id,
                first_start=row.first_start,
                first_post=row.first_post,
                post_after_start=row.post_after_start,
                last_field=row.last_field,
                fields=row.fields,
            )
            for row in rows
        )
    return counts, browser_rows


def days_of_renamed_forms(before: dt.datetime) -> set[dt.date]:
    """The filled days a form's new slug changes (ADR 71): a form's events are found by its
    slug (the tracker sends it as the event's name), so a form whose slug changed since a
    day was counted no longer owns the events of the old slug, and owns those of the new
    one sent before the change. Its stored days counted under another slug, and the days
    before ``before`` (the first day not filled) of form events under its slug now."""
    current = dict(Form.objects.values_list("pk", "slug"))
    renamed: dict[int, set[str]] = {}
    for form_id, slug in FormDayCount.objects.values_list("form_id", "slug").distinct():
        if form_id in current and current[form_id] != slug:
            renamed.setdefault(form_id, set()).add(slug)
    days: set[dt.date] = set()
    for form_id, slugs in renamed.items():
        days.update(
            FormDayCount.objects.filter(form_id=form_id, slug__in=slugs).values_list(
                "day", flat=True
            )
        )
        days.update(
            day_of(moment)
            for moment in Event.objects.filter(
                type__in=FORM_EVENTS, name=current[form_id], occurred_at__lt=before
            ).values_list("occurred_at", flat=True)
        )
    return days


def form_counts_write(day: dt.date, rows: tuple[list[FormDayCount], list[FormBrowserDay]]) -> None:
    """Replace the rows of ``day`` (inside the fill's transaction of that day)."""
    counts, browser_rows = rows
    FormDayCount.objects.filter(day=day).delete()
    FormBrowserDay.objects.filter(day=day).delete()
    # From one JSON document on PostgreSQL: a fraction of bulk_create's CPU (ADR 72, 74).
    instances_insert(counts)
    instances_insert(browser_rows)


@dataclass(frozen=True)
class BrowserPart:
    """One browser's part of a period's report."""

    started: bool
    seconds: float | None  # from its first start to its first accepted post after it
    fields: frozenset[str]
    left_at: str  # its last field, when it started and sent no accepted post; else ""


def browser_fold(days: Iterable[BrowserDay]) -> BrowserPart:
    """A browser's days of a period folded into its part of the report: the same numbers
    as the raw reading of the whole period (:func:`.form_report.form_report_raw`)."""
    days = sorted(days, key=lambda row: row.day)
    starts = [row.first_start for row in days if row.first_start is not None]
    first_start = min(starts) if starts else None
    finished = any(row.first_post is not None for row in days)
    seconds = None
    if first_start is not None:
        # The first accepted post at or after the period's first start: on a later day its
        # first post, on the first start's day the first post after that start.
        done = [
            row.first_post if row.first_post >= first_start else row.post_after_start
            for row in days
            if row.first_post is not None
        ]
        done = [moment for moment in done if moment is not None]
        if done:
            seconds = (min(done) - first_start).total_seconds()
    fields = frozenset(name for row in days for name in row.fields)
    last = next((row.last_field for row in reversed(days) if row.last_field), "")
    return BrowserPart(
        started=first_start is not None,
        seconds=seconds,
        fields=fields,
        left_at=last if first_start is not None and not finished else "",
    )


@dataclass
class FormPeriod:
    """A period's numbers of one form, before the report's shape: parts of browsers can be
    added and taken away again (a stored browser that came back today)."""

    day: FormDay = field(default_factory=FormDay)
    started: int = 0
    seconds: Counter = field(default_factory=Counter)  # seconds -> browsers
    reached: Counter = field(default_factory=Counter)
    left: Counter = field(default_factory=Counter)

    def add_day(self, tally: FormDay) -> None:
        self.day.views += tally.views
        self.day.anonymous_starts += tally.anonymous_starts
        self.day.submissions += tally.submissions
        self.day.posts += tally.posts
        for name, number in tally.errors.items():
            self.day.errors[name] = self.day.errors.get(name, 0) + number

    def add(self, part: BrowserPart, sign: int = 1) -> None:
        self.started += sign * part.started
        if part.seconds is not None:
            self.seconds[part.seconds] += sign
        for name in part.fields:
            self.reached[name] += sign
        if part.left_at:
            self.left[part.left_at] += sign
