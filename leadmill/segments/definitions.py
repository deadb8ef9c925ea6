"""A dynamic segment's filters: checking them (messages a marketer can act on) and compiling
them into one ``Q`` on Contact.

A definition is a group::

    {"match": "all" | "any", "conditions": [condition or group, ...]}

whose conditions are described in :mod:`.fields` (contact, company and custom fields,
scores, consent, events, other segments; each may carry ``"negate": true``) and turned into
SQL by :mod:`.conditions`. A group nested as a condition gives "A and (B or C)". An empty
group matches nobody, so a half-written segment never means "every lead". A static segment
is its :class:`~.models.SegmentMember` rows.

Segments referring to segments are inlined (their conditions join the same ``WHERE``); a
cycle raises :class:`SegmentDefinitionError` naming the segment that closes it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _g

from leadmill.contacts.models import Contact
from leadmill.core.errors import ValidationFailed

from .conditions import condition_q
from .fields import condition_errors, field_of, number_value
from .models import Segment, SegmentMember

MAX_DEPTH = 10


class SegmentDefinitionError(ValidationFailed):
    """A segment's filters cannot be evaluated; ``messages`` says why, for the marketer."""

    code = "invalid_segment"

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages), field_errors={"definition": messages})
        self.messages = messages


# --- Validation ----------------------------------------------------------------------------------


def definition_errors(definition: Any, *, segment_id: int | None = None) -> list[str]:
    """Everything wrong with a dynamic segment's definition, as sentences a marketer can act
    on (translated); empty when it can be evaluated. ``segment_id`` (the segment being
    edited) also catches a reference back to itself, directly or through other segments."""
    errors = _group_errors(definition, prefix="", top=True)
    if errors:
        return errors
    try:
        _compile(definition, now=timezone.now(), stack=(segment_id,) if segment_id else ())
    except SegmentDefinitionError as exc:
        return exc.messages
    return []


def _group_errors(group: Any, *, prefix: str, top: bool = False) -> list[str]:
    if not isinstance(group, dict) or not isinstance(group.get("conditions", []), list):
        return [_g("The filters are not in the expected form.")]
    if group.get("match", "all") not in ("all", "any"):
        return [_g("Choose whether leads must match all the conditions or any of them.")]
    conditions = group.get("conditions") or []
    if not conditions:
        return (
            [_g("Add at least one condition.")]
            if top
            else [_g("Group %(position)s is empty.") % {"position": prefix.rstrip(".")}]
        )
    errors = []
    for index, condition in enumerate(conditions, start=1):
        position = f"{prefix}{index}"
        if isinstance(condition, dict) and "conditions" in condition:
            errors += _group_errors(condition, prefix=f"{position}.")
        else:
            errors += condition_errors(condition, position)
    return errors


# --- Compiling -----------------------------------------------------------------------------------


def _compile(group: dict, *, now: dt.datetime, stack: tuple[int, ...]) -> Q:
    parts = []
    for condition in group.get("conditions") or []:
        if "conditions" in condition:
            parts.append(_compile(condition, now=now, stack=stack))
            continue
        field = field_of(condition["field"])
        if field.kind == "segment":
            q = _segment_q(int(number_value(condition["value"])), now=now, stack=stack)
            if (field.key == "not_in_segment") != bool(condition.get("negate")):
                # NOT EXISTS, not NOT (…): a lead the other segment's conditions cannot
                # decide (a custom field it lacks) is not in it, so it belongs here
                q = ~Q(Exists(Contact.objects.filter(q).filter(pk=OuterRef("pk"))))
        else:
            q = condition_q(condition, now=now)
        parts.append(q)
    if not parts:
        return Q(pk__in=[])
    result = parts[0]
    for part in parts[1:]:
        result = (result | part) if group.get("match") == "any" else (result & part)
    return result


def _segment_q(segment_id: int, *, now: dt.datetime, stack: tuple[int, ...]) -> Q:
    """Membership of another segment, inlined: a static list is an ``EXISTS``; a dynamic
    segment's conditions join this ``WHERE`` as they are."""
    other = Segment.objects.filter(pk=segment_id).first()
    if other is None:
        raise SegmentDefinitionError([_g("A condition refers to a segment that no longer exists.")])
    if segment_id in stack:
        message = _g(
            "“%(name)s” refers back to itself through its segment conditions; remove one of them."
        )
        raise SegmentDefinitionError([message % {"name": other.name}])
    if len(stack) >= MAX_DEPTH:
        message = _g(
            "Segments refer to other segments more than %(depth)s levels deep; simplify “%(name)s”."
        )
        raise SegmentDefinitionError([message % {"depth": MAX_DEPTH, "name": other.name}])
    if other.kind == Segment.Kind.STATIC:
        return Q(
            Exists(SegmentMember.objects.filter(segment_id=segment_id, contact_id=OuterRef("pk")))
        )
    errors = _group_errors(other.definition, prefix="", top=True)
    if errors:
        raise SegmentDefinitionError(
            [_g("The segment “%(name)s” has invalid filters.") % {"name": other.name}, *errors]
        )
    return _compile(other.definition, now=now, stack=(*stack, segment_id))


def definition_q(
    definition: dict, *, now: dt.datetime | None = None, segment_id: int | None = None
) -> Q:
    """A dynamic definition as one ``Q`` on Contact; raises :class:`SegmentDefinitionError`."""
    errors = _group_errors(definition, prefix="", top=True)
    if errors:
        raise SegmentDefinitionError(errors)
    return _compile(
        definition, now=now or timezone.now(), stack=(segment_id,) if segment_id else ()
    )
