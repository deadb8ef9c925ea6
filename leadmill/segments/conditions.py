"""Segment conditions as Django ``Q`` objects over :class:`~leadmill.contacts.models.Contact`.

Every condition is a predicate on one contact row, so a definition compiles to a single
``WHERE`` (joins to the company, ``EXISTS`` subqueries for scores, consent, events and static
lists): the database counts a million contacts without Python touching one of them. The
vocabulary and its validation live in :mod:`.fields`; conditions reach
:func:`condition_q` validated.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case, Count, Exists, FloatField, OuterRef, Q, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Lower
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThan
from django.utils import timezone

from leadmill.consent.selectors import marketing_grant_q
from leadmill.scoring.fit_rules import IsNumber
from leadmill.scoring.models import ContactScore
from leadmill.tracking.models import Event

from .fields import (
    NEGATIVE_OPS,
    NUMBER_LOOKUPS,
    NUMBER_OPS,
    ZERO_TESTS,
    Field,
    date_value,
    field_of,
    list_values,
    number_value,
    whole_days,
)
from .scores import score_expression

# --- Compiling -----------------------------------------------------------------------------------


def condition_q(condition: dict, *, now: dt.datetime) -> Q:
    """One validated condition (not a group, not a segment reference) as a ``Q`` on Contact."""
    field = field_of(condition["field"])
    if field.kind == "consent":
        q = consent_q(purpose_key=(condition.get("value") or "").strip())
    elif field.kind == "event":
        q = event_q(condition, now=now)
    elif field.kind == "score":
        q = score_q(field.key, condition["op"], number_value(condition["value"]), now=now)
    else:
        op = condition["op"]
        positive = NEGATIVE_OPS.get(op, op)
        q = _field_q(field, positive, condition.get("value"), now=now)
        if positive != op:
            q = _negated(field, q, positive)
        return _negated(field, q, op) if condition.get("negate") else q
    return ~q if condition.get("negate") else q


def _negated(field: Field, q: Q, op: str) -> Q:
    """``NOT q``, where a custom field a lead does not have counts as "not matching"
    (SQL would otherwise drop the lead: NOT of an unknown is unknown)."""
    if field.kind == "custom" and op not in ("is_empty", "is_not_empty"):
        return ~q | Q(**{f"{field.lookup}__isnull": True}) | Q(**{field.lookup: None})
    return ~q


def _field_q(field: Field, op: str, value: Any, *, now: dt.datetime) -> Q:
    path = field.lookup
    if op == "is_empty":
        if field.kind == "custom":
            return Q(**{f"{path}__isnull": True}) | Q(**{path: None}) | Q(**{path: ""})
        if field.kind == "date":
            return Q(**{f"{path}__isnull": True})
        return Q(**{f"{path}__isnull": True}) | Q(**{path: ""})
    if field.kind == "date":
        return _date_q(path, op, value, now=now)
    if field.kind == "custom":
        return _custom_q(path, op, value)
    if op == "in":
        values = [_canonical(field, item) for item in list_values(value)]
        if field.kind == "choice" or field.case != "i":
            return Q(**{f"{path}__in": [_cased(field, item) for item in values]})
        return _any(Q(**{f"{path}__iexact": item}) for item in values)
    text = str(value).strip()
    if field.kind == "choice":
        return Q(**{path: text})
    if op == "equals":
        text = _canonical(field, text)
        return (
            Q(**{path: _cased(field, text)})
            if field.case != "i"
            else Q(**{f"{path}__iexact": text})
        )
    if op == "contains":
        return Q(**{f"{path}__icontains": text})
    return Q(**{f"{path}__istartswith": text})


def _canonical(field: Field, text: str) -> str:
    return (field.canonical(text) or text) if field.canonical else text


def _cased(field: Field, text: str) -> str:
    return (
        text.upper() if field.case == "upper" else text.lower() if field.case == "lower" else text
    )


def _any(parts) -> Q:
    result = Q(pk__in=[])
    for part in parts:
        result |= part
    return result


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _date_q(path: str, op: str, value: Any, *, now: dt.datetime) -> Q:
    if op == "within_days":
        return Q(**{f"{path}__gte": now - dt.timedelta(days=whole_days(value))})
    if op == "older_than_days":
        return Q(**{f"{path}__lt": now - dt.timedelta(days=whole_days(value))})
    day = date_value(value)
    if op == "before":
        return Q(**{f"{path}__lt": _start_of(day)})
    return Q(**{f"{path}__gte": _start_of(day + dt.timedelta(days=1))})


def _custom_q(path: str, op: str, value: Any) -> Q:
    text = KT(path)
    if op in NUMBER_OPS:
        number = Case(
            When(IsNumber(text), then=Cast(text, FloatField())),
            default=None,
            output_field=FloatField(),
        )
        return Q(NUMBER_LOOKUPS[op](number, number_value(value)))
    wanted = str(value).strip()
    if op == "before":
        return Q(LessThan(text, wanted))
    if op == "after":
        return Q(GreaterThanOrEqual(text, (date_value(wanted) + dt.timedelta(days=1)).isoformat()))
    if op == "contains":
        return Q(**{f"{path}__icontains": wanted})
    # equals: texts case-insensitively (numbers compare as their text); yes/no as JSON booleans
    q = Q(_exact_lower(text, wanted.lower()))
    if wanted.lower() in ("true", "yes", "false", "no"):
        q |= Q(**{path: wanted.lower() in ("true", "yes")})
    return q


def _exact_lower(expression, text: str):
    return Exact(Lower(expression), text)


def score_q(field: str, op: str, value: float, *, now: dt.datetime) -> Q:
    """A comparison of one of the contact's scores. A contact never scored counts as fit 0 and
    engagement 0; its predicted chance is unknown, so it matches no predictive condition."""
    expression = score_expression(field, at=now)
    threshold = value / 100 if field == "score.predictive" else value
    scored = ContactScore.objects.filter(contact_id=OuterRef("pk")).filter(
        NUMBER_LOOKUPS[op](expression, threshold)
    )
    q = Q(Exists(scored))
    if field != "score.predictive" and ZERO_TESTS[op](0, threshold):
        q |= ~Exists(ContactScore.objects.filter(contact_id=OuterRef("pk")))
    return q


def consent_q(*, purpose_key: str) -> Q:
    """The contact's latest answer for the purpose (any email-marketing purpose when
    ``purpose_key`` is empty) is a grant that is not waiting for its confirmation: consent's
    own rule (:func:`leadmill.consent.selectors.marketing_grant_q`), not a copy of it."""
    return marketing_grant_q(purpose_key=purpose_key)


def event_q(condition: dict, *, now: dt.datetime) -> Q:
    """The contact did the event (not as a bot) at least N times, in the period if one is given."""
    events = Event.objects.filter(type=condition["event_type"], is_bot=False)
    if (condition.get("name_contains") or "").strip():
        events = events.filter(name__icontains=condition["name_contains"].strip())
    if (condition.get("url_contains") or "").strip():
        events = events.filter(url__icontains=condition["url_contains"].strip())
    if condition.get("within_days") not in (None, ""):
        events = events.filter(
            occurred_at__gte=now - dt.timedelta(days=whole_days(condition["within_days"]))
        )
    at_least = whole_days(condition.get("at_least", 1))
    if at_least == 1:
        return Q(Exists(events.filter(contact_id=OuterRef("pk"))))
    often = (
        events.filter(contact_id__isnull=False)
        .order_by()
        .values("contact_id")
        .annotate(times=Count("id"))
        .filter(times__gte=at_least)
        .values("contact_id")
    )
    return Q(pk__in=often)
