"""Reads on contacts: search, the duplicates review queue, a contact's history, the
contacts named by pasted email addresses."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from functools import reduce
from operator import and_, or_
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadmill.core import personal_data
from leadmill.core.errors import ValidationFailed

from .identity import email_normalise, phone_normalise
from .models import Contact, ContactMerge, CustomFieldDefinition, PossibleDuplicate, StageChange

SEARCH_FIELDS = ("email", "first_name", "last_name", "company_name", "phone")

_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]{7,}$")


def contact_search(*, query: str, queryset: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """Contacts matching every word of ``query`` in their email, names, company or phone.

    "ana silva" finds Ana Silva (one word in each name field); a phone typed in any local
    format ("(201) 555-0123") also finds the contact stored in E.164; an email typed with
    capitals or spaces finds the normalised address.
    """
    queryset = Contact.objects.all() if queryset is None else queryset
    query = (query or "").strip()
    if not query:
        return queryset
    words = query.split()
    match = reduce(
        and_,
        (
            reduce(or_, (Q(**{f"{name}__icontains": word}) for name in SEARCH_FIELDS))
            for word in words
        ),
    )
    if "@" in query:
        with contextlib.suppress(ValidationFailed):
            match |= Q(email=email_normalise(query))
    elif _PHONE_LIKE.match(query):
        with contextlib.suppress(ValidationFailed):
            match |= Q(phone=phone_normalise(query))
    return queryset.filter(match)


def contact_first_sources() -> list[str]:
    """The distinct first-touch sources in use, for the leads listing filter."""
    return list(
        Contact.objects.exclude(first_source="")
        .order_by("first_source")
        .values_list("first_source", flat=True)
        .distinct()
    )


def contact_stage_history(*, contact_id: int) -> QuerySet[StageChange]:
    """Every lifecycle stage change of a contact, newest first, with who made it."""
    return (
        StageChange.objects.filter(contact_id=contact_id)
        .select_related("actor")
        .order_by("-changed_at", "-id")
    )


def contact_merges(*, contact_id: int) -> QuerySet[ContactMerge]:
    """The merges this contact survived, newest first."""
    return (
        ContactMerge.objects.filter(survivor_id=contact_id)
        .select_related("actor")
        .order_by("-merged_at", "-id")
    )


@dataclasses.dataclass(frozen=True)
class CustomValue:
    key: str
    label: str
    value: Any


# Custom values Leadmill itself writes, without a definition a person made: their labels.
BUILT_IN_CUSTOM_LABELS = {
    "last_message": gettext_lazy("Last message"),  # the message of the lead's last form submission
}


def contact_custom_values(*, contact: Contact) -> list[CustomValue]:
    """The contact's custom field values labelled by their definitions (or Leadmill's own
    label for a value it writes itself), in label order; keys without a label last."""
    values = contact.custom or {}
    definitions = {d.key: d for d in CustomFieldDefinition.objects.filter(key__in=list(values))}
    labels = {
        key: str(BUILT_IN_CUSTOM_LABELS[key]) for key in values if key in BUILT_IN_CUSTOM_LABELS
    }
    labels.update({key: definition.label for key, definition in definitions.items()})
    known = [CustomValue(key, labels[key], values[key]) for key in sorted(labels, key=labels.get)]
    unknown = [CustomValue(key, key, values[key]) for key in sorted(values) if key not in labels]
    return known + unknown


def possible_duplicates_open() -> QuerySet[PossibleDuplicate]:
    """Pairs waiting for a person to merge or dismiss them, newest first."""
    return (
        PossibleDuplicate.objects.filter(resolution=PossibleDuplicate.Resolution.OPEN)
        .select_related("contact__company", "other__company")
        .order_by("-created_at", "-id")
    )


def possible_duplicates_open_for(*, contact_id: int) -> QuerySet[PossibleDuplicate]:
    """Open pairs in which this contact takes part."""
    return possible_duplicates_open().filter(Q(contact_id=contact_id) | Q(other_id=contact_id))


# The fields a person compares to decide whether two contacts are one person.
COMPARED_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "company_name",
    "role",
    "company_size",
    "segment",
    "country",
    "lifecycle_stage",
    "temperature",
    "owner",
    "first_source",
    "first_medium",
    "first_campaign",
    "first_touch_at",
    "last_source",
    "last_touch_at",
    "created_at",
)


@dataclasses.dataclass(frozen=True)
class ComparedField:
    label: str
    left: Any
    right: Any

    @property
    def differs(self) -> bool:
        return self.left != self.right


def _display(contact: Contact, name: str) -> Any:
    display = getattr(contact, f"get_{name}_display", None)
    value = display() if display else getattr(contact, name)
    return "" if value is None else value


def contact_comparison(*, left: Contact, right: Contact) -> list[ComparedField]:
    """Two contacts field by field (labels translated), for a side-by-side review."""
    rows = [
        ComparedField(
            capfirst(Contact._meta.get_field(name).verbose_name),
            _display(left, name),
            _display(right, name),
        )
        for name in COMPARED_FIELDS
    ]
    keys = sorted(set(left.custom or {}) | set(right.custom or {}))
    labels = dict(CustomFieldDefinition.objects.filter(key__in=keys).values_list("key", "label"))
    rows += [
        ComparedField(
            labels.get(key, key),
            (left.custom or {}).get(key, ""),
            (right.custom or {}).get(key, ""),
        )
        for key in keys
    ]
    return rows


def contact_related_counts(*, contact: Contact) -> list[tuple[str, int]]:
    """How many rows of each kind point at the contact (submissions, consents, …).

    The rows a merge would move, as the apps declared them in the personal-data registry,
    labelled by their model's plural name; kinds with none are left out.
    """
    counts: dict[str, int] = {}
    for declaration in personal_data.declarations():
        model = declaration.model
        if model is PossibleDuplicate or not declaration.merge_links:
            continue
        link_match = reduce(
            or_, (Q(**{link.field: contact.pk}) for link in declaration.merge_links)
        )
        count = model._base_manager.filter(link_match).count()
        if count:
            label = capfirst(model._meta.verbose_name_plural)
            counts[label] = counts.get(label, 0) + count
    return sorted(counts.items())


def contact_ids_by_email(text: str, *, limit: int = 10_000) -> tuple[list[int], list[str]]:
    """The leads whose (normalised) addresses are listed in ``text`` (one per line, or
    separated by commas), and the addresses no lead has.

    Raises ValidationFailed past ``limit`` addresses.
    """
    raw = [
        part.strip()
        for part in text.replace(",", "\n").replace(";", "\n").splitlines()
        if part.strip()
    ]
    if len(raw) > limit:
        raise ValidationFailed(
            _("Paste at most %(max)s addresses at a time.") % {"max": limit},
            code="too_many_addresses",
        )
    return contact_ids_by_emails(raw)


def contact_ids_by_emails(addresses: list[str]) -> tuple[list[int], list[str]]:
    """The leads whose (normalised) addresses are in ``addresses``, each one whole address
    (a comma or a line break inside one is not a separator), and the addresses no lead has."""
    wanted: dict[str, str] = {}
    for address in addresses:
        try:
            wanted[email_normalise(address, check_deliverability=False)] = address
        except ValidationFailed:
            wanted[address.lower()] = address
    found: dict[str, int] = {}
    keys = list(wanted)
    for start in range(0, len(keys), 1000):
        found.update(
            Contact.objects.filter(email__in=keys[start : start + 1000]).values_list("email", "pk")
        )
    return list(found.values()), [
        original for email, original in wanted.items() if email not in found
    ]
