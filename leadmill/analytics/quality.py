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
from django.db import connection
from django.db.models import BigIntegerField, Count, F, FloatField, OuterRef, Subquery, Sum, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from leadmill.capture.models import Submission
from leadmill.contacts.models import Contact
from leadmill.scoring.models import ContactScore, ScoringSettings

from .counts import day_bounds, landing_page_of
from .credits import FIRST_TOUCH, TOUCH_GROUPS, as_credits, credited_rows, lead_credits
from .models import SHARED_MODELS, LeadShare, Metric
from .selectors import Tally, _column, _ratio, group_labels, served_credited_rows, tallies
from .tail import fill_mark, kept_as_of

QUALITY_GROUPS = ("channel", "source", "medium", "campaign", "landing_page", "form", "offer")


class _Scores:
    """Sums of the scores of one group's leads."""

    def __init__(self) -> None:
        self.fit = self.engagement = self.predictive = 0.0
        self.scored = self.predicted = 0

    def add_sums(self, *, scored: int, fit, engagement, predicted: int, predictive) -> None:
        self.scored += scored
        self.fit += fit or 0
        self.engagement += engagement or 0.0
        self.predicted += predicted
        self.predictive += predictive or 0.0

    def merge(self, other: _Scores) -> None:
        self.fit += other.fit
        self.engagement += other.engagement
        self.predictive += other.predictive
        self.scored += other.scored
        self.predicted += other.predicted

    def decayed(self, factor: float) -> _Scores:
        """These sums with the engagement scores decayed by ``factor`` (kept sums read
        later: every lead's engagement decays by the same factor, ADR 69)."""
        later = _Scores()
        later.merge(self)
        later.engagement = self.engagement * factor
        return later

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


# Where each count dimension of a lead is read from (``form_id``: its first accepted post).
LEAD_COLUMNS = {
    "channel": "contact__first_channel",
    "source": "contact__first_source",
    "medium": "contact__first_medium",
    "campaign": "contact__first_campaign",
    "landing_page": "contact__first_landing_url",
    "country": "contact__country",
}


def _engagement_now(*, now: dt.datetime, half_life_days: float) -> RawSQL:
    """SQL of :func:`leadmill.scoring.selectors.engagement_now` for each score row:
    ``stored * 2 ** ((reference - now) / half life)`` (POWER is Django's own on SQLite)."""
    table = connection.ops.quote_name(ContactScore._meta.db_table)
    if connection.vendor == "postgresql":
        seconds = f"EXTRACT(EPOCH FROM {table}.engagement_at)::float8"
    else:  # SQLite keeps UTC text; julianday reads it (day 2440587.5 is the Unix epoch)
        seconds = f"((julianday({table}.engagement_at) - 2440587.5) * 86400.0)"
    return RawSQL(  # noqa: S611 -- a table name and constants; the values are parameters
        f"{table}.engagement_score * POWER(2.0, ({seconds} - %s) / %s)",
        (now.timestamp(), 86400.0 * half_life_days),
        output_field=FloatField(),
    )


def _scores_by_key(
    *, since: dt.date, until: dt.date, group_by: str, filters: dict
) -> dict[object, _Scores]:
    """Score sums of the leads created in the period, per raw value of the group's column.

    Summed by the database per combination of the columns the group and the filters need
    (a landing page per stored URL, read as a path here), so the cost does not grow with
    the number of leads read into Python.
    """
    start, end = day_bounds(since)[0], day_bounds(until)[1]
    names = sorted({_column(group_by), *(_column(name) for name in filters)})
    first_form = (
        Submission.objects.filter(
            contact_id=OuterRef("contact_id"), status=Submission.Status.ACCEPTED
        )
        .order_by("id")
        .values("form_id")[:1]
    )
    columns = {
        f"lead_{name}": (
            Coalesce(Subquery(first_form), Value(0), output_field=BigIntegerField())
            if name == "form_id"
            else F(LEAD_COLUMNS[name])
        )
        for name in names
    }
    half_life = ScoringSettings.load().half_life_days
    rows = (
        ContactScore.objects.filter(contact__created_at__gte=start, contact__created_at__lt=end)
        .annotate(**columns)
        .values(*columns)
        .annotate(
            scored=Count("pk"),
            fit=Sum("fit_score"),
            engagement=Sum(_engagement_now(now=timezone.now(), half_life_days=half_life)),
            predicted=Count("predictive_probability"),
            predictive=Sum("predictive_probability"),
        )
    )
    sums: dict[object, _Scores] = defaultdict(_Scores)
    for row in rows:
        dims = {name: row[f"lead_{name}"] for name in names}
        for name, limit in (("source", 200), ("medium", 200), ("campaign", 200)):
            if name in dims:
                dims[name] = dims[name][:limit]
        if "landing_page" in dims:
            dims["landing_page"] = landing_page_of(dims["landing_page"])
        if any(dims[_column(name)] != value for name, value in filters.items()):
            continue
        sums[dims[_column(group_by)]].add_sums(
            scored=row["scored"],
            fit=row["fit"],
            engagement=row["engagement"],
            predicted=row["predicted"],
            predictive=row["predictive"],
        )
    return sums


def _scores_credited(
    shares: dict[int, dict[object, float]], *, now: dt.datetime | None = None
) -> dict[object, _Scores]:
    """Score sums of the leads created in the period, each lead weighted in each group by
    its credit there (``shares``: per lead, per group value), so an average is the
    credit-weighted mean of the scores (ADR 60); engagement as of ``now`` (default: now)."""
    half_life = ScoringSettings.load().half_life_days
    now = now or timezone.now()
    sums: dict[object, _Scores] = defaultdict(_Scores)
    ids = sorted(shares)
    for start in range(0, len(ids), 2000):
        rows = (
            ContactScore.objects.filter(contact_id__in=ids[start : start + 2000])
            .annotate(engagement_now=_engagement_now(now=now, half_life_days=half_life))
            .values_list("contact_id", "fit_score", "engagement_now", "predictive_probability")
        )
        for contact_id, fit, engagement, predictive in rows:
            for group, credit in shares[contact_id].items():
                sums[group].add_sums(
                    scored=credit,
                    fit=credit * (fit or 0),
                    engagement=credit * (engagement or 0.0),
                    predicted=credit if predictive is not None else 0,
                    predictive=credit * (predictive or 0.0),
                )
    return sums


def scores_stored_credits(
    *, since: dt.date, until: dt.date, group_by: str, model: str, filters: dict
) -> dict[object, _Scores]:
    """As :func:`_scores_credited` for the leads created in the period, their shares read
    from the fill's :class:`.models.LeadShare` (summed by the database) for the days it has
    filled, from their journeys for the days after (ADR 65). ``filters``: touch columns.

    The sums are kept as the tail is (ADR 69): the scores as of the moment they were summed
    (the screens say which), at most ``LEADMILL_ANALYTICS_TAIL_SECONDS``, a fill's write
    sums them again at once; the engagement is decayed from that moment to now."""
    if model not in SHARED_MODELS:  # a column's name
        raise ValueError(model)
    mark = fill_mark()
    half_life = float(ScoringSettings.load().half_life_days)  # 14 when new, 14.0 when read
    # The sums read the scores now: kept as the tail is (ADR 69), as of the moment they
    # were summed, every engagement decayed from there to now by the one factor.
    moment, sums = kept_as_of(
        "quality",
        (since, until, group_by, model, sorted(filters.items()), half_life),
        mark,
        lambda moment: _scores_stored_credits_at(
            since=since,
            until=until,
            group_by=group_by,
            model=model,
            filters=filters,
            boundary=mark.filled_until,
            now=moment,
            half_life_days=half_life,
        ),
        recall={
            "since": since,
            "until": until,
            "group_by": group_by,
            "model": model,
            "filters": filters,
        },
    )
    factor = 2.0 ** ((moment - timezone.now()).total_seconds() / (86400.0 * half_life))
    return {group: scores.decayed(factor) for group, scores in sums.items()}


def _scores_stored_credits_at(
    *,
    since: dt.date,
    until: dt.date,
    group_by: str,
    model: str,
    filters: dict,
    boundary: dt.date,
    now: dt.datetime,
    half_life_days: float,
) -> dict[object, _Scores]:
    """:func:`scores_stored_credits` with the engagement as of ``now``, not kept."""
    start, end = day_bounds(since)[0], day_bounds(until)[1]
    stored_end = min(end, day_bounds(boundary)[0])
    sums: dict[object, _Scores] = defaultdict(_Scores)
    if start < stored_end:
        shares = LeadShare._meta.db_table
        scores = ContactScore._meta.db_table
        engagement = _engagement_now(now=now, half_life_days=half_life_days)
        where = "".join(f" AND {shares}.{name} = %s" for name in filters)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT {shares}.{group_by}, SUM({shares}.{model}),
                    SUM({shares}.{model} * COALESCE({scores}.fit_score, 0)),
                    SUM({shares}.{model} * COALESCE({engagement.sql}, 0)),
                    SUM(CASE WHEN {scores}.predictive_probability IS NULL THEN 0
                        ELSE {shares}.{model} END),
                    SUM({shares}.{model} * COALESCE({scores}.predictive_probability, 0))
                FROM {shares} JOIN {scores} ON {scores}.contact_id = {shares}.contact_id
                WHERE {shares}.created_at >= %s
                    AND {shares}.created_at < %s{where}
                GROUP BY {shares}.{group_by}
                """,  # noqa: S608 -- table and column names; the values are parameters
                (
                    *engagement.params,
                    connection.ops.adapt_datetimefield_value(start),
                    connection.ops.adapt_datetimefield_value(stored_end),
                    *filters.values(),
                ),
            )
            for group, scored, fit, engaged, predicted, predictive in cursor.fetchall():
                sums[group].add_sums(
                    scored=scored,
                    fit=fit,
                    engagement=engaged,
                    predicted=predicted,
                    predictive=predictive,
                )
    if stored_end < end:
        created = Contact.objects.filter(
            created_at__gte=max(start, stored_end), created_at__lt=end
        ).values_list("pk", flat=True)
        shares_of: dict[int, dict[object, float]] = {}
        for contact_id, touches in lead_credits(contact_ids=created, model=model).items():
            by_group: dict[object, float] = defaultdict(float)
            for key, weight in touches.items():
                if all(key[TOUCH_GROUPS.index(name)] == value for name, value in filters.items()):
                    by_group[key[TOUCH_GROUPS.index(group_by)]] += weight
            shares_of[contact_id] = dict(by_group)
        for group, tail in _scores_credited(shares_of, now=now).items():
            sums[group].merge(tail)
    return dict(sums)


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
    attribution: str = FIRST_TOUCH,
) -> dict:
    """The quality of the leads created from ``since`` to ``until``, one row per value of
    ``group_by`` (one of :data:`QUALITY_GROUPS`) and the total.

    Shares are of the group's leads (the cohort reading); ``window_days`` counts only the
    stages reached within that many days of the lead's creation. ``attribution``: a model
    other than first touch shares each lead among its touches when ``group_by`` is a
    touch's column: fractional leads and stages, credit-weighted score averages (ADR 60).
    """
    filters = {name: value for name, value in (filters or {}).items() if value not in (None, "")}
    attribution = attribution if group_by in TOUCH_GROUPS else FIRST_TOUCH
    if attribution == FIRST_TOUCH:
        groups = tallies(since=since, until=until, group_by=group_by, filters=filters)
        scores = _scores_by_key(since=since, until=until, group_by=group_by, filters=filters)
    elif fill_mark() is None or any(name not in TOUCH_GROUPS for name in filters):
        # Before the first fill, or filtered by the lead's landing page, form or country
        # (not kept with the shares): from the raw journeys (ADR 60).
        credited, created = credited_rows(
            since=since, until=until, group_by=group_by, model=attribution, filters=filters
        )
        groups = defaultdict(Tally)
        for metric, group, lag, credit, amount in credited:
            groups[group].add(metric, lag, credit, amount)
        scores = _scores_credited(created)
    else:
        groups = defaultdict(Tally)
        for metric, group, lag, credit, amount in served_credited_rows(
            since=since, until=until, group_by=group_by, model=attribution, filters=filters
        ):
            groups[group].add(metric, lag, credit, amount)
        scores = scores_stored_credits(
            since=since, until=until, group_by=group_by, model=attribution, filters=filters
        )
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
    if attribution != FIRST_TOUCH:
        rows = [as_credits(row) for row in rows]
    return {
        "since": since,
        "until": until,
        "group_by": group_by,
        "attribution": attribution,
        "window_days": window_days,
        "currency": settings.LEADMILL_REPORTING_CURRENCY,
        "rows": rows,
        "total": _quality_row(total, total_scores, window_days=window_days),
    }
