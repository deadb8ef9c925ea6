"""Factories for consent tests (and for other apps' tests that need a subscribed lead)."""

from __future__ import annotations

import datetime as dt

import factory

from leadmill.contacts.models import Contact

from ..models import Consent, Purpose, Suppression
from ..selectors import address_hash
from ..services import ConsentProof, consents_record, purpose_ensure


class PurposeFactory(factory.django.DjangoModelFactory):
    """A purpose; saving it writes its first text version."""

    class Meta:
        model = Purpose
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"purpose-{n}")
    name = factory.Sequence(lambda n: f"Purpose {n}")
    text = factory.LazyAttribute(lambda purpose: f"I agree to {purpose.name}.")
    is_email_marketing = True


class SuppressionFactory(factory.django.DjangoModelFactory):
    """``SuppressionFactory(email="x@example.com")`` lists that address (stored as its hash)."""

    class Meta:
        model = Suppression
        exclude = ("email",)

    email = factory.Sequence(lambda n: f"suppressed{n}@example.com")
    address_hash = factory.LazyAttribute(lambda row: address_hash(row.email))
    reason = Suppression.Reason.HARD_BOUNCE


def marketing_purpose() -> Purpose:
    """The email-marketing purpose the capture factories also use."""
    return purpose_ensure(
        key="email-marketing",
        name="Marketing email",
        text="Yes, send me marketing emails. I can unsubscribe at any time.",
        is_email_marketing=True,
    )


def consent_give(
    contact: Contact,
    purpose: Purpose | None = None,
    *,
    granted: bool = True,
    awaiting: bool = False,
    method: str = Consent.Method.FORM,
    at: dt.datetime | None = None,
) -> Consent:
    """Record one answer of ``contact`` for ``purpose`` (marketing email by default)."""
    purpose = purpose or marketing_purpose()
    (row,) = consents_record(
        contact=contact,
        granted={purpose.pk: granted},
        texts={purpose.pk: purpose.current_text},
        proof=ConsentProof(method=method, occurred_at=at),
    )
    if awaiting:
        Consent.objects.filter(pk=row.pk).update(awaiting_confirmation=True)
        row.awaiting_confirmation = True
    return row
