"""Engagement rules as SQL (for every lead at once) and as Python tests (for one new event);
the fit rules' SQL is in :mod:`.fit_rules`.

Both forms must agree: the set-based recompute and the incremental path give the same
scores on the same data (tests/test_scores.py checks it). Every rule is turned into a
Django expression or queryset and compiled by the database backend, so values are always
query parameters and the SQL is the same on SQLite and PostgreSQL except for the date
arithmetic, which :func:`age_days_sql` and :func:`period_sql` spell per vendor.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    F,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from leadmill.capture.models import Submission
from leadmill.tracking.models import Event

from .models import (
    LEAD_CAPTURED,
    EngagementRule,
    ScoreAdjustment,
)


def _tracking_rule_q(rule: EngagementRule) -> tuple[Q, dict[str, Any]]:
    """The condition a tracking event meets for ``rule`` (beyond "a contact's, not a bot"),
    with the annotations it reads."""
    condition = Q(type=rule.event_type)
    annotations: dict[str, Any] = {}
    if rule.url_contains:
        condition &= Q(url__icontains=rule.url_contains)
    if rule.form_id:
        condition &= Q(name=rule.form.slug)
    if rule.property_key:
        alias = f"hit_property_{rule.pk}"
        annotations[alias] = Cast(KT(f"properties__{rule.property_key}"), output_field=TextField())
        condition &= Q(**{alias: rule.property_value})
    return condition, annotations


def engagement_hits_queryset(
    rule: EngagementRule, *, contact_ids: Sequence[int] | None = None
) -> QuerySet:
    """The rows a rule counts, as ``(hit_contact, hit_at, hit_id)``: tracking events that are
    not bots, or accepted submissions for ``lead_captured``."""
    if rule.event_type == LEAD_CAPTURED:
        queryset = Submission.objects.filter(
            status=Submission.Status.ACCEPTED, contact__isnull=False
        )
        if rule.form_id:
            queryset = queryset.filter(form_id=rule.form_id)
        if rule.offer_id:
            queryset = queryset.filter(form__offer_id=rule.offer_id)
        at = "created_at"
    else:
        condition, annotations = _tracking_rule_q(rule)
        queryset = (
            Event.objects.filter(is_bot=False, contact__isnull=False)
            .annotate(**annotations)
            .filter(condition)
        )
        at = "occurred_at"
    if contact_ids is not None:
        queryset = queryset.filter(contact_id__in=contact_ids)
    return (
        queryset.order_by()
        .annotate(hit_contact=F("contact_id"), hit_at=F(at), hit_id=F("pk"))
        .values("hit_contact", "hit_at", "hit_id")
    )


def _uncapped_tracking_queryset(
    rules: Sequence[EngagementRule], *, contact_ids: Sequence[int] | None
) -> QuerySet:
    """One scan of the events for every uncapped tracking rule: each event's points are the
    sum of the rules it meets, as ``(hit_contact, hit_at, hit_points, hit_intent)``."""
    queryset = Event.objects.filter(
        is_bot=False, contact__isnull=False, type__in=sorted({rule.event_type for rule in rules})
    )
    if contact_ids is not None:
        queryset = queryset.filter(contact_id__in=contact_ids)
    points: Any = Value(0, output_field=IntegerField())
    intent = Q(pk__in=[])
    annotations: dict[str, Any] = {}
    for rule in rules:
        condition, extra = _tracking_rule_q(rule)
        annotations.update(extra)
        points = points + Case(
            When(condition, then=Value(rule.points)), default=Value(0), output_field=IntegerField()
        )
        if rule.is_intent_signal:
            intent |= condition
    return (
        queryset.order_by()
        .annotate(**annotations)
        .annotate(
            hit_contact=F("contact_id"),
            hit_at=F("occurred_at"),
            hit_points=points,
            hit_intent=Case(
                When(intent, then=Value(1)), default=Value(0), output_field=IntegerField()
            ),
        )
        .values("hit_contact", "hit_at", "hit_points", "hit_intent")
    )


def event_matches(rule: EngagementRule, event: Event) -> bool:
    """Whether ``rule`` counts this tracking event (the Python twin of the queryset above)."""
    if rule.event_type != event.type or event.is_bot or event.contact_id is None:
        return False
    if rule.url_contains and rule.url_contains.lower() not in event.url.lower():
        return False
    if rule.form_id and event.name != rule.form.slug:
        return False
    if rule.property_key:
        value = (event.properties or {}).get(rule.property_key)
        if (
            value is None
            or isinstance(value, dict | list)
            or _json_text(value) != rule.property_value
        ):
            return False
    return True


def _json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# PostgreSQL's EXTRACT returns numeric (since 14): per row, numeric arithmetic costs several
# times what date_part's double precision does, and these run once per event in a recompute.
def age_days_sql(column: str) -> str:
    """Days from ``column`` to the reference time (the first ``%s`` parameter)."""
    if connection.vendor == "postgresql":
        return f"(date_part('epoch', %s - {column}) / CAST(86400 AS DOUBLE PRECISION))"
    return f"(julianday(%s) - julianday({column}))"


def decay_sql(value: str, at_column: str, half_life_days: float) -> str:
    """``value`` decayed from ``at_column`` to the reference time (the first ``%s``)."""
    return (
        f"({value} * POWER(CAST(0.5 AS DOUBLE PRECISION), "
        f"{age_days_sql(at_column)} / {float(half_life_days)!r}))"
    )


def period_sql(column: str, days: int) -> str:
    """The number of the ``days``-long period holding ``column``, counted from 1970-01-01."""
    if connection.vendor == "postgresql":
        return (
            f"FLOOR(date_part('epoch', {column}) / CAST({86400 * int(days)} AS DOUBLE PRECISION))"
        )
    return f"CAST((julianday({column}) - 2440587.5) / {int(days)} AS INTEGER)"


def reference_param(at: dt.datetime) -> Any:
    """``at`` as the backend wants it in a raw query."""
    if connection.vendor == "postgresql":
        return at
    return connection.ops.adapt_datetimefield_value(at)


def period_of(at: dt.datetime, days: int) -> int:
    return math.floor(at.timestamp() / (86400 * days))


@dataclasses.dataclass(frozen=True)
class Compiled:
    sql: str
    params: list[Any]


def _capped_branch_numbered(rule: EngagementRule, inner: str, decay: str) -> str:
    """PostgreSQL: a capped rule's ``(hit_contact, value, intent_at)``, every hit numbered
    per lead and period (a window function) and the points kept below the cap, earliest
    first. Parameters: decay, ``inner``'s.

    The grouped form of :func:`_capped_branch` made PostgreSQL's plan larger, past its JIT
    thresholds, and compiling it cost more than it saved (engagement over 100,000 leads:
    2.3 s with it, 0.9–1.2 s with this form, JIT on as by default).
    """
    p, cap = int(rule.points), int(rule.cap_points)
    period = period_sql("h.hit_at", rule.cap_days)
    rank = f"ROW_NUMBER() OVER (PARTITION BY {period}, h.hit_contact ORDER BY h.hit_at, h.hit_id)"
    awarded = (
        f"CASE WHEN {p} * rn <= {cap} THEN {p} WHEN {p} * (rn - 1) >= {cap} THEN 0 "
        f"ELSE {cap} - {p} * (rn - 1) END"
    )
    intent = "hit_at" if rule.is_intent_signal else "NULL"
    return (
        f"SELECT hit_contact, {awarded} * {decay.format(hit_at='hit_at')} AS value, "  # noqa: S608 -- integers and compiled SQL only
        f"{intent} AS intent_at FROM "
        f"(SELECT h.hit_contact, h.hit_at, {rank} AS rn FROM ({inner}) h) ranked"
    )


def _capped_branch(rule: EngagementRule, inner: str, decay: str) -> str:
    """The SQL of a capped rule's points per lead and period: ``(hit_contact, value,
    intent_at)`` over ``inner`` (its hits, aliased ``h``, then ``x``; ``decay`` is the
    decay factor of a hit at ``{hit_at}``, one ``%s``). Parameters, in order: decay,
    ``inner``'s, decay, ``inner``'s.

    The hits are grouped by lead and period; a group whose hits all fit under the cap (the
    usual case) is its points times its summed decay, with no ordering. Only a group over
    the cap numbers its hits, earliest first, to keep the points below the cap: a
    correlated subquery over that lead's hits in that period (the tracking events' contact
    index finds them). Numbering every hit with a window function sorted them all, and
    cost a third of the compute of a recompute on SQLite.
    """
    p, cap = int(rule.points), int(rule.cap_points)
    awarded = (
        f"CASE WHEN {p} * r.rn <= {cap} THEN {p} WHEN {p} * (r.rn - 1) >= {cap} THEN 0 "
        f"ELSE {cap} - {p} * (r.rn - 1) END"
    )
    over_the_cap = (
        f"(SELECT SUM({awarded} * {decay.format(hit_at='r.hit_at')}) FROM "  # noqa: S608 -- integers and compiled SQL only
        f"(SELECT x.hit_at, ROW_NUMBER() OVER (ORDER BY x.hit_at, x.hit_id) AS rn "
        f"FROM ({inner}) x WHERE x.hit_contact = g.hit_contact "
        f"AND {period_sql('x.hit_at', rule.cap_days)} = g.period) r)"
    )
    period = period_sql("h.hit_at", rule.cap_days)
    intent = "g.last_hit_at" if rule.is_intent_signal else "NULL"
    return (
        f"SELECT g.hit_contact, CASE WHEN g.hits * {p} <= {cap} THEN {p} * g.decayed "  # noqa: S608
        f"ELSE {over_the_cap} END AS value, {intent} AS intent_at FROM "
        f"(SELECT h.hit_contact, {period} AS period, COUNT(*) AS hits, "
        f"SUM({decay.format(hit_at='h.hit_at')}) AS decayed, MAX(h.hit_at) AS last_hit_at "
        f"FROM ({inner}) h GROUP BY {period}, h.hit_contact) g"
    )


def engagement_sql(
    rules: Sequence[EngagementRule],
    *,
    half_life_days: float,
    at: dt.datetime,
    contact_ids: Sequence[int] | None = None,
) -> Compiled:
    """``SELECT contact_id, engagement, intent_at`` over the rules' hits, decayed to ``at``.

    Submissions of an offer marked as an intent signal always count as intent (no points);
    score adjustments (:class:`.models.ScoreAdjustment`) count their points, never intent.

    ``UNION ALL`` of rows ``(hit_contact, value, intent_at)``, each value already decayed:
    one scan of the tracking events for every uncapped tracking rule; one branch per
    form-submission rule; one per capped rule (:func:`_capped_branch`). Then one
    ``GROUP BY`` lead.
    """
    reference = reference_param(at)
    decay = (
        f"POWER(CAST(0.5 AS DOUBLE PRECISION), "
        f"{age_days_sql('{hit_at}')} / {float(half_life_days)!r})"
    )

    def decayed(hit_at: str) -> str:
        return decay.format(hit_at=hit_at)

    branches, params = [], []
    intent_offers = Submission.objects.filter(
        status=Submission.Status.ACCEPTED, contact__isnull=False, form__offer__is_intent_signal=True
    )
    if contact_ids is not None:
        intent_offers = intent_offers.filter(contact_id__in=contact_ids)
    inner, inner_params = (
        intent_offers.order_by()
        .annotate(hit_contact=F("contact_id"), hit_at=F("created_at"), hit_id=F("pk"))
        .values("hit_contact", "hit_at", "hit_id")
        .query.sql_with_params()
    )
    branches.append(f"SELECT h.hit_contact, 0 AS value, h.hit_at AS intent_at FROM ({inner}) h")  # noqa: S608
    params += inner_params
    adjustments = ScoreAdjustment.objects.order_by()
    if contact_ids is not None:
        adjustments = adjustments.filter(contact_id__in=contact_ids)
    inner, inner_params = (
        adjustments.annotate(hit_contact=F("contact_id"), hit_at=F("occurred_at"))
        .values("hit_contact", "hit_at", "points")
        .query.sql_with_params()
    )
    branches.append(
        f"SELECT h.hit_contact, h.points * {decayed('h.hit_at')} AS value, NULL AS intent_at "  # noqa: S608
        f"FROM ({inner}) h"
    )
    params += [reference, *inner_params]
    uncapped = [rule for rule in rules if not rule.is_capped and rule.event_type != LEAD_CAPTURED]
    if uncapped:
        inner, inner_params = _uncapped_tracking_queryset(
            uncapped, contact_ids=contact_ids
        ).query.sql_with_params()
        branches.append(
            f"SELECT h.hit_contact, h.hit_points * {decayed('h.hit_at')} AS value, "  # noqa: S608
            f"CASE WHEN h.hit_intent = 1 THEN h.hit_at END AS intent_at FROM ({inner}) h"
        )
        params += [reference, *inner_params]
    for rule in rules:
        if rule in uncapped:
            continue
        inner, inner_params = engagement_hits_queryset(
            rule, contact_ids=contact_ids
        ).query.sql_with_params()
        if rule.is_capped and connection.vendor == "postgresql":
            branches.append(_capped_branch_numbered(rule, inner, decay))
            params += [reference, *inner_params]
        elif rule.is_capped:
            branches.append(_capped_branch(rule, inner, decay))
            params += [reference, *inner_params, reference, *inner_params]
        else:
            intent = "h.hit_at" if rule.is_intent_signal else "NULL"
            branches.append(
                f"SELECT h.hit_contact, {int(rule.points)} * {decayed('h.hit_at')} AS value, "  # noqa: S608 -- integers and compiled SQL only
                f"{intent} AS intent_at FROM ({inner}) h"
            )
            params += [reference, *inner_params]
    sql = (
        "SELECT hits.hit_contact AS contact_id, SUM(hits.value) AS engagement, "  # noqa: S608 -- compiled SQL only
        f"MAX(hits.intent_at) AS intent_at FROM ({' UNION ALL '.join(branches)}) hits "
        "GROUP BY hits.hit_contact"
    )
    return Compiled(sql=sql, params=params)
