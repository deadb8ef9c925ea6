"""One day's counts computed straight from the raw tables (docs/analytics.md).

The fill (:mod:`.services`) stores these rows; reports add the same rows computed on the
fly for the days not filled yet (the raw tail). One function computes both, so the rollup
and a direct count can only differ if rows changed after the fill, which the fill's
high-water marks then find.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Value, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from leadmill.capture.models import Submission
from leadmill.contacts.models import Contact, LifecycleStage, Outcome, StageChange
from leadmill.tracking.models import Event, EventType, Visitor

from .models import DailyCount, FirstVisit, Metric

CHUNK = 2000
CENT = Decimal("0.01")
DAY = 86_400
# Reaching a stage counts whenever the history holds a change to it or to a later stage.
REACHED_BY = {
    "mql": (LifecycleStage.MQL, LifecycleStage.SQL, LifecycleStage.CUSTOMER),
    "sql": (LifecycleStage.SQL, LifecycleStage.CUSTOMER),
    "customer": (LifecycleStage.CUSTOMER,),
}
QUALIFIED = REACHED_BY["mql"]

# A row's key: metric, channel, source, medium, campaign, landing_page, form_id, country, cta,
# lag (``DIMENSIONS`` between the metric and the lag).
Key = tuple[str, str, str, str, str, str, int, str, str, int]
# The tracker names a click on a CTA short link by its path (lm.js): "/c/<slug>/".
_CTA_LINK = re.compile(r"^/c/(?P<slug>[^/]+)/?$")


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


def cta_of(name: str) -> str:
    """The CTA of a ``cta_click`` event's name: a short link's slug ("/c/ebook/" is "ebook"),
    or the ``data-lm-cta`` name a site gave its button, as it is."""
    match = _CTA_LINK.match(name or "")
    return (match["slug"] if match else name or "")[:200]


def whole_days(later: dt.datetime, earlier: dt.datetime) -> int:
    return max(0, int((later - earlier).total_seconds() // DAY))


def _chunks(ids: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


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
        """Write the rows of ``day`` (:func:`rows_insert`: ``COPY`` on PostgreSQL)."""
        stored_day = connection.ops.adapt_datefield_value(day)
        stored_amount = connection.ops.adapt_decimalfield_value
        rows_insert(
            DailyCount,
            ("day", "metric", "channel", "source", "medium", "campaign", "landing_page")
            + ("form_id", "country", "cta", "lag_days", "count", "amount"),
            (
                (stored_day, *key, count, stored_amount(amount))
                for key, (count, amount) in self.rows.items()
            ),
        )


def rows_insert(model, columns: tuple[str, ...], rows) -> None:
    """Insert ``rows`` (tuples of ``columns``) into ``model``'s table: by ``COPY`` on
    PostgreSQL (several times the rate of a prepared insert per row, DESIGN.md), one
    ``executemany`` on SQLite."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",  # noqa: S608
            list(rows),
        )


def by_a_bot_visitor() -> Exists:
    """Whether an event's visitor is flagged as a bot. Through the partial index of bot
    visitors (``tracking_visitor_bot_idx``) PostgreSQL hashes the few bots; as a join it
    hashed every visitor (millions of rows) for each day counted (ADR 62)."""
    return Exists(Visitor.objects.filter(pk=OuterRef("visitor_id"), is_bot=True))


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
    ).exclude(by_a_bot_visitor())
    if known_before:
        # A scalar subquery, probed through the primary key for each of the day's views:
        # as NOT EXISTS, PostgreSQL hashed every stored first visit instead (millions of
        # rows read for each day the fill counts and for each report's tail; ADR 61).
        known = FirstVisit.objects.filter(visitor_id=OuterRef("visitor_id")).values("day")[:1]
        views = views.annotate(known_from=Coalesce(Subquery(known), Value(day))).filter(
            known_from__gte=day
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


def without_jit(cursor) -> None:
    """Turn PostgreSQL's JIT compilation off for the rest of the transaction.

    The counts' statements probe an index once per row of a day; their estimated cost
    grows with the day's rows past the JIT thresholds, and compiling then took 0.5 to 2 s
    for statements that run in a tenth of that (ADR 61). Must run inside a transaction."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL jit = off")


def _add_visitors(counts: DayCounts, rows) -> None:
    """Rows of (channel, source, medium, campaign, url, number of visitors)."""
    for channel, source, medium, campaign, url, number in rows:
        dims = (
            channel,
            source[:200],
            medium[:200],
            campaign[:200],
            landing_page_of(url),
            0,
            "",
            "",
        )
        counts.add(Metric.VISITORS, dims, number=number)


def _visitors_tail(day: dt.date, counts: DayCounts, *, known_before: bool) -> None:
    """New visitors of a day not filled yet (or of any day, counted directly): credited to
    the day and touch of their first non-bot page view."""
    inner, params = _first_views(day, known_before=known_before)
    with transaction.atomic(), connection.cursor() as cursor:
        without_jit(cursor)
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
        without_jit(cursor)
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


def _whole_days_sql(later: str, earlier: str) -> str:
    """SQL of ``whole_days(later, earlier)``: whole days between two stored moments, never
    negative, exact to the microsecond on both engines (no floating point)."""
    if connection.vendor == "sqlite":
        # Stored as "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC: seconds and microseconds apart.
        def micros(column: str) -> str:
            return (
                f"(CAST(strftime('%%s', {column}) AS INTEGER) * 1000000"
                f" + CAST(substr({column} || '.000000', 21, 6) AS INTEGER))"
            )

        return f"MAX(0, ({micros(later)} - {micros(earlier)}) / {DAY * 1_000_000})"
    return f"GREATEST(0, CAST(FLOOR(EXTRACT(EPOCH FROM ({later} - {earlier})) / {DAY}) AS INTEGER))"


def _leads_sql(*, among: str = "") -> str:
    """SQL of the leads of a span of time (created, or first reaching a stage or won, in
    [start, end)): their first-touch dimensions, first accepted form, the CTA clicked last
    before they came in, first reach of each stage and won revenue in cents. Parameters:
    start, end, three times, then those of ``among`` (SQL of contact ids: only those)."""
    contacts = Contact._meta.db_table
    changes = StageChange._meta.db_table
    submissions = Submission._meta.db_table
    events = Event._meta.db_table
    visitors = Visitor._meta.db_table

    def reached(stage: str) -> str:
        stages = ", ".join(f"'{name}'" for name in REACHED_BY[stage])
        return (
            f"(SELECT MIN(s.changed_at) FROM {changes} s"  # noqa: S608 -- constants only
            f" WHERE s.contact_id = c.id AND s.to_stage IN ({stages}))"
        )

    qualified = ", ".join(f"'{name}'" for name in QUALIFIED)
    day_leads = f"""
        SELECT id FROM {contacts} WHERE created_at >= %s AND created_at < %s
        UNION SELECT contact_id FROM {changes}
            WHERE changed_at >= %s AND changed_at < %s AND to_stage IN ({qualified})
        UNION SELECT id FROM {contacts}
            WHERE outcome = '{Outcome.WON}' AND outcome_at >= %s AND outcome_at < %s
    """  # noqa: S608 -- table names and constants only, the moments are parameters
    # PostgreSQL planned "c.id IN (...)" as a hash join over a scan of every contact (the
    # day's few thousand leads among a million: 200 ms, ADR 61); an array of the day's ids
    # is probed through the primary key instead. SQLite probes the IN list by its key.
    in_day_leads = (
        f"c.id = ANY(ARRAY({day_leads}))"
        if connection.vendor == "postgresql"
        else f"c.id IN ({day_leads})"
    )
    # The lead's last non-bot CTA click up to its creation (its browser's clicks are its own
    # once the form identified it: tracking.visitor_identify), ADR 59.
    cta = f"""COALESCE((SELECT e.name FROM {events} e
                      WHERE e.contact_id = c.id AND e.type = '{EventType.CTA_CLICK}'
                        AND e.occurred_at <= c.created_at AND NOT e.is_bot
                        AND NOT EXISTS (SELECT 1 FROM {visitors} v
                                        WHERE v.id = e.visitor_id AND v.is_bot)
                      ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1), '')"""  # noqa: S608
    return f"""
        SELECT c.id AS contact_id, c.created_at, c.first_channel AS channel, c.first_source AS source,
            c.first_medium AS medium, c.first_campaign AS campaign,
            c.first_landing_url AS url, c.country,
            COALESCE((SELECT f.form_id FROM {submissions} f
                      WHERE f.contact_id = c.id AND f.status = '{Submission.Status.ACCEPTED}'
                      ORDER BY f.id LIMIT 1), 0) AS form_id,
            {cta} AS cta,
            CASE WHEN c.outcome = '{Outcome.WON}' THEN 1 ELSE 0 END AS won,
            CASE WHEN c.outcome = '{Outcome.WON}'
                 THEN ROUND(COALESCE(c.outcome_value, 0) * 100) ELSE 0 END AS cents,
            c.outcome_at,
            {reached("mql")} AS mql_at, {reached("sql")} AS sql_at,
            {reached("customer")} AS customer_at
        FROM {contacts} c
        WHERE {in_day_leads}{f" AND c.id IN ({among})" if among else ""}
    """  # noqa: S608 -- table names and constants only, the moments are parameters


# The leads' metrics: the metric, its lag (whole days), its amount (cents), the moment that
# dates it, and the condition it needs.
def _lead_parts() -> list[tuple[str, str, str, str, str]]:
    lag = _whole_days_sql
    return [
        (Metric.LEADS, "-1", "0", "created_at", ""),
        (Metric.COHORT_MQL, lag("mql_at", "created_at"), "0", "created_at", "mql_at IS NOT NULL"),
        (Metric.GAP_LEAD_MQL, lag("mql_at", "created_at"), "0", "created_at", "mql_at IS NOT NULL"),
        (Metric.COHORT_SQL, lag("sql_at", "created_at"), "0", "created_at", "sql_at IS NOT NULL"),
        (Metric.GAP_MQL_SQL, lag("sql_at", "mql_at"), "0", "created_at", "sql_at IS NOT NULL"),
        (
            Metric.COHORT_CUSTOMER,
            lag("customer_at", "created_at"),
            "0",
            "created_at",
            "customer_at IS NOT NULL",
        ),
        (
            Metric.GAP_SQL_CUSTOMER,
            lag("customer_at", "sql_at"),
            "0",
            "created_at",
            "customer_at IS NOT NULL",
        ),
        (Metric.COHORT_REVENUE, "-1", "cents", "created_at", "won = 1"),
        (Metric.ACTIVITY_MQL, "-1", "0", "mql_at", ""),
        (Metric.ACTIVITY_SQL, "-1", "0", "sql_at", ""),
        (Metric.ACTIVITY_CUSTOMER, "-1", "0", "customer_at", ""),
        (Metric.ACTIVITY_REVENUE, "-1", "cents", "outcome_at", "won = 1"),
    ]


_LEAD_DIMS = "channel, source, medium, campaign, url, form_id, country, cta"


def _lead_rows_query(
    start: dt.datetime, end: dt.datetime, *, among: tuple[str, tuple] | None, per_lead: bool
) -> tuple[str, list]:
    """SQL and parameters of the leads' rows of [``start``, ``end``): one row per metric and
    combination of dimensions and lag (``per_lead``: per metric and lead, with its id)."""
    start, end = (connection.ops.adapt_datetimefield_value(moment) for moment in (start, end))
    among_sql, among_params = among or ("", ())
    parts = _lead_parts()
    lead = "contact_id, " if per_lead else ""
    selects = " UNION ALL ".join(
        f"SELECT '{metric}' AS metric, {lead}{_LEAD_DIMS}, {lag_sql} AS lag,"  # noqa: S608
        f" {amount} AS cents FROM leads WHERE {dated} >= %s AND {dated} < %s"
        f"{f' AND {only}' if only else ''}"
        for metric, lag_sql, amount, dated, only in parts
    )
    outer = (
        selects
        if per_lead
        else f"""SELECT metric, {_LEAD_DIMS}, lag, COUNT(*), SUM(cents)
            FROM ({selects}) AS lead_rows GROUP BY metric, {_LEAD_DIMS}, lag"""  # noqa: S608
    )
    sql = f"WITH leads AS ({_leads_sql(among=among_sql)}) {outer}"
    return sql, [start, end] * 3 + list(among_params) + [start, end] * len(parts)


@contextmanager
def _leads_cursor():
    """A cursor for the leads' statement. On PostgreSQL without JIT compilation, for this
    statement only: its correlated subqueries make the planner's cost estimate large, and
    compiling it took 1.75 s of a 1.86 s run over a month of 7,000 leads (ADR 60), where the
    statement itself took about 0.1 s. (On SQLite no transaction: one would take the write
    lock, ``transaction_mode="IMMEDIATE"``.)"""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    with transaction.atomic(), connection.cursor() as cursor:
        without_jit(cursor)
        yield cursor


def _dims_key(channel, source, medium, campaign, url, form_id, country, cta) -> tuple:
    """The stored dimensions of a lead's touch: the landing page's path, the CTA's slug
    and the columns' lengths applied (to the few groups the database returns)."""
    return (
        channel,
        source[:200],
        medium[:200],
        campaign[:200],
        landing_page_of(url),
        form_id,
        country,
        cta_of(cta),
    )


def _amount(cents) -> Decimal:
    return (Decimal(round(cents or 0)) / 100).quantize(CENT)


def leads_counts(
    start: dt.datetime,
    end: dt.datetime,
    counts: DayCounts,
    *,
    among: tuple[str, tuple] | None = None,
) -> None:
    """The leads' rows of [``start``, ``end``) (a day, for the fill), counted by the
    database (docs/analytics.md):

    cohort (the leads created in the span: the stages they reached, whole days after their
    creation, the days between stages, their revenue) and activity (first reaches of MQL /
    SQL / customer, and won outcomes, in the span). The database groups by the stored touch;
    the landing page's path, the CTA's slug and the columns' lengths are applied to the few
    groups after. ``among``: SQL of contact ids and its parameters, to count only those
    leads (a segment's members, ADR 59).
    """
    sql, params = _lead_rows_query(start, end, among=among, per_lead=False)
    with _leads_cursor() as cursor:
        cursor.execute(sql, params)
        for metric, *dims, lag_days, number, cents in cursor.fetchall():
            counts.add(metric, _dims_key(*dims), lag=lag_days, amount=_amount(cents), number=number)


def lead_rows(
    start: dt.datetime, end: dt.datetime
) -> Iterator[tuple[str, int, tuple, int, Decimal]]:
    """The leads' rows of [``start``, ``end``) one lead at a time (what :func:`leads_counts`
    counts): ``(metric, contact id, dimensions, lag, amount)``, for the attribution models
    that share a lead's credit among its touches (ADR 60)."""
    sql, params = _lead_rows_query(start, end, among=None, per_lead=True)
    with _leads_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # A day's thousands of rows share a few hundred touches and amounts: each computed once
    # (ADR 74; the same values, and the same objects for equal ones).
    keys: dict[tuple, tuple] = {}
    amounts: dict[object, Decimal] = {}
    for metric, contact_id, *dims, lag_days, cents in rows:
        dims = tuple(dims)
        key = keys.get(dims)
        if key is None:
            key = keys[dims] = _dims_key(*dims)
        amount = amounts.get(cents)
        if amount is None:
            amount = amounts[cents] = _amount(cents)
        yield metric, contact_id, key, lag_days, amount


def counts_of_lead_rows(rows) -> DayCounts:
    """The counts of leads' rows of :func:`lead_rows`: what :func:`leads_counts` counts over
    the same span, grouped here (the fill reads the per-lead rows once for the counts, the
    credits and the stored leads' rows, ADR 65)."""
    counts = DayCounts()
    for metric, _contact_id, dims, lag, amount in rows:
        counts.add(metric, dims, lag=lag, amount=amount)
    return counts


def visitors_counts(day: dt.date, *, known_before: bool) -> DayCounts:
    """The new visitors of ``day`` from the raw events (the tail's part that
    :mod:`.tail` keeps apart: only the reports of visitors need it)."""
    counts = DayCounts()
    _visitors_tail(day, counts, known_before=known_before)
    return counts


def day_leads_counts(day: dt.date) -> DayCounts:
    """Every count of ``day`` but the new visitors, from the raw tables."""
    counts = DayCounts()
    leads_counts(*day_bounds(day), counts)
    return counts


def day_counts(day: dt.date, *, known_before: bool = False, visitors: bool = True) -> DayCounts:
    """Every count of ``day`` from the raw tables (``visitors=False``: all but the new
    visitors, which the fill counts from :class:`.models.FirstVisit`).

    ``known_before``: trust the first visits stored for the days before (the raw tail of a
    report); otherwise a direct count from the events alone.
    """
    counts = DayCounts()
    if visitors:
        _visitors_tail(day, counts, known_before=known_before)
    leads_counts(*day_bounds(day), counts)
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


def days_touched_by_form_browsers(visitor_ids: Iterable[str]) -> set[dt.date]:
    """The days of these browsers' form events (a browser flagged as a bot since is taken
    out of its forms' days, ADR 64)."""
    days: set[dt.date] = set()
    for chunk in _chunks(sorted(set(visitor_ids))):
        days.update(
            day_of(moment)
            for moment in Event.objects.filter(
                visitor_id__in=chunk,
                type__in=(EventType.FORM_VIEW, EventType.FORM_START, EventType.FORM_FIELD),
            ).values_list("occurred_at", flat=True)
        )
    return days
