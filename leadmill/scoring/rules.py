"""Scoring rules as SQL (for every lead at once) and as Python tests (for one new event).

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
    BooleanField,
    Case,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Lower, StrIndex, Substr

from leadmill.capture.models import Submission
from leadmill.contacts.identity import FREE_MAIL_DOMAINS
from leadmill.contacts.models import Contact
from leadmill.tracking.models import Event

from .models import (
    CUSTOM_FIELD_PREFIX,
    EMAIL_TYPE,
    LEAD_CAPTURED,
    EngagementRule,
    FitRule,
    ScoreAdjustment,
)

NUMBER_PATTERN = r"^ *-?([0-9]+\.?[0-9]*|\.[0-9]+) *$"  # what IsNumber accepts


# --- Fit ---------------------------------------------------------------------------------------


def _fit_field_ref(field: str) -> tuple[Any, str]:
    """The expression of a fit field and, for filters, its lookup path."""
    if field.startswith(CUSTOM_FIELD_PREFIX):
        path = f"custom__{field[len(CUSTOM_FIELD_PREFIX) :]}"
        return KT(path), path
    return F(field), field


class IsNumber(Func):
    """True when a text is a plain decimal number; native on both engines (no Python
    callback per row, which Django's REGEXP on SQLite is)."""

    output_field = BooleanField()
    arity = 1

    def as_sql(self, compiler, connection, **extra_context):
        return self.as_sqlite(compiler, connection, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        text = f"TRIM({sql})"
        return (
            f"({text} GLOB '*[0-9]*' AND {text} NOT GLOB '*[^0-9.-]*' AND {text} NOT GLOB '?*-*' "
            f"AND {text} NOT GLOB '*.*.*')",
            params * 4,
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} ~ %s)", [*params, NUMBER_PATTERN]


def _email_domain() -> Any:
    return Substr(F("email"), StrIndex(F("email"), Value("@")) + 1)


def _email_free_q() -> Q:
    return Q(fit_email_domain__in=sorted(FREE_MAIL_DOMAINS))


def fit_rule_q(rule: FitRule, *, alias: str) -> Q:
    """The condition a contact passes for ``rule``; ``alias`` names an annotation of the field
    (lower-cased text) the caller added with :func:`fit_annotations`."""
    op = FitRule.Operator
    if rule.field == EMAIL_TYPE:
        free = _email_free_q()
        if rule.operator == op.IS_SET:
            return Q(email__isnull=False) & ~Q(email="")
        wanted = rule.values() if rule.operator == op.IN else [rule.value.strip().lower()]
        business = Q(email__isnull=False) & ~Q(email="") & ~free
        parts = [
            free if value == "free" else business if value == "business" else Q(pk__in=[])
            for value in wanted
        ]
        result = parts[0]
        for part in parts[1:]:
            result |= part
        return result
    if rule.operator == op.IS_SET:
        return Q(**{f"{alias}__isnull": False}) & ~Q(**{alias: ""})
    if rule.operator == op.EQUALS:
        return Q(**{alias: rule.value.strip().lower()})
    if rule.operator == op.IN:
        return Q(**{f"{alias}__in": rule.values()})
    if rule.operator == op.CONTAINS:
        return Q(**{f"{alias}__contains": rule.value.strip().lower()})
    number = float(rule.value)
    lookup = "gte" if rule.operator == op.GTE else "lte"
    return Q(**{f"{alias}_number__{lookup}": number})


def fit_annotations(rules: Sequence[FitRule]) -> dict[str, Any]:
    """Lower-cased text (and, for number tests, numeric) annotations of the fields the rules read."""
    annotations: dict[str, Any] = {}
    for rule in rules:
        if rule.field == EMAIL_TYPE:
            annotations["fit_email_domain"] = _email_domain()
            continue
        alias = fit_alias(rule.field)
        expression, _path = _fit_field_ref(rule.field)
        annotations[alias] = Lower(expression)
        if rule.operator in (FitRule.Operator.GTE, FitRule.Operator.LTE):
            annotations[f"{alias}_number"] = Case(
                When(IsNumber(expression), then=Cast(expression, FloatField())),
                default=None,
                output_field=FloatField(),
            )
    return annotations


def fit_alias(field: str) -> str:
    return "fitf_" + "".join(ch if ch.isalnum() else "_" for ch in field)


def fit_expression(rules: Sequence[FitRule]) -> Any:
    """Sum of the points of the rules a contact passes, as one SQL expression."""
    total: Any = Value(0, output_field=IntegerField())
    for rule in rules:
        alias = fit_alias(rule.field)
        total = total + Case(
            When(fit_rule_q(rule, alias=alias), then=Value(rule.points)),
            default=Value(0),
            output_field=IntegerField(),
        )
    return total


def fit_queryset(rules: Sequence[FitRule], *, contact_ids: Sequence[int] | None = None) -> QuerySet:
    """``SELECT score_contact, fit`` for every contact (or the given ones)."""
    queryset = Contact.objects.order_by()
    if contact_ids is not None:
        queryset = queryset.filter(pk__in=contact_ids)
    return (
        queryset.annotate(**fit_annotations(rules))
        .annotate(score_contact=F("pk"), fit=fit_expression(rules))
        .values("score_contact", "fit")
    )


# --- Engagement --------------------------------------------------------------------------------


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

    ``UNION ALL`` of: one scan of the tracking events for every uncapped tracking rule; one
    branch per form-submission rule; one per capped rule, which numbers its hits per lead
    and period (a window function) and counts only the points below the cap, earliest first.
    """
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
    branches.append(f"SELECT h.hit_contact, h.hit_at, 0 AS points, 1 AS intent FROM ({inner}) h")  # noqa: S608
    params += inner_params
    adjustments = ScoreAdjustment.objects.order_by()
    if contact_ids is not None:
        adjustments = adjustments.filter(contact_id__in=contact_ids)
    inner, inner_params = (
        adjustments.annotate(hit_contact=F("contact_id"), hit_at=F("occurred_at"))
        .values("hit_contact", "hit_at", "points")
        .query.sql_with_params()
    )
    branches.append(f"SELECT h.hit_contact, h.hit_at, h.points, 0 AS intent FROM ({inner}) h")  # noqa: S608
    params += inner_params
    uncapped = [rule for rule in rules if not rule.is_capped and rule.event_type != LEAD_CAPTURED]
    if uncapped:
        inner, inner_params = _uncapped_tracking_queryset(
            uncapped, contact_ids=contact_ids
        ).query.sql_with_params()
        branches.append(
            "SELECT h.hit_contact, h.hit_at, h.hit_points AS points, h.hit_intent AS intent "  # noqa: S608
            f"FROM ({inner}) h"
        )
        params += inner_params
    for rule in rules:
        if rule in uncapped:
            continue
        inner, inner_params = engagement_hits_queryset(
            rule, contact_ids=contact_ids
        ).query.sql_with_params()
        intent = 1 if rule.is_intent_signal else 0
        if rule.is_capped:
            period = period_sql("h.hit_at", rule.cap_days)
            # period first: SQLite then scans and sorts the table once instead of walking the
            # contact index row by row (a third faster); PostgreSQL does not mind
            rank = f"ROW_NUMBER() OVER (PARTITION BY {period}, h.hit_contact ORDER BY h.hit_at, h.hit_id)"
            p, cap = int(rule.points), int(rule.cap_points)
            awarded = (
                f"CASE WHEN {p} * rn <= {cap} THEN {p} WHEN {p} * (rn - 1) >= {cap} THEN 0 "
                f"ELSE {cap} - {p} * (rn - 1) END"
            )
            branches.append(
                f"SELECT hit_contact, hit_at, {awarded} AS points, {intent} AS intent FROM "  # noqa: S608 -- integers and compiled SQL only
                f"(SELECT h.hit_contact, h.hit_at, {rank} AS rn FROM ({inner}) h) ranked"
            )
        else:
            branches.append(
                f"SELECT h.hit_contact, h.hit_at, {int(rule.points)} AS points, {intent} AS intent "  # noqa: S608
                f"FROM ({inner}) h"
            )
        params += inner_params
    age = age_days_sql("hits.hit_at")
    sql = (
        f"SELECT hits.hit_contact AS contact_id, "  # noqa: S608 -- compiled SQL and a float only
        f"SUM(hits.points * POWER(CAST(0.5 AS DOUBLE PRECISION), {age} / {float(half_life_days)!r})) AS engagement, "
        f"MAX(CASE WHEN hits.intent = 1 THEN hits.hit_at END) AS intent_at "
        f"FROM ({' UNION ALL '.join(branches)}) hits GROUP BY hits.hit_contact"
    )
    return Compiled(sql=sql, params=[reference_param(at), *params])
