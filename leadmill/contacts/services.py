"""Writes on contacts. Each public function is one transaction and publishes its events."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.core import events, personal_data
from leadmill.core.db import instances_insert
from leadmill.core.errors import NotFound, ValidationFailed

from .countries import country_code
from .events import (
    ContactCreated,
    ContactsMerged,
    ContactUpdated,
    OutcomeRecorded,
    PossibleDuplicateFound,
    StageChanged,
    TemperatureChanged,
)
from .identity import email_domain, email_normalise, is_free_mail, phone_normalise
from .models import (
    Company,
    Contact,
    ContactMerge,
    LifecycleStage,
    PossibleDuplicate,
    StageChange,
)

logger = logging.getLogger(__name__)

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "role",
    "company_size",
    "segment",
    "country",
    "time_zone",
    "language",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Touch:
    """Where a contact came from on one visit, in the one source vocabulary: ``channel``,
    ``source``, ``medium`` and ``campaign`` as tracking classifies them (the caller
    classifies: contacts sits below tracking), the raw ``utm_*`` values as they were sent,
    the referrer and the landing page."""

    channel: str = ""
    source: str = ""
    medium: str = ""
    campaign: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    referrer: str = ""
    landing_url: str = ""
    occurred_at: dt.datetime | None = None

    @property
    def is_empty(self) -> bool:
        return not (
            self.channel
            or self.source
            or self.medium
            or self.campaign
            or self.utm_source
            or self.utm_medium
            or self.utm_campaign
            or self.referrer
            or self.landing_url
        )

    def columns(self, prefix: str) -> dict[str, str]:
        """The contact's columns of this touch, ``first_…`` or ``last_…``, cut to fit."""
        return {
            f"{prefix}_channel": self.channel[:20],
            f"{prefix}_source": self.source[:100],
            f"{prefix}_medium": self.medium[:100],
            f"{prefix}_campaign": self.campaign[:200],
            f"{prefix}_utm_source": self.utm_source[:100],
            f"{prefix}_utm_medium": self.utm_medium[:100],
            f"{prefix}_utm_campaign": self.utm_campaign[:200],
            f"{prefix}_referrer": self.referrer[:500],
            f"{prefix}_landing_url": self.landing_url[:500],
        }


@dataclasses.dataclass(frozen=True)
class UpsertResult:
    contact: Contact
    created: bool
    possible_duplicate_of: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContactDetails:
    """What one lead says about a person, for :func:`contacts_upsert`: the arguments of
    :func:`contact_upsert`."""

    email: str = ""
    phone: str = ""
    profile: Mapping[str, str] | None = None
    custom: Mapping[str, Any] | None = None
    touch: Touch | None = None
    cause: str


def contact_upsert(
    *,
    email: str = "",
    phone: str = "",
    profile: Mapping[str, str] | None = None,
    custom: Mapping[str, Any] | None = None,
    touch: Touch | None = None,
    cause: str,
) -> UpsertResult:
    """Find the person by email, then by phone, and create or update their contact.

    Non-empty profile values overwrite the stored ones (the latest answer wins); custom
    values are merged key by key. When the email and the phone point to two different
    contacts nothing is merged: the contact found by email is updated and the pair is
    flagged as a possible duplicate for a person to review.

    Raises ValidationFailed when the email or phone is malformed, or both are missing.
    :func:`contacts_upsert` with a list of one.
    """
    details = ContactDetails(
        email=email, phone=phone, profile=profile, custom=custom, touch=touch, cause=cause
    )
    (result,) = contacts_upsert(details=[details])
    if isinstance(result, ValidationFailed):
        raise result
    return result


# How often contacts_upsert starts again when a contact it creates was created meanwhile by
# another transaction (the unique email): each time it finds the winner and updates it.
_UPSERT_ATTEMPTS = 3


def contacts_upsert(*, details: list[ContactDetails]) -> list[UpsertResult | ValidationFailed]:
    """:func:`contact_upsert` for many leads at once (a processing batch), in one transaction
    and in order, with one statement per table instead of one per lead: one read locks the
    contacts their emails and phones name (in id order, so two batches never deadlock),
    one INSERT creates the new contacts with their details, one their stage history, one
    the ContactCreated / ContactUpdated facts; the companies of their business emails are
    read at once. An existing contact that changed is saved on its own (an UPDATE each).

    Leads are applied in order as :func:`contact_upsert` would one after the other: a second
    lead with the email of a first one updates the contact the first created. Returns, in
    the order of ``details``, each lead's :class:`UpsertResult`, or the ValidationFailed
    that :func:`contact_upsert` would raise for it (nothing is written for that lead).
    """
    results: list[UpsertResult | ValidationFailed | None] = [None] * len(details)
    identities: dict[int, tuple[str, str]] = {}
    for index, item in enumerate(details):
        try:
            identities[index] = _identity_normalise(item.email, item.phone)
        except ValidationFailed as exc:
            results[index] = exc
    if not identities:
        return results  # type: ignore[return-value]
    for attempt in range(1, _UPSERT_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                written = _contacts_upsert_locked(details, identities)
        except IntegrityError:
            # A contact this batch creates was created meanwhile (its email is unique):
            # start again, and find it this time.
            if attempt == _UPSERT_ATTEMPTS:
                raise
            continue
        for index, result in written.items():
            results[index] = result
        return results  # type: ignore[return-value]
    raise AssertionError("unreachable")


def _identity_normalise(email: str, phone: str) -> tuple[str, str]:
    email = email_normalise(email) if (email or "").strip() else ""
    phone = phone_normalise(phone) if (phone or "").strip() else ""
    if not email and not phone:
        raise ValidationFailed(
            _("Enter an email address or a phone number."), code="identity_missing"
        )
    return email, phone


def _contacts_upsert_locked(
    details: list[ContactDetails], identities: dict[int, tuple[str, str]]
) -> dict[int, UpsertResult]:
    """The body of :func:`contacts_upsert`, in its transaction (a savepoint when nested)."""
    now = timezone.now()
    emails = sorted({email for email, _phone in identities.values() if email})
    phones = sorted({phone for _email, phone in identities.values() if phone})
    by_email: dict[str, Contact] = {}
    by_phone: dict[str, list[Contact]] = {}
    for found in (
        Contact.objects.select_for_update()
        .filter(Q(email__in=emails) | Q(phone__in=phones))
        .order_by("pk")
    ):
        if found.email:
            by_email[found.email] = found
        if found.phone:
            by_phone.setdefault(found.phone, []).append(found)
    companies = _Companies(
        domains={email_domain(email) for email in emails if not is_free_mail(email)}
    )
    created: list[Contact] = []
    changed_existing: dict[int, Contact] = {}  # by id(contact): saved once, at the end
    outcomes: dict[int, tuple[Contact, bool, set[str], Contact | None]] = {}
    for index in sorted(identities):
        email, phone = identities[index]
        item = details[index]
        contact = by_email.get(email) if email else None
        same_phone = by_phone.get(phone, []) if phone else []
        first_by_phone = same_phone[0] if same_phone else None
        duplicate_of: Contact | None = None
        if contact is None and first_by_phone is not None:
            if not email or not first_by_phone.email:
                contact = first_by_phone
            else:
                duplicate_of = first_by_phone  # same phone, another email: maybe one person
        elif contact is not None and first_by_phone is not None and first_by_phone is not contact:
            duplicate_of = first_by_phone
        is_new = contact is None
        if is_new:
            contact = Contact(email=email or None, phone=phone, stage_changed_at=now)
            created.append(contact)
        changed = _apply_details(
            contact,
            email=email,
            phone=phone,
            profile=item.profile or {},
            custom=item.custom or {},
            touch=item.touch,
            now=now,
            company_of=companies.get,
        )
        if contact.email:
            by_email[contact.email] = contact
        if contact.phone and contact not in by_phone.get(contact.phone, []):
            by_phone.setdefault(contact.phone, []).append(contact)
        if changed and contact.pk is not None:
            changed_existing[id(contact)] = contact
        outcomes[index] = (contact, is_new, changed, duplicate_of)
    if created:
        # In email order: two batches inserting the same new emails at once (two drains)
        # wait on each other in one order, never in a cycle.
        instances_insert(sorted(created, key=lambda c: (c.email is None, c.email or "")))
        instances_insert(
            [
                StageChange(
                    contact=contact,
                    from_stage="",
                    to_stage=LifecycleStage.LEAD,
                    changed_at=now,
                    cause=details[index].cause,
                )
                for index, (contact, is_new, _changed, _dup) in outcomes.items()
                if is_new
            ]
        )
    for contact in changed_existing.values():
        contact.save()
    facts: list[Any] = []
    for contact, is_new, changed, _dup in outcomes.values():
        if is_new:
            facts.append(ContactCreated(contact_id=contact.pk, occurred_at=now))
        elif changed:
            facts.append(
                ContactUpdated(
                    contact_id=contact.pk, fields=tuple(sorted(changed)), occurred_at=now
                )
            )
    events.publish_many(facts)
    for contact, _is_new, _changed, duplicate_of in outcomes.values():
        if duplicate_of is not None:
            possible_duplicate_flag(
                contact=contact, other=duplicate_of, reason="same phone, different email"
            )
    return {
        index: UpsertResult(
            contact=contact,
            created=is_new,
            possible_duplicate_of=duplicate_of.pk if duplicate_of else None,
        )
        for index, (contact, is_new, _changed, duplicate_of) in outcomes.items()
    }


class _Companies:
    """The companies of a batch's business email domains: read at once, a missing one
    created on first use (:func:`company_for_domain`)."""

    def __init__(self, *, domains: set[str]):
        self._by_domain = (
            {company.domain: company for company in Company.objects.filter(domain__in=domains)}
            if domains
            else {}
        )

    def get(self, domain: str, name: str) -> Company:
        if domain not in self._by_domain:
            self._by_domain[domain] = company_for_domain(domain=domain, name=name)
        return self._by_domain[domain]


def _apply_details(
    contact: Contact,
    *,
    email: str,
    phone: str,
    profile: Mapping[str, str],
    custom: Mapping[str, Any],
    touch: Touch | None,
    now: dt.datetime,
    company_of: Callable[[str, str], Company] | None = None,
) -> set[str]:
    changed: set[str] = set()
    if email and not contact.email:
        contact.email = email
        changed.add("email")
    if phone and contact.phone != phone:
        contact.phone = phone
        changed.add("phone")
    changed |= _country_apply(contact, (profile.get("country") or "").strip())
    for name in PROFILE_FIELDS:
        value = (profile.get(name) or "").strip()
        if name == "country":
            continue
        if value and getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.add(name)
    merged_custom = {**contact.custom, **{k: v for k, v in custom.items() if v not in ("", None)}}
    if merged_custom != contact.custom:
        contact.custom = merged_custom
        changed.add("custom")
    if contact.email and contact.company_id is None and not is_free_mail(contact.email):
        domain = email_domain(contact.email)
        contact.company = (
            company_of(domain, contact.company_name)
            if company_of
            else company_for_domain(domain=domain, name=contact.company_name)
        )
        changed.add("company")
    if touch is not None and not touch.is_empty:
        at = touch.occurred_at or now
        prefixes = ("first", "last") if contact.first_touch_at is None else ("last",)
        for prefix in prefixes:
            for name, value in touch.columns(prefix).items():
                setattr(contact, name, value)
            setattr(contact, f"{prefix}_touch_at", at)
        changed.add("touch")
    return changed


def _country_apply(contact: Contact, written: str) -> set[str]:
    """Set the contact's country from what the person wrote: its ISO 3166-1 code when it
    names one (:func:`.countries.country_code`), else kept as written, whole, in
    ``country_as_written`` (the code stays as it was). Returns the fields changed."""
    if not written:
        return set()
    code = country_code(written)
    wanted = (code, "") if code else (contact.country, written[:100])
    if (contact.country, contact.country_as_written) == wanted:
        return set()
    contact.country, contact.country_as_written = wanted
    return {"country"}


def _country_edited(written: str) -> dict[str, str]:
    """A person's edit of the country: its code (and no text as written), or an error."""
    written = written.strip()
    if not written:
        return {"country": ""}
    code = country_code(written)
    if code is None:
        message = _("Enter a country name or its ISO 3166 code, e.g. Brazil or BR.")
        raise ValidationFailed(message, code="country_unknown", field_errors={"country": [message]})
    return {"country": code, "country_as_written": ""}


def company_for_domain(*, domain: str, name: str = "") -> Company:
    """The company that owns a business email domain, created on first sight."""
    company = Company.objects.filter(domain=domain).first()
    if company is not None:
        return company
    try:
        with transaction.atomic():
            return Company.objects.create(domain=domain, name=name or domain)
    except IntegrityError:
        return Company.objects.get(domain=domain)


def possible_duplicate_flag(*, contact: Contact, other: Contact, reason: str) -> PossibleDuplicate:
    """Queue two contacts for review as one person; idempotent for the same pair."""
    first, second = sorted((contact, other), key=lambda c: c.pk)
    flag, created = PossibleDuplicate.objects.get_or_create(
        contact=first, other=second, defaults={"reason": reason}
    )
    if created:
        events.publish(
            PossibleDuplicateFound(
                contact_id=first.pk, other_id=second.pk, reason=reason, occurred_at=timezone.now()
            )
        )
    return flag


def contact_stage_change(
    *, contact: Contact, to_stage: str, cause: str, actor=None, at: dt.datetime | None = None
) -> StageChange | None:
    """Move a contact to ``to_stage``, keeping the change with its time and cause.

    Returns None (and writes nothing) when the contact is already at that stage.
    """
    if to_stage not in LifecycleStage.values:
        raise ValueError(f"unknown lifecycle stage {to_stage!r}")
    now = at or timezone.now()
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if locked.lifecycle_stage == to_stage:
            return None
        change = StageChange.objects.create(
            contact=locked,
            from_stage=locked.lifecycle_stage,
            to_stage=to_stage,
            changed_at=now,
            cause=cause,
            actor=actor,
        )
        Contact.objects.filter(pk=locked.pk).update(lifecycle_stage=to_stage, stage_changed_at=now)
        events.publish(
            StageChanged(
                contact_id=locked.pk,
                from_stage=change.from_stage,
                to_stage=to_stage,
                cause=cause,
                occurred_at=now,
            )
        )
    contact.lifecycle_stage, contact.stage_changed_at = to_stage, now
    return change


def contacts_stage_change(
    *, moves: Mapping[int, tuple[str, str]], at: dt.datetime | None = None
) -> list[StageChange]:
    """:func:`contact_stage_change` for many contacts at once (a processing batch's leads
    becoming MQL): ``moves`` maps a contact id to its ``(to_stage, cause)``.

    One transaction: the contacts locked in id order (two batches never deadlock), one
    UPDATE per target stage, one INSERT of the history rows, one of the StageChanged facts.
    A contact already at its target stage, or that does not exist, is left out. Returns the
    history rows written, in contact order.
    """
    for to_stage, _cause in moves.values():
        if to_stage not in LifecycleStage.values:
            raise ValueError(f"unknown lifecycle stage {to_stage!r}")
    if not moves:
        return []
    now = at or timezone.now()
    with transaction.atomic():
        current = dict(
            Contact.objects.select_for_update()
            .filter(pk__in=sorted(moves))
            .order_by("pk")
            .values_list("pk", "lifecycle_stage")
        )
        changes = [
            StageChange(
                contact_id=pk,
                from_stage=current[pk],
                to_stage=moves[pk][0],
                changed_at=now,
                cause=moves[pk][1],
            )
            for pk in sorted(current)
            if current[pk] != moves[pk][0]
        ]
        by_stage: dict[str, list[int]] = {}
        for change in changes:
            by_stage.setdefault(change.to_stage, []).append(change.contact_id)
        for to_stage, pks in by_stage.items():
            Contact.objects.filter(pk__in=pks).update(
                lifecycle_stage=to_stage, stage_changed_at=now
            )
        StageChange.objects.bulk_create(changes)
        events.publish_many(
            [
                StageChanged(
                    contact_id=change.contact_id,
                    from_stage=change.from_stage,
                    to_stage=change.to_stage,
                    cause=change.cause,
                    occurred_at=now,
                )
                for change in changes
            ]
        )
    return changes


# --- Back-office edits ---------------------------------------------------------------------


def contact_update(*, contact: Contact, changes: Mapping[str, Any], actor=None) -> set[str]:
    """Write a person's edits of a contact's fields; publish ContactUpdated when any changed.

    Email and phone go through the one normalisation (:mod:`.identity`); an empty email is
    stored as no email. The lifecycle stage is not editable here (it has a history: use
    :func:`contact_stage_change`). Returns the names of the fields that changed.

    A country is stored as its ISO 3166-1 code whatever way it is written (a name in
    English or Portuguese, or a code); the country as the lead wrote it is then cleared.

    The owner is not editable here either: who owns a lead is sales' decision and fact
    (``leadmill.sales.services.lead_owner_set`` publishes OwnerAssigned; it writes the
    contact's owner with :func:`contact_owner_set`).

    Raises ValidationFailed for a malformed email or phone, an email another contact has,
    or a country that names no country.
    """
    if "lifecycle_stage" in changes or "stage_changed_at" in changes:
        raise ValueError("change the lifecycle stage with contact_stage_change")
    if "owner" in changes or "owner_id" in changes:
        raise ValueError("change the owner with leadmill.sales.services.lead_owner_set")
    values = dict(changes)
    if "email" in values:
        raw = (values["email"] or "").strip()
        values["email"] = email_normalise(raw) if raw else None
    if "phone" in values:
        values["phone"] = phone_normalise(values["phone"] or "")
    if "country" in values:
        values.update(_country_edited(values["country"] or ""))
    return _contact_write(contact=contact, values=values, actor=actor)


def contact_owner_set(*, contact: Contact, owner, actor=None) -> bool:
    """Write the contact's owner (a user, or None); publish ContactUpdated when it changed.

    For the sales app's assignment services only (``lead_assign``, ``lead_owner_set``):
    they keep the sales lead's owner beside it and publish OwnerAssigned. Returns whether
    the owner changed.
    """
    return bool(_contact_write(contact=contact, values={"owner": owner}, actor=actor))


def contacts_owner_set(*, owners: Mapping[int, int | None]) -> set[int]:
    """:func:`contact_owner_set` for many contacts at once (an assignment batch):
    ``owners`` maps a contact id to its owner's user id (or None).

    One transaction: the contacts locked in id order, one UPDATE per owner, one INSERT of
    the ContactUpdated facts (``fields=("owner",)``) of those whose owner changed. A
    contact that does not exist is left out. Returns the ids whose owner changed.
    """
    if not owners:
        return set()
    now = timezone.now()
    with transaction.atomic():
        current = dict(
            Contact.objects.select_for_update()
            .filter(pk__in=sorted(owners))
            .order_by("pk")
            .values_list("pk", "owner_id")
        )
        changed = sorted(pk for pk, owner_id in current.items() if owners[pk] != owner_id)
        by_owner: dict[int | None, list[int]] = {}
        for pk in changed:
            by_owner.setdefault(owners[pk], []).append(pk)
        for owner_id, pks in by_owner.items():
            Contact.objects.filter(pk__in=pks).update(owner_id=owner_id, updated_at=now)
        events.publish_many(
            [ContactUpdated(contact_id=pk, fields=("owner",), occurred_at=now) for pk in changed]
        )
    if changed:
        logger.info("owner set on %s contacts: %s…", len(changed), changed[:10])
    return set(changed)


def _contact_write(*, contact: Contact, values: Mapping[str, Any], actor) -> set[str]:
    now = timezone.now()
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        changed = {name for name, value in values.items() if getattr(locked, name) != value}
        if not changed:
            return set()
        email = values.get("email")
        if (
            "email" in changed
            and email
            and Contact.objects.filter(email=email).exclude(pk=locked.pk).exists()
        ):
            raise ValidationFailed(
                _("Another lead already has this email address. Merge the two leads instead."),
                code="email_taken",
                field_errors={"email": [_("Another lead already has this email address.")]},
            )
        before = {"temperature": locked.temperature}
        for name in changed:
            setattr(locked, name, values[name])
        locked.save(update_fields=[*sorted(changed), "updated_at"])
        events.publish(
            ContactUpdated(contact_id=locked.pk, fields=tuple(sorted(changed)), occurred_at=now)
        )
        _facts_of_update_publish(
            contact=locked, changed=changed, before=before, actor=actor, now=now
        )
    for name in changed:
        setattr(contact, name, values[name])
    logger.info(
        "contact %s updated by user %s: %s", contact.pk, getattr(actor, "pk", None), sorted(changed)
    )
    return changed


def _facts_of_update_publish(
    *, contact: Contact, changed: set[str], before: dict[str, Any], actor, now: dt.datetime
) -> None:
    """The facts an edit can carry besides ContactUpdated: a temperature set by hand (or by a
    sequence step), an outcome recorded."""
    if "temperature" in changed:
        events.publish(
            TemperatureChanged(
                contact_id=contact.pk,
                from_temperature=before["temperature"],
                to_temperature=contact.temperature,
                cause=(
                    _("set by %(user)s") % {"user": actor.get_username()}
                    if actor is not None
                    else _("set by a sequence step or an import")
                )[:200],
                occurred_at=now,
            )
        )
    if changed & {"outcome", "outcome_value", "outcome_at"} and contact.outcome:
        _outcome_recorded_publish(contact=contact, now=now)


def _outcome_recorded_publish(*, contact: Contact, now: dt.datetime) -> None:
    value = contact.outcome_value
    events.publish(
        OutcomeRecorded(
            contact_id=contact.pk,
            outcome=contact.outcome,
            value=None if value is None else str(value),
            outcome_at=contact.outcome_at,
            reason=contact.outcome_reason or "",
            occurred_at=now,
        )
    )


# --- Duplicates: merge and dismiss ---------------------------------------------------------

# Fields the merge decides by a rule of its own rather than "fill the survivor's blanks".
_TOUCH_FIRST = (
    "first_channel",
    "first_source",
    "first_medium",
    "first_campaign",
    "first_utm_source",
    "first_utm_medium",
    "first_utm_campaign",
    "first_referrer",
    "first_landing_url",
    "first_touch_at",
)
_TOUCH_LAST = (
    "last_channel",
    "last_source",
    "last_medium",
    "last_campaign",
    "last_utm_source",
    "last_utm_medium",
    "last_utm_campaign",
    "last_referrer",
    "last_landing_url",
    "last_touch_at",
)
_OUTCOME = ("outcome", "outcome_value", "outcome_at", "outcome_reason")
_MERGE_OWN_RULES = frozenset(
    {
        "email",
        "custom",
        "created_at",
        "updated_at",
        "lifecycle_stage",
        "stage_changed_at",
        "temperature",
        *_TOUCH_FIRST,
        *_TOUCH_LAST,
        *_OUTCOME,
    }
)


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def _contact_snapshot(contact: Contact) -> dict[str, Any]:
    """Every stored field of a contact as JSON-safe values (dates as ISO text)."""
    data = {
        field.attname: field.value_from_object(contact) for field in Contact._meta.concrete_fields
    }
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def contact_merge(*, survivor: Contact, other: Contact, actor=None) -> Contact:
    """Merge ``other`` into ``survivor``: one person, one contact, no history lost.

    In one transaction:

    * every row the apps declared in the personal-data registry
      (:mod:`leadmill.core.personal_data`) as pointing at ``other`` — submissions,
      consents, stage changes, events, enrolments … — moves to ``survivor`` as declared: a
      row under a unique constraint whose twin the survivor already has is deleted (the
      survivor's wins), the pair's possible-duplicate rows are resolved as merged;
    * the survivor keeps its own values and fills only its blank fields from ``other``; it
      keeps its email, or takes ``other``'s when it has none; custom fields are merged with
      the survivor's values winning; the earliest first touch and the latest last touch
      are kept; the survivor keeps its lifecycle stage, and both stage histories are kept;
    * a :class:`ContactMerge` row keeps ``other``'s data as it was, ``other`` is deleted and
      ContactsMerged is published (scoring rescores the survivor on it); when the survivor
      had no outcome and takes ``other``'s, OutcomeRecorded is published for the survivor
      (the outcome is the survivor's fact from now on).

    Returns the survivor as stored after the merge (``survivor`` is refreshed too).
    Raises ValidationFailed when asked to merge a contact with itself, NotFound when either
    contact no longer exists.
    """
    if survivor.pk == other.pk:
        raise ValidationFailed(_("A lead cannot be merged with itself."), code="merge_self")
    now = timezone.now()
    with transaction.atomic():
        locked = {
            c.pk: c
            for c in Contact.objects.select_for_update()
            .filter(pk__in=[survivor.pk, other.pk])
            .order_by("pk")
        }
        if len(locked) != 2:
            raise NotFound(
                _("One of these leads no longer exists; it may have been merged already."),
                code="contact_missing",
            )
        keep, gone = locked[survivor.pk], locked[other.pk]
        snapshot = _contact_snapshot(gone)

        moved = personal_data.rows_move(keep_id=keep.pk, gone_id=gone.pk)
        if not keep.email and gone.email:
            Contact.objects.filter(pk=gone.pk).update(email=None)  # free the unique email first
            keep.email = gone.email
        outcome_taken = not keep.outcome and bool(gone.outcome)
        _fields_merge(keep=keep, gone=gone)
        keep.save()

        ContactMerge.objects.create(
            survivor=keep, merged_contact_id=gone.pk, merged_data=snapshot, actor=actor
        )
        gone_id = gone.pk
        gone.delete()
        events.publish(ContactsMerged(survivor_id=keep.pk, merged_id=gone_id, occurred_at=now))
        if outcome_taken:
            _outcome_recorded_publish(contact=keep, now=now)
    logger.info(
        "contact %s merged into %s by user %s; moved rows: %s",
        gone_id,
        keep.pk,
        getattr(actor, "pk", None),
        moved,
    )
    survivor.refresh_from_db()
    return keep


def _fields_merge(*, keep: Contact, gone: Contact) -> None:
    for field in Contact._meta.concrete_fields:
        if field.primary_key or field.name in _MERGE_OWN_RULES:
            continue
        if _is_blank(getattr(keep, field.attname)) and not _is_blank(getattr(gone, field.attname)):
            setattr(keep, field.attname, getattr(gone, field.attname))
    keep.custom = {**(gone.custom or {}), **(keep.custom or {})}
    if gone.first_touch_at and (
        keep.first_touch_at is None or gone.first_touch_at < keep.first_touch_at
    ):
        for name in _TOUCH_FIRST:
            setattr(keep, name, getattr(gone, name))
    if gone.last_touch_at and (
        keep.last_touch_at is None or gone.last_touch_at > keep.last_touch_at
    ):
        for name in _TOUCH_LAST:
            setattr(keep, name, getattr(gone, name))
    if not keep.outcome and gone.outcome:
        for name in _OUTCOME:
            setattr(keep, name, getattr(gone, name))


def possible_duplicates_merge(*, keep_id: int, gone_id: int) -> int:
    """The possible-duplicate rows' own merge rule (declared in :mod:`.personal_data`).

    The pair (survivor, merged) becomes a merged record on the survivor; a pair (merged,
    third) becomes (survivor, third) unless the survivor is already paired with that third
    contact, in either order: then it is dropped. Returns the rows changed. Runs in the
    merge's transaction.
    """
    pair = Q(contact_id=keep_id, other_id=gone_id) | Q(contact_id=gone_id, other_id=keep_id)
    PossibleDuplicate.objects.filter(pair).update(
        resolution=PossibleDuplicate.Resolution.MERGED, resolved_at=timezone.now()
    )
    changed = 0
    rows = PossibleDuplicate.objects.select_for_update().filter(
        Q(contact_id=gone_id) | Q(other_id=gone_id)
    )
    for row in rows.order_by("pk"):
        third = row.other_id if row.contact_id == gone_id else row.contact_id
        first, second = sorted((keep_id, third))
        twins = PossibleDuplicate.objects.filter(
            Q(contact_id=first, other_id=second) | Q(contact_id=second, other_id=first)
        ).exclude(pk=row.pk)
        if twins.exists():
            row.delete()
        else:
            PossibleDuplicate.objects.filter(pk=row.pk).update(contact_id=first, other_id=second)
        changed += 1
    return changed


def possible_duplicate_dismiss(*, duplicate: PossibleDuplicate, actor=None) -> PossibleDuplicate:
    """Mark two contacts as not the same person; they are not flagged again as a pair.

    Idempotent. Raises ValidationFailed when the pair was already merged, NotFound when the
    review no longer exists (a merge of one of the two may have folded it into another).
    """
    with transaction.atomic():
        row = PossibleDuplicate.objects.select_for_update().filter(pk=duplicate.pk).first()
        if row is None:
            raise NotFound(_("This duplicate review no longer exists."), code="duplicate_missing")
        if row.resolution == PossibleDuplicate.Resolution.MERGED:
            raise ValidationFailed(_("These leads were already merged."), code="duplicate_merged")
        if row.resolution != PossibleDuplicate.Resolution.DISMISSED:
            row.resolution = PossibleDuplicate.Resolution.DISMISSED
            row.resolved_at = timezone.now()
            row.save(update_fields=["resolution", "resolved_at"])
            logger.info(
                "possible duplicate %s dismissed by user %s", row.pk, getattr(actor, "pk", None)
            )
    duplicate.resolution, duplicate.resolved_at = row.resolution, row.resolved_at
    return row
