"""Nurture performance and uplift, for the screen and ``GET /api/v1/analytics/sequences/{id}``
(definitions: docs/analytics.md, "Nurture").

Nurture counts its own emails and enrolments (:func:`leadmill.nurture.performance.sequence_performance`,
:func:`~leadmill.nurture.selectors.sequence_uplift`); analytics adds what only it knows: the
cost of the leads, from the spend of the period the sequence enrolled them in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from django.db.models import Max, Min
from django.utils import timezone

from leadmill.nurture.models import Broadcast, Enrollment, Sequence
from leadmill.nurture.performance import (
    PerformanceRow,
    broadcast_performance,
    sequence_performance,
)
from leadmill.nurture.selectors import UpliftRow, sequence_uplift

from .selectors import funnel

DEFAULT_WINDOW_DAYS = 30


@dataclasses.dataclass(frozen=True)
class GroupCost:
    """Cost per SQL of one group (nurtured or held out): the period's cost per lead times its
    leads, divided by its SQLs. None when spend is unknown or the group has no SQL."""

    leads: int
    sqls: int
    cost_per_sql: Decimal | None


@dataclasses.dataclass(frozen=True)
class SequenceReport:
    sequence: Sequence
    window_days: int
    held_out_count: int
    performance: list[PerformanceRow]
    uplift: list[UpliftRow]
    enrolled_since: dt.date | None
    enrolled_until: dt.date | None
    cost_per_lead: Decimal | None
    nurtured_cost: GroupCost
    held_out_cost: GroupCost


def _cost_per_sql(cost_per_lead: Decimal | None, *, leads: int, sqls: int) -> Decimal | None:
    if cost_per_lead is None or not sqls:
        return None
    return (cost_per_lead * leads / sqls).quantize(Decimal("0.01"))


def sequence_report(
    *, sequence: Sequence, window_days: int = DEFAULT_WINDOW_DAYS
) -> SequenceReport:
    """Performance per sequence and step, the uplift of nurtured over held-out leads, and
    cost per SQL for both groups when spend is known.

    Both groups were enrolled at random from the same leads, so they cost the same per lead:
    the cost per lead of the enrolment period (spend ÷ leads created, the funnel's figure)
    times a group's leads, divided by its SQLs within the window."""
    enrolments = Enrollment.objects.filter(sequence=sequence)
    span = enrolments.aggregate(first=Min("enrolled_at"), last=Max("enrolled_at"))
    uplift = sequence_uplift(sequence_id=sequence.pk, window_days=window_days)
    since = timezone.localdate(span["first"]) if span["first"] else None
    until = timezone.localdate(span["last"]) if span["last"] else None
    cost_per_lead = None
    if since is not None:
        total = funnel(since=since, until=min(until, timezone.localdate()))["total"]
        if total["spend"]:
            cost_per_lead = total["cost_per_lead"]
    sql = next(row for row in uplift if row.stage == "sql")
    return SequenceReport(
        sequence=sequence,
        window_days=window_days,
        held_out_count=sql.held_out.exposures,
        performance=sequence_performance(sequence=sequence, window_days=window_days),
        uplift=uplift,
        enrolled_since=since,
        enrolled_until=until,
        cost_per_lead=cost_per_lead,
        nurtured_cost=GroupCost(
            sql.nurtured.exposures,
            sql.nurtured.conversions,
            _cost_per_sql(
                cost_per_lead, leads=sql.nurtured.exposures, sqls=sql.nurtured.conversions
            ),
        ),
        held_out_cost=GroupCost(
            sql.held_out.exposures,
            sql.held_out.conversions,
            _cost_per_sql(
                cost_per_lead, leads=sql.held_out.exposures, sqls=sql.held_out.conversions
            ),
        ),
    )


def broadcasts_report(
    *, window_days: int = DEFAULT_WINDOW_DAYS, limit: int = 50
) -> list[PerformanceRow]:
    """The latest broadcasts that were sent or are sending, each with its performance."""
    broadcasts = Broadcast.objects.filter(
        status__in=[Broadcast.Status.SENT, Broadcast.Status.SENDING]
    ).order_by("-created_at")[:limit]
    return [
        broadcast_performance(broadcast_id=pk, window_days=window_days)
        for pk in broadcasts.values_list("pk", flat=True)
    ]
