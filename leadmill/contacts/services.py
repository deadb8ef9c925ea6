"""Writes on contacts. Each public function is one transaction and publishes its events."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from leadmill.core import events

from .events import ContactCreated, ContactUpdated, PossibleDuplicateFound, StageChanged
from .identity import email_domain, email_normalise, is_free_mail, phone_normalise
from .models import Company, Contact, LifecycleStage, PossibleDuplicate, StageChange

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
    """Where a contact came from on one visit: UTM fields, referrer and landing page."""

    source: str = ""
    medium: str = ""
    campaign: str = ""
    referrer: str = ""
    landing_url: str = ""
    occurred_at: dt.datetime | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.source or self.medium or self.campaign or self.referrer or self.landing_url)


@dataclasses.dataclass(frozen=True)
class UpsertResult:
    contact: Contact
    created: bool
    possible_duplicate_of: int | None = None


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
    """
    email = email_normalise(email) if (email or "").strip() else ""
    phone = phone_normalise(phone) if (phone or "").strip() else ""
    if not email and not phone:
        from django.utils.translation import gettext as _

        from leadmill.core.errors import ValidationFailed

        raise ValidationFailed(_("Enter an email address or a phone number."), code="identity_missing")
    now = timezone.now()
    with transaction.atomic():
        by_email = Contact.objects.select_for_update().filter(email=email).first() if email else None
        by_phone = (
            Contact.objects.select_for_update().filter(phone=phone).order_by("pk").first()
            if phone
            else None
        )
        duplicate_of: Contact | None = None
        contact = by_email
        if contact is None and by_phone is not None:
            if not email or not by_phone.email:
                contact = by_phone
            else:
                duplicate_of = by_phone  # same phone, another email: maybe one person
        elif contact is not None and by_phone is not None and by_phone.pk != contact.pk:
            duplicate_of = by_phone

        created = contact is None
        if created:
            contact = _contact_create(email=email, phone=phone, now=now, cause=cause)
            if contact.pk is None:  # lost a race on the unique email: update the winner
                created = False
                contact = Contact.objects.select_for_update().get(email=email)
        changed = _apply_details(
            contact, email=email, phone=phone, profile=profile or {}, custom=custom or {}, touch=touch, now=now
        )
        if created or changed:
            contact.save()
        if created:
            StageChange.objects.create(
                contact=contact, from_stage="", to_stage=LifecycleStage.LEAD, changed_at=now, cause=cause
            )
            events.publish(ContactCreated(contact_id=contact.pk, occurred_at=now))
        elif changed:
            events.publish(ContactUpdated(contact_id=contact.pk, fields=tuple(sorted(changed)), occurred_at=now))
        if duplicate_of is not None:
            possible_duplicate_flag(contact=contact, other=duplicate_of, reason="same phone, different email")
    return UpsertResult(contact=contact, created=created, possible_duplicate_of=duplicate_of.pk if duplicate_of else None)


def _contact_create(*, email: str, phone: str, now: dt.datetime, cause: str) -> Contact:
    contact = Contact(email=email or None, phone=phone, stage_changed_at=now)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        contact.pk = None
    return contact


def _apply_details(
    contact: Contact,
    *,
    email: str,
    phone: str,
    profile: Mapping[str, str],
    custom: Mapping[str, Any],
    touch: Touch | None,
    now: dt.datetime,
) -> set[str]:
    changed: set[str] = set()
    if email and not contact.email:
        contact.email = email
        changed.add("email")
    if phone and contact.phone != phone:
        contact.phone = phone
        changed.add("phone")
    for name in PROFILE_FIELDS:
        value = (profile.get(name) or "").strip()
        if name == "country":
            value = value.upper()[:2]
        if value and getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.add(name)
    merged_custom = {**contact.custom, **{k: v for k, v in custom.items() if v not in ("", None)}}
    if merged_custom != contact.custom:
        contact.custom = merged_custom
        changed.add("custom")
    if contact.email and contact.company_id is None and not is_free_mail(contact.email):
        contact.company = company_for_domain(
            domain=email_domain(contact.email), name=contact.company_name
        )
        changed.add("company")
    if touch is not None and not touch.is_empty:
        at = touch.occurred_at or now
        if contact.first_touch_at is None:
            contact.first_source, contact.first_medium = touch.source, touch.medium
            contact.first_campaign, contact.first_referrer = touch.campaign, touch.referrer[:500]
            contact.first_landing_url, contact.first_touch_at = touch.landing_url[:500], at
        contact.last_source, contact.last_medium = touch.source, touch.medium
        contact.last_campaign, contact.last_referrer = touch.campaign, touch.referrer[:500]
        contact.last_landing_url, contact.last_touch_at = touch.landing_url[:500], at
        changed.add("touch")
    return changed


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
            contact=locked, from_stage=locked.lifecycle_stage, to_stage=to_stage,
            changed_at=now, cause=cause, actor=actor,
        )
        Contact.objects.filter(pk=locked.pk).update(lifecycle_stage=to_stage, stage_changed_at=now)
        events.publish(
            StageChanged(
                contact_id=locked.pk, from_stage=change.from_stage, to_stage=to_stage,
                cause=cause, occurred_at=now,
            )
        )
    contact.lifecycle_stage, contact.stage_changed_at = to_stage, now
    return change
