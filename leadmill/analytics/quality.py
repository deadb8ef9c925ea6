"""Reads of the quality-by-source report (docs/analytics.md, "Quality by source").

Per channel, source, campaign, landing page or form: the leads created in the period, the
share of them that reached MQL, SQL and customer, their average fit / engagement /
predictive score, revenue, and the median days from creation to SQL and to customer.

Counts, shares, revenue and medians come from the daily counts (cohort metrics, the same
rows as the funnel, so the two reports agree); the score averages are read from the stored
scores of the same leads, whatever wrote their history (a form, sales, an import).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.scoring.models import ContactScore, ScoringSettings
from leadmill.scoring.selectors import engagement_now

from .counts import day_bounds, leads_load
from .models import DIMENSIONS, Metric
from .selectors import Tally, _column, _ratio, group_labels, tallies

QUALITY_GROUPS = ("channel", "source", "medium", "campaign", "landing_page", "form", "offer")


class _Scores:
    """Sums of the scores of one group's leads."""

    def __init__(self) -> None:
        self.fit = self.engagement = self.predictive = 0.0
        self.scored = self.predicted = 0

    def add(self, score: ContactScore, *, half_life: float, now: dt.datetime) -> None:
        self.scored += 1
        self.fit += score.fit_score
        self.engagement += engagement_now(score=score, at=now, half_life_days=half_life)
        if score.predictive_probability is not None:
            self.predicted += 1
            self.predictive += score.predictive_probability

    def merge(self, other: _Scores) -> None:
        self.fit += other.fit
        self.engagement += other.engagement
        self.predictive += other.predictive
        self.scored += other.scored
        self.predicted += other.predicted

    def averages(self) -> dict:
        def mean(total: float, size: int) -> float | None:
            return round(total / size, 2) if size else None

        return {
            "average_fit_score": mean(self.fit, self.scored),
            "average_engagement_score": mean(self.engagement, self.scored),
            "average_predictive_score": (
                round(self.predictive / self.predicted, 4) if self.predicted else None
            ),
        }


def _scores_by_key(
    *, since: dt.date, until: dt.date, group_by: str, filters: dict
) -> dict[object, _Scores]:
    """Score sums of the leads created in the period, per raw value of the group's column."""
    start, end = day_bounds(since)[0], day_bounds(until)[1]
    ids = Contact.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
        "pk", flat=True
    )
    positions = {name: index for index, name in enumerate(DIMENSIONS)}
    column = positions[_column(group_by)]
    conditions = {positions[_column(name)]: value for name, value in filters.items()}
    keys = {}
    for lead in leads_load(ids):
        if all(lead.dims[index] == value for index, value in conditions.items()):
            keys[lead.id] = lead.dims[column]
    half_life = ScoringSettings.load().half_life_days
    now = timezone.now()
    sums: dict[object, _Scores] = defaultdict(_Scores)
    ids = list(keys)
    for start_at in range(0, len(ids), 2000):
        chunk = ids[start_at : start_at + 2000]
        for score in ContactScore.objects.filter(contact_id__in=chunk):
            sums[keys[score.contact_id]].add(score, half_life=half_life, now=now)
    return sums


def _quality_row(tally: Tally, scores: _Scores, *, window_days: int | None) -> dict:
    leads = tally.total(Metric.LEADS)
    mqls = tally.total(Metric.COHORT_MQL, within=window_days)
    sqls = tally.total(Metric.COHORT_SQL, within=window_days)
    customers = tally.total(Metric.COHORT_CUSTOMER, within=window_days)
    return {
        "leads": leads,
        "mqls": mqls,
        "sqls": sqls,
        "customers": customers,
        "mql_share": _ratio(mqls, leads),
        "sql_share": _ratio(sqls, leads),
        "customer_share": _ratio(customers, leads),
        **scores.averages(),
        "revenue": tally.amounts.get(Metric.COHORT_REVENUE, Decimal(0)),
        "median_days_to_sql": tally.percentile(Metric.COHORT_SQL, 0.5),
        "median_days_to_customer": tally.percentile(Metric.COHORT_CUSTOMER, 0.5),
    }


def quality(
    *,
    since: dt.date,
    until: dt.date,
    group_by: str = "source",
    window_days: int | None = None,
    filters: dict | None = None,
) -> dict:
    """The quality of the leads created from ``since`` to ``until``, one row per value of
    ``group_by`` (one of :data:`QUALITY_GROUPS`) and the total.

    Shares are of the group's leads (the cohort reading); ``window_days`` counts only the
    stages reached within that many days of the lead's creation.
    """
    filters = {name: value for name, value in (filters or {}).items() if value not in (None, "")}
    groups = tallies(since=since, until=until, group_by=group_by, filters=filters)
    scores = _scores_by_key(since=since, until=until, group_by=group_by, filters=filters)
    labels = group_labels(group_by, list(set(groups) | set(scores)))
    merged: dict[str, Tally] = defaultdict(Tally)
    merged_scores: dict[str, _Scores] = defaultdict(_Scores)
    names: dict[str, str] = {}
    total, total_scores = Tally(), _Scores()
    for key in set(groups) | set(scores):
        value, label = labels[key]
        names[value] = label
        for target in (merged[value], total):
            tally = groups.get(key)
            if tally is None:
                continue
            for metric, lags in tally.lags.items():
                for lag, count in lags.items():
                    target.add(metric, lag, count, Decimal(0))
            for metric, amount in tally.amounts.items():
                target.amounts[metric] += amount
        if key in scores:
            merged_scores[value].merge(scores[key])
            total_scores.merge(scores[key])
    rows = [
        {
            "value": value,
            "label": names.get(value, value),
            **_quality_row(merged[value], merged_scores[value], window_days=window_days),
        }
        for value in sorted(merged, key=str)
        if merged[value].total(Metric.LEADS)
    ]
    return {
        "since": since,
        "until": until,
        "group_by": group_by,
        "window_days": window_days,
        "currency": settings.LEADMILL_REPORTING_CURRENCY,
        "rows": rows,
        "total": _quality_row(total, total_scores, window_days=window_days),
    }
