"""One day's counts computed straight from the raw tables (docs/analytics.md).

The fill (:mod:`.services`) stores these rows; reports add the same rows computed on the
fly for the days not filled yet (the raw tail). One function computes both, so the rollup
and a direct count can only differ if rows changed after the fill, which the fill's
high-water marks then find.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from leadmill.capture.models import Submission
from leadmill.contacts.models import Contact, LifecycleStage, Outcome, StageChange
from leadmill.tracking.models import Event, EventType, Visitor

from .models import DailyCount, FirstVisit, Metric

CHUNK = 2000
DAY = 86_400
# Reaching a stage counts whenever the history holds a change to it or to a later stage.
REACHED_BY = {
    "mql": (LifecycleStage.MQL, LifecycleStage.SQL, LifecycleStage.CUSTOMER),
    "sql": (LifecycleStage.SQL, LifecycleStage.CUSTOMER),
    "customer": (LifecycleStage.CUSTOMER,),
}
QUALIFIED = REACHED_BY["mql"]

# A row's key: metric, channel, source, medium, campaign, landing_page, form_id, country, lag.
Key = tuple[str, str, str, str, str, str, int, str, int]


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of ``day`` and of the next one, in the site's time zone."""
    tz = timezone.get_default_timezone()
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)


def day_of(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def landing_page_of(url: str) -> str:
    """The path of a landing page URL, without query or fragment ("/ebook/")."""
    if not url:
        return ""
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    return (path or "/")[:500]


def whole_days(later: dt.datetime, earlier: dt.datetime) -> int:
    return max(0, int((later - earlier).total_seconds() // DAY))


def _chunks(ids: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


@dataclass(frozen=True)
class Lead:
    id: int
    created_at: dt.datetime
    dims: tuple[str, str, str, str, str, int, str]
    won: bool
    value: Decimal
    outcome_at: dt.datetime | None
    reached: dict[str, dt.datetime]  # "mql" / "sql" / "customer" -> first reach


def leads_load(contact_ids: Iterable[int]) -> list[Lead]:
    """The leads with their first-touch dimensions, first form and first stage reaches."""
    leads = []
    for chunk in _chunks(sorted(set(contact_ids))):
        forms: dict[int, int] = {}
        for contact_id, form_id in (
            Submission.objects.filter(contact_id__in=chunk, status=Submission.Status.ACCEPTED)
            .order_by("-id")
            .values_list("contact_id", "form_id")
        ):
            forms[contact_id] = form_id or 0  # ordered newest first: the first one wins
        reached: dict[int, dict[str, dt.datetime]] = defaultdict(dict)
        for contact_id, to_stage, changed_at in StageChange.objects.filter(
            contact_id__in=chunk, to_stage__in=QUALIFIED
        ).values_list("contact_id", "to_stage", "changed_at"):
            for stage, stages in REACHED_BY.items():
                if to_stage in stages:
                    known = reached[contact_id].get(stage)
                    if known is None or changed_at < known:
                        reached[contact_id][stage] = changed_at
        for row in Contact.objects.filter(pk__in=chunk).values_list(
            "pk",
            "created_at",
            "first_channel",
            "first_source",
            "first_medium",
            "first_campaign",
            "first_landing_url",
            "country",
            "outcome",
            "outcome_value",
            "outcome_at",
        ):
            pk, created, channel, source, medium, campaign, landing, country = row[:8]
            outcome, value, outcome_at = row[8:]
            leads.append(
                Lead(
                    id=pk,
                    created_at=created,
                    dims=(
                        channel,
                        source[:200],
                        medium[:200],
                        campaign[:200],
                        landing_page_of(landing),
                        forms.get(pk, 0),
                        country,
                    ),
                    won=outcome == Outcome.WON,
                    value=value or Decimal(0),
                    outcome_at=outcome_at,
                    reached=reached.get(pk, {}),
                )
            )
    return leads


class DayCounts:
    """Accumulates the rows of one day: ``(key) -> [count, amount]``."""

    def __init__(self) -> None:
        self.rows: dict[Key, list] = defaultdict(lambda: [0, Decimal(0)])

    def add(
        self,
        metric: str,
        dims: tuple,
        *,
        lag: int = -1,
        amount: Decimal = Decimal(0),
        number: int = 1,
    ):
        row = self.rows[(metric, *dims, lag)]
        row[0] += number
        row[1] += amount

    def insert(self, day: dt.date) -> None:
        """Write the rows of ``day`` (one ``executemany``: the fill's hot loop)."""
        columns = (
            "day, metric, channel, source, medium, campaign, landing_page, form_id, country,"
            " lag_days, count, amount"
        )
        table = connection.ops.quote_name(DailyCount._meta.db_table)
        stored_day = connection.ops.adapt_datefield_value(day)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * 12)})",  # noqa: S608
                [
                    (stored_day, *key, count, connection.ops.adapt_decimalfield_value(amount))
                    for key, (count, amount) in self.rows.items()
                ],
            )


def _first_views(day: dt.date, *, known_before: bool) -> tuple[str, tuple]:
    """SQL of the first non-bot page view on ``day`` of each visitor that is new that day:
    rows of (visitor_id, channel, source, medium, campaign, url, first_rank), the first view
    where ``first_rank`` is 1. Bot visitors are left out.

    ``known_before``: trust :class:`.models.FirstVisit` for the days before ``day`` (it holds
    rows of filled days only) and look up in the raw events only the visitors it does not
    know; otherwise every visitor of the day is looked up in the raw events (the direct
    count). Either way a visitor with an earlier non-bot page view in the events is not new.
    """
    start, end = day_bounds(day)
    page_views = Event.objects.filter(type=EventType.PAGE_VIEW, is_bot=False)
    views = page_views.filter(
        occurred_at__gte=start, occurred_at__lt=end, visitor_id__isnull=False
    ).exclude(Exists(Visitor.objects.filter(pk=OuterRef("visitor_id"), is_bot=True)))
    if known_before:
        views = views.exclude(
            Exists(FirstVisit.objects.filter(visitor_id=OuterRef("visitor_id"), day__lt=day))
        )
    earlier = page_views.filter(visitor_id=OuterRef("visitor_id"), occurred_at__lt=start)
    query = (
        views.exclude(Exists(earlier))
        .annotate(
            first_rank=Window(
                RowNumber(),
                partition_by=[F("visitor_id")],
                order_by=[F("occurred_at").asc(), F("id").asc()],
            )
        )
        .values_list("visitor_id", "channel", "source", "medium", "campaign", "url", "first_rank")
    )
    sql, params = query.query.sql_with_params()
    return sql, tuple(params)


def _add_visitors(counts: DayCounts, rows) -> None:
    """Rows of (channel, source, medium, campaign, url, number of visitors)."""
    for channel, source, medium, campaign, url, number in rows:
        dims = (channel, source[:200], medium[:200], campaign[:200], landing_page_of(url), 0, "")
        counts.add(Metric.VISITORS, dims, number=number)


def _visitors_tail(day: dt.date, counts: DayCounts, *, known_before: bool) -> None:
    """New visitors of a day not filled yet (or of any day, counted directly): credited to
    the day and touch of their first non-bot page view."""
    inner, params = _first_views(day, known_before=known_before)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.channel, t.source, t.medium, t.campaign, t.url, COUNT(*)
            FROM ({inner}) AS t WHERE t.first_rank = 1
            GROUP BY t.channel, t.source, t.medium, t.campaign, t.url
            """,  # noqa: S608 -- Django's own SQL, parameters apart
            params,
        )
        _add_visitors(counts, cursor.fetchall())


def first_visits_fill(day: dt.date) -> None:
    """Store the first visits of ``day`` (inside the fill's transaction of that day).

    The days before are filled already (the fill goes forward, and corrects late days in
    order), so a visitor without a row before ``day`` and with a non-bot page view that day
    is new that day. A row of a later day is moved here (a late, back-dated page view).
    """
    FirstVisit.objects.filter(day=day).delete()
    table = connection.ops.quote_name(FirstVisit._meta.db_table)
    inner, params = _first_views(day, known_before=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (visitor_id, day, channel, source, medium, campaign, url)
            SELECT t.visitor_id, %s, t.channel, t.source, t.medium, t.campaign, t.url
            FROM ({inner}) AS t WHERE t.first_rank = 1
            ON CONFLICT (visitor_id) DO UPDATE SET day = excluded.day,
                channel = excluded.channel, source = excluded.source, medium = excluded.medium,
                campaign = excluded.campaign, url = excluded.url
            """,  # noqa: S608 -- Django's own SQL, parameters apart
            (connection.ops.adapt_datefield_value(day), *params),
        )


def visitors_filled(day: dt.date, counts: DayCounts) -> None:
    """New visitors of a filled day, from :class:`.models.FirstVisit` (bots left out)."""
    _add_visitors(
        counts,
        FirstVisit.objects.filter(day=day)
        .exclude(Exists(Visitor.objects.filter(pk=OuterRef("visitor_id"), is_bot=True)))
        .values_list("channel", "source", "medium", "campaign", "url")
        .annotate(number=Count("*"))
        .values_list("channel", "source", "medium", "campaign", "url", "number"),
    )


def _cohort(leads: list[Lead], counts: DayCounts) -> None:
    """Leads created on the day, with the stages they reached and their revenue."""
    for lead in leads:
        counts.add(Metric.LEADS, lead.dims)
        mql, sql, customer = (lead.reached.get(s) for s in ("mql", "sql", "customer"))
        if mql:
            lag = whole_days(mql, lead.created_at)
            counts.add(Metric.COHORT_MQL, lead.dims, lag=lag)
            counts.add(Metric.GAP_LEAD_MQL, lead.dims, lag=lag)
        if sql:
            counts.add(Metric.COHORT_SQL, lead.dims, lag=whole_days(sql, lead.created_at))
            counts.add(Metric.GAP_MQL_SQL, lead.dims, lag=whole_days(sql, mql))
        if customer:
            counts.add(Metric.COHORT_CUSTOMER, lead.dims, lag=whole_days(customer, lead.created_at))
            counts.add(Metric.GAP_SQL_CUSTOMER, lead.dims, lag=whole_days(customer, sql))
        if lead.won:
            counts.add(Metric.COHORT_REVENUE, lead.dims, amount=lead.value)


def _activity_ids(day: dt.date) -> set[int]:
    """The leads that first reached a stage, or were won, on the day (a superset)."""
    start, end = day_bounds(day)
    ids = set(
        StageChange.objects.filter(
            changed_at__gte=start, changed_at__lt=end, to_stage__in=QUALIFIED
        ).values_list("contact_id", flat=True)
    )
    ids.update(
        Contact.objects.filter(
            outcome=Outcome.WON, outcome_at__gte=start, outcome_at__lt=end
        ).values_list("pk", flat=True)
    )
    return ids


def _activity(day: dt.date, leads: list[Lead], counts: DayCounts) -> None:
    """First reaches of MQL / SQL / customer, and won outcomes, that happened on the day."""
    start, end = day_bounds(day)
    metrics = {
        "mql": Metric.ACTIVITY_MQL,
        "sql": Metric.ACTIVITY_SQL,
        "customer": Metric.ACTIVITY_CUSTOMER,
    }
    for lead in leads:
        for stage, moment in lead.reached.items():
            if start <= moment < end:
                counts.add(metrics[stage], lead.dims)
        if lead.won and lead.outcome_at and start <= lead.outcome_at < end:
            counts.add(Metric.ACTIVITY_REVENUE, lead.dims, amount=lead.value)


def day_counts(day: dt.date, *, known_before: bool = False, visitors: bool = True) -> DayCounts:
    """Every count of ``day`` from the raw tables (``visitors=False``: all but the new
    visitors, which the fill counts from :class:`.models.FirstVisit`).

    ``known_before``: trust the first visits stored for the days before (the raw tail of a
    report); otherwise a direct count from the events alone.
    """
    counts = DayCounts()
    if visitors:
        _visitors_tail(day, counts, known_before=known_before)
    start, end = day_bounds(day)
    created = set(
        Contact.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
            "pk", flat=True
        )
    )
    active = _activity_ids(day)
    leads = leads_load(created | active)  # one read of the leads for both readings
    _cohort([lead for lead in leads if lead.id in created], counts)
    _activity(day, [lead for lead in leads if lead.id in active], counts)
    return counts


def days_touched_by_leads(contact_ids: Iterable[int]) -> set[dt.date]:
    """The days whose counts a change to these leads may alter: their creation, their
    stage changes and their outcome."""
    days: set[dt.date] = set()
    for chunk in _chunks(sorted(set(contact_ids))):
        for created, outcome_at in Contact.objects.filter(pk__in=chunk).values_list(
            "created_at", "outcome_at"
        ):
            days.add(day_of(created))
            if outcome_at:
                days.add(day_of(outcome_at))
        days.update(
            day_of(moment)
            for moment in StageChange.objects.filter(
                contact_id__in=chunk, to_stage__in=QUALIFIED
            ).values_list("changed_at", flat=True)
        )
    return days


def days_touched_by_visitors(visitor_ids: Iterable[str]) -> set[dt.date]:
    """The days of these visitors' non-bot page views (a late one may move a first visit)."""
    days: set[dt.date] = set()
    for chunk in _chunks(sorted(set(visitor_ids))):
        days.update(
            day_of(moment)
            for moment in Event.objects.filter(
                Q(visitor_id__in=chunk), type=EventType.PAGE_VIEW, is_bot=False
            ).values_list("occurred_at", flat=True)
        )
    return days
