"""Segments: who is in one, how many, who just entered — always as one SQL query.

A dynamic segment's ``definition`` is a group::

    {"match": "all" | "any", "conditions": [condition or group, ...]}

whose conditions are described in :mod:`.segment_conditions` (contact, company and custom
fields, scores, consent, events, other segments; each may carry ``"negate": true``). A
group nested as a condition gives "A and (B or C)". An empty group matches nobody, so a
half-written segment never means "every lead". A static segment is its
:class:`~.models.SegmentMember` rows.

Segments referring to segments are inlined (their conditions join the same ``WHERE``); a
cycle raises :class:`SegmentDefinitionError` naming the segment that closes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _g

from leadmill.contacts.models import Contact
from leadmill.core.errors import ValidationFailed
from leadmill.scoring.rules import reference_param

from .models import Segment, SegmentEntry, SegmentMember
from .segment_conditions import condition_q
from .segment_fields import condition_errors, field_of, number_value

MAX_DEPTH = 10
CHUNK = 5000


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


# --- Reads ---------------------------------------------------------------------------------------


def segment_contacts(*, segment: Segment, now: dt.datetime | None = None) -> QuerySet[Contact]:
    """The contacts in the segment now, as one lazy queryset (no rows are materialised).

    Raises :class:`SegmentDefinitionError` when a dynamic segment's filters are invalid.
    """
    if segment.kind == Segment.Kind.STATIC:
        return Contact.objects.filter(
            Exists(SegmentMember.objects.filter(segment_id=segment.pk, contact_id=OuterRef("pk")))
        )
    return Contact.objects.filter(definition_q(segment.definition, now=now, segment_id=segment.pk))


def segment_count(*, segment: Segment, now: dt.datetime | None = None) -> int:
    """How many contacts are in the segment now (one ``COUNT``)."""
    return segment_contacts(segment=segment, now=now).order_by().count()


def definition_count(*, definition: dict, segment_id: int | None = None) -> int:
    """How many contacts a draft definition selects (the editor's live size)."""
    return (
        Contact.objects.filter(definition_q(definition, segment_id=segment_id)).order_by().count()
    )


def segment_contains(*, segment: Segment, contact_id: int, now: dt.datetime | None = None) -> bool:
    """Whether one contact is in the segment now."""
    return segment_contacts(segment=segment, now=now).filter(pk=contact_id).exists()


# --- Writes --------------------------------------------------------------------------------------


def segment_entries_detect(
    *, segment: Segment, contact_ids: Collection[int] | None = None, now: dt.datetime | None = None
) -> list[int]:
    """Bring the segment's :class:`SegmentEntry` rows in line with its members, set-based.

    Inserts a row (``entered_at=now``) for each member without one and returns their contact
    ids (who just entered); deletes the rows of contacts no longer in it, so entering again
    is noticed again. ``contact_ids`` limits both to those contacts (after an event about
    them); None sweeps the whole segment. Safe to run concurrently: a row another run
    inserted first is skipped, not returned twice.
    """
    now = now or timezone.now()
    members = segment_contacts(segment=segment, now=now).order_by()
    if contact_ids is None:
        with transaction.atomic():
            return _entries_sync(
                segment, members, SegmentEntry.objects.filter(segment=segment), now
            )
    ids = sorted(set(contact_ids))
    entered: list[int] = []
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            entered += _entries_sync(
                segment,
                members.filter(pk__in=chunk),
                SegmentEntry.objects.filter(segment=segment, contact_id__in=chunk),
                now,
            )
    return entered


def _entries_sync(
    segment: Segment, members: QuerySet, entries: QuerySet, now: dt.datetime
) -> list[int]:
    table = connection.ops.quote_name(SegmentEntry._meta.db_table)
    leavers_sql, leavers_params = (
        entries.filter(~Exists(members.filter(pk=OuterRef("contact_id"))))
        .values("pk")
        .query.sql_with_params()
    )
    members_sql, members_params = (
        members.annotate(member_id=F("pk")).values("member_id").query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({leavers_sql})", leavers_params)  # noqa: S608 -- compiled SQL only
        cursor.execute(
            f"INSERT INTO {table} (segment_id, contact_id, entered_at) "  # noqa: S608 -- compiled SQL and placeholders only
            f"SELECT %s, m.member_id, %s FROM ({members_sql}) m WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} e WHERE e.segment_id = %s AND e.contact_id = m.member_id) "
            f"ON CONFLICT DO NOTHING RETURNING contact_id",
            [segment.pk, reference_param(now), *members_params, segment.pk],
        )
        return sorted(row[0] for row in cursor.fetchall())


def segment_members_add(*, segment: Segment, contact_ids: Iterable[int]) -> int:
    """Put contacts on a static list; those already on it are skipped. Returns how many were added."""
    if segment.kind != Segment.Kind.STATIC:
        raise ValidationFailed(
            _g("Only a static list has members to add; a dynamic segment follows its filters.")
        )
    ids = set(contact_ids)
    present = set(
        SegmentMember.objects.filter(segment=segment, contact_id__in=ids).values_list(
            "contact_id", flat=True
        )
    )
    rows = [SegmentMember(segment=segment, contact_id=pk) for pk in sorted(ids - present)]
    SegmentMember.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def segment_members_remove(*, segment: Segment, contact_ids: Iterable[int]) -> int:
    """Take contacts off a static list. Returns how many were removed."""
    removed, _by_model = SegmentMember.objects.filter(
        segment=segment, contact_id__in=list(contact_ids)
    ).delete()
    return removed
