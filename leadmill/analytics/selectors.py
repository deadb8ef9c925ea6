"""Reads of analytics: the funnel and its costs, from the rollup plus the raw tail.

Every number is defined in docs/analytics.md. Days before the fill state's
``filled_until`` are read from :class:`.models.DailyCount`; later days (today, at least) are
counted from the raw tables by the very function the fill uses, so a report is exact
whether or not the fill has caught up (as of the moment that count was taken: it is kept a
minute, :mod:`.tail`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from leadmill.capture.models import CallToAction, Form

from .counts import Key
from .credit_counts import credited_from_rows, stored_credited_rows
from .credits import FIRST_TOUCH, TOUCH_GROUPS, as_credits, credited_rows
from .models import DIMENSIONS, DailyCount, FillState, Metric, Spend
from .segment_counts import segment_counts
from .services import COUNTS
from .tail import day_credit_rows, day_rows, fill_mark

# ``segment`` is no column of the counts: a lead may be in many segments (ADR 59).
GROUPS = (
    "channel",
    "source",
    "medium",
    "campaign",
    "landing_page",
    "form",
    "offer",
    "country",
    "cta",
    "segment",
)
SPEND_DIMENSIONS = ("channel", "source", "medium", "campaign")
READINGS = ("cohort", "activity")
# Filters a report takes: the count columns (``form`` is a form's id).
FILTERS = ("channel", "source", "medium", "campaign", "landing_page", "form", "country")


def _column(group: str) -> str:
    return "form_id" if group in ("form", "offer") else group


@dataclass
class Tally:
    """One group's counts per metric: ``lags[metric][lag] = count``, amounts summed."""

    lags: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    amounts: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, metric: str, lag: int, count: int, amount: Decimal) -> None:
        self.lags[metric][lag] = self.lags[metric].get(lag, 0) + count
        self.amounts[metric] += amount

    def total(self, metric: str, *, within: int | None = None) -> int:
        return sum(
            count
            for lag, count in self.lags.get(metric, {}).items()
            if within is None or lag <= within
        )

    def percentile(self, metric: str, share: float) -> int | None:
        """Nearest-rank percentile of the lag histogram of ``metric`` (whole days): the
        first lag whose cumulative count reaches ``share`` of the total (for whole counts,
        the ⌈share × n⌉-th smallest; for fractional credits, a weighted percentile)."""
        histogram = [(lag, count) for lag, count in sorted(self.lags.get(metric, {}).items())]
        size = sum(count for _lag, count in histogram)
        if size <= 1e-9:
            return None
        seen = 0
        for lag, count in histogram:
            seen += count
            if count and seen >= share * size - 1e-9:
                return lag
        return histogram[-1][0]


def credited_tallies(
    *, since: dt.date, until: dt.date, group_by: str, model: str, filters: dict
) -> dict[object, Tally]:
    """As :func:`tallies`, by a touch's column under an attribution ``model`` other than
    first touch: the leads' counts are fractional credits computed from the raw tables
    (ADR 60); visitors are those of the daily counts (a visitor is credited to its first
    page view whatever the model)."""
    groups: dict[object, Tally] = defaultdict(Tally)
    for metric, group, lag, credit, amount in served_credited_rows(
        since=since, until=until, group_by=group_by, model=model, filters=filters
    ):
        groups[group].add(metric, lag, credit, amount)
    for key, tally in tallies(since=since, until=until, group_by=group_by, filters=filters).items():
        for lag, count in tally.lags.get(Metric.VISITORS, {}).items():
            groups[key].add(Metric.VISITORS, lag, count, Decimal(0))
    return groups


def served_credited_rows(
    *, since: dt.date, until: dt.date, group_by: str, model: str, filters: dict
) -> list[tuple[str, object, int, float, Decimal]]:
    """The leads' credits under ``model`` from ``since`` to ``until`` (both included) per
    value of ``group_by`` (a touch's column): ``(metric, group value, lag, credit,
    amount)``, the stored credits of the filled days plus the raw tail (ADR 65); before
    the first fill, or filtered by a lead's landing page, form or country, every day from
    the raw journeys (:func:`.credits.credited_rows`, ADR 60).
    The same numbers as the raw reading, summed in another order."""
    mark = fill_mark()
    if mark is None or any(name not in TOUCH_GROUPS for name in filters):
        # Before the first fill, or filtered by the lead's landing page, form or country (no
        # column of the stored credits): from the raw journeys.
        return credited_rows(
            since=since, until=until, group_by=group_by, model=model, filters=filters
        )[0]
    conditions = {_column(name): value for name, value in filters.items()}
    credited = []
    if since < mark.filled_until:
        credited += stored_credited_rows(
            since=since,
            until=min(until, mark.filled_until - dt.timedelta(days=1)),
            group_by=group_by,
            model=model,
            conditions=conditions,
        )
    day = max(since, mark.filled_until)
    while day <= until:
        credited += credited_from_rows(
            day_credit_rows(day, mark=mark),
            model=model,
            group_by=group_by,
            conditions=conditions,
        )
        day += dt.timedelta(days=1)
    return credited


def filled_until() -> dt.date | None:
    return FillState.objects.filter(name=COUNTS).values_list("filled_until", flat=True).first()


def tallies(
    *, since: dt.date, until: dt.date, group_by: str | None, filters: dict | None = None
) -> dict[object, Tally]:
    """Counts of every metric from ``since`` to ``until`` (both included), per value of the
    ``group_by`` column (``None``: one group, key ``""``), rollup plus raw tail."""
    column = _column(group_by) if group_by else None
    conditions = {_column(name): value for name, value in (filters or {}).items()}
    groups: dict[object, Tally] = defaultdict(Tally)
    mark = fill_mark()
    boundary = mark.filled_until if mark else since
    if since < boundary:
        query = DailyCount.objects.filter(
            day__gte=since, day__lte=min(until, boundary - dt.timedelta(days=1)), **conditions
        )
        fields = ["metric", "lag_days", *([column] if column else [])]
        for row in query.values(*fields).annotate(n=Sum("count"), money=Sum("amount")):
            key = row[column] if column else ""
            groups[key].add(row["metric"], row["lag_days"], row["n"], row["money"] or Decimal(0))
    day = max(since, boundary)
    while day <= until:
        _tally_rows(groups, day_rows(day, mark=mark), column, conditions)
        day += dt.timedelta(days=1)
    return groups


_POSITIONS = {name: index + 1 for index, name in enumerate(DIMENSIONS)}


def _tally_rows(
    groups: dict[object, Tally], rows: dict[Key, list], column: str | None, conditions: dict
) -> None:
    """Add the count rows (``key -> [count, amount]``) that meet ``conditions`` (count
    columns) to ``groups``, per value of ``column`` (``None``: one group, key "")."""
    for key, (count, amount) in rows.items():
        if any(key[_POSITIONS[name]] != value for name, value in conditions.items()):
            continue
        group = key[_POSITIONS[column]] if column else ""
        groups[group].add(key[0], key[-1], count, amount)


def _segment_rows(
    *, since: dt.date, until: dt.date, reading: str, window_days: int | None, filters: dict
) -> list[dict]:
    """One funnel row per segment: the leads of the period who are in it now (ADR 59).
    No visitors (a visitor is no member) and no spend (spend has no segment): ``None``."""
    conditions = {_column(name): value for name, value in filters.items()}
    rows = []
    for segment, counts in segment_counts(since=since, until=until, filtered=bool(conditions)):
        groups: dict[object, Tally] = defaultdict(Tally)
        _tally_rows(groups, counts.rows, None, conditions)
        row = funnel_row(groups[""], reading=reading, window_days=window_days, spend=None)
        row.update(visitors=None, visitor_to_lead_rate=None)
        rows.append({"value": segment.pk, "label": segment.name, **row})
    return rows


def _ratio(numerator, denominator) -> float | None:
    if not denominator:
        return None
    return float(Decimal(numerator) / Decimal(denominator))


def _money(numerator: Decimal | None, denominator) -> Decimal | None:
    if numerator is None or not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.01"))


def spend_by(
    *, since: dt.date, until: dt.date, group_by: str | None, filters: dict | None = None
) -> dict[str, Decimal] | None:
    """Spend per value of ``group_by`` (one of the spend's columns, or ``None``: key "").
    ``None`` when a filter is on a dimension spend does not carry (unknown, not zero)."""
    filters = filters or {}
    if any(name not in SPEND_DIMENSIONS for name in filters):
        return None
    query = Spend.objects.filter(day__gte=since, day__lte=until, **filters)
    if group_by:
        return {
            row[group_by]: row["total"]
            for row in query.values(group_by).annotate(total=Sum("amount"))
        }
    return {"": query.aggregate(total=Sum("amount"))["total"] or Decimal(0)}


def funnel_row(
    tally: Tally, *, reading: str, window_days: int | None, spend: Decimal | None
) -> dict:
    """The numbers of one funnel row (docs/analytics.md), costs included."""
    visitors = tally.total(Metric.VISITORS)
    leads = tally.total(Metric.LEADS)
    if reading == "cohort":
        mqls = tally.total(Metric.COHORT_MQL, within=window_days)
        sqls = tally.total(Metric.COHORT_SQL, within=window_days)
        customers = tally.total(Metric.COHORT_CUSTOMER, within=window_days)
        revenue = tally.amounts.get(Metric.COHORT_REVENUE, Decimal(0))
    else:
        mqls = tally.total(Metric.ACTIVITY_MQL)
        sqls = tally.total(Metric.ACTIVITY_SQL)
        customers = tally.total(Metric.ACTIVITY_CUSTOMER)
        revenue = tally.amounts.get(Metric.ACTIVITY_REVENUE, Decimal(0))
    return {
        "visitors": visitors,
        "leads": leads,
        "mqls": mqls,
        "sqls": sqls,
        "customers": customers,
        "visitor_to_lead_rate": _ratio(leads, visitors),
        "lead_to_mql_rate": _ratio(mqls, leads),
        "mql_to_sql_rate": _ratio(sqls, mqls),
        "sql_to_customer_rate": _ratio(customers, sqls),
        "lead_to_customer_rate": _ratio(customers, leads),
        "median_days_lead_to_mql": tally.percentile(Metric.GAP_LEAD_MQL, 0.5),
        "p90_days_lead_to_mql": tally.percentile(Metric.GAP_LEAD_MQL, 0.9),
        "median_days_mql_to_sql": tally.percentile(Metric.GAP_MQL_SQL, 0.5),
        "p90_days_mql_to_sql": tally.percentile(Metric.GAP_MQL_SQL, 0.9),
        "median_days_sql_to_customer": tally.percentile(Metric.GAP_SQL_CUSTOMER, 0.5),
        "p90_days_sql_to_customer": tally.percentile(Metric.GAP_SQL_CUSTOMER, 0.9),
        "spend": spend,
        "cost_per_lead": _money(spend, leads),
        "cost_per_mql": _money(spend, mqls),
        "cost_per_sql": _money(spend, sqls),
        "cost_per_customer": _money(spend, customers),
        "revenue": revenue,
        "return_on_spend": _ratio(revenue, spend) if spend is not None else None,
    }


def group_labels(group_by: str, keys) -> dict:
    """Readable labels of group values: forms by name, offers by name, the rest as stored."""
    if group_by in ("form", "offer"):
        forms = {form.pk: form for form in Form.objects.filter(pk__in=keys).select_related("offer")}
        if group_by == "form":
            return {
                key: (forms[key].slug, forms[key].name) if key in forms else ("", "")
                for key in keys
            }
        return {
            key: (
                (str(forms[key].offer_id), forms[key].offer.name)
                if key in forms and forms[key].offer_id
                else ("", "")
            )
            for key in keys
        }
    if group_by == "cta":  # a short link's slug, named by its CTA's label
        ctas = dict(CallToAction.objects.filter(slug__in=keys).values_list("slug", "label"))
        return {key: (key, ctas.get(key, key)) for key in keys}
    return {key: (key, key) for key in keys}


def funnel(
    *,
    since: dt.date,
    until: dt.date,
    group_by: str | None = None,
    reading: str = "cohort",
    window_days: int | None = None,
    filters: dict | None = None,
    attribution: str = FIRST_TOUCH,
) -> dict:
    """The funnel of a period: one row per value of ``group_by`` and the total.

    ``reading`` "cohort" counts what the leads created in the period reached (within
    ``window_days`` of their creation when given), "activity" what happened in the period.
    By ``segment``, each row counts the leads in the segment now, so rows overlap and do
    not add up to the total (ADR 59). ``attribution``: a model of tracking's other than
    first touch shares each lead among its touches when ``group_by`` is a touch's column
    (channel, source, medium, campaign): the counts are then fractional credits (ADR 60);
    other breakdowns and the total are the same under every model.
    """
    filters = {name: value for name, value in (filters or {}).items() if value not in (None, "")}
    by_segment = group_by == "segment"
    attribution = attribution if group_by in TOUCH_GROUPS else FIRST_TOUCH
    if attribution != FIRST_TOUCH:
        groups = credited_tallies(
            since=since, until=until, group_by=group_by, model=attribution, filters=filters
        )
    else:
        groups = tallies(
            since=since, until=until, group_by=None if by_segment else group_by, filters=filters
        )
    spend_group = group_by if group_by in SPEND_DIMENSIONS else None
    spend = spend_by(since=since, until=until, group_by=spend_group, filters=filters)
    rows = []
    if by_segment:
        rows = _segment_rows(
            since=since, until=until, reading=reading, window_days=window_days, filters=filters
        )
    elif group_by:
        labels = group_labels(group_by, list(groups))
        merged: dict[str, Tally] = defaultdict(Tally)
        names: dict[str, str] = {}
        for key, tally in groups.items():
            value, label = labels[key]
            names[value] = label
            for metric, lags in tally.lags.items():
                for lag, count in lags.items():
                    merged[value].add(metric, lag, count, Decimal(0))
            for metric, amount in tally.amounts.items():
                merged[value].amounts[metric] += amount
        values = set(merged)
        if spend is not None and spend_group:
            values |= set(spend)  # a source with spend and no leads still shows its cost
        for value in sorted(values, key=str):
            row_spend = spend.get(value, Decimal(0)) if spend is not None and spend_group else None
            rows.append(
                {
                    "value": value,
                    "label": names.get(value, value),
                    **funnel_row(
                        merged.get(value, Tally()),
                        reading=reading,
                        window_days=window_days,
                        spend=row_spend,
                    ),
                }
            )
    total = Tally()
    for tally in groups.values():
        for metric, lags in tally.lags.items():
            for lag, count in lags.items():
                total.add(metric, lag, count, Decimal(0))
        for metric, amount in tally.amounts.items():
            total.amounts[metric] += amount
    if attribution != FIRST_TOUCH:
        rows = [as_credits(row) for row in rows]
    total_spend = sum(spend.values(), Decimal(0)) if spend is not None else None
    return {
        "since": since,
        "until": until,
        "reading": reading,
        "window_days": window_days,
        "group_by": group_by or "",
        "attribution": attribution,
        "currency": settings.LEADMILL_REPORTING_CURRENCY,
        "reference_visitor_to_lead_rate": settings.LEADMILL_REFERENCE_VISITOR_TO_LEAD_RATE / 100,
        "rows": rows,
        "total": funnel_row(total, reading=reading, window_days=window_days, spend=total_spend),
    }


def daily(
    *,
    metric: str,
    since: dt.date,
    until: dt.date,
    group_by: str | None = None,
    filters: dict | None = None,
) -> dict[dt.date, dict[object, int]]:
    """Counts of one ``metric`` per day and value of ``group_by`` (key "" without one),
    rollup plus raw tail, for charts over time. Every day of the period is a key."""
    column = _column(group_by) if group_by else None
    conditions = {
        _column(name): value for name, value in (filters or {}).items() if value not in (None, "")
    }
    days: dict[dt.date, dict[object, int]] = {
        since + dt.timedelta(days=n): defaultdict(int) for n in range((until - since).days + 1)
    }
    mark = fill_mark()
    boundary = mark.filled_until if mark else since
    if since < boundary:
        query = DailyCount.objects.filter(
            metric=metric,
            day__gte=since,
            day__lte=min(until, boundary - dt.timedelta(days=1)),
            **conditions,
        )
        fields = ["day", *([column] if column else [])]
        for row in query.values(*fields).annotate(n=Sum("count")):
            days[row["day"]][row[column] if column else ""] += row["n"]
    positions = _POSITIONS
    day = max(since, boundary)
    while day <= until:
        tail = day_rows(
            day, mark=mark, visitors=metric == Metric.VISITORS
        )  # new visitors are the tail's dearest part: counted only when asked for
        for key, (count, _amount) in tail.items():
            if key[0] != metric or any(
                key[positions[name]] != value for name, value in conditions.items()
            ):
                continue
            days[day][key[positions[column]] if column else ""] += count
        day += dt.timedelta(days=1)
    return days
