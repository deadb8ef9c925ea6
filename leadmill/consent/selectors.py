"""Reads on consent."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from .models import Consent, Purpose


def consent_current(*, contact_id: int) -> dict[str, bool]:
    """Each purpose key mapped to the contact's latest answer for it."""
    latest = Consent.objects.filter(contact_id=contact_id, purpose=OuterRef("pk")).order_by(
        "-occurred_at", "-id"
    )
    rows = Purpose.objects.annotate(granted=Subquery(latest.values("granted")[:1])).values_list(
        "key", "granted"
    )
    return {key: bool(granted) for key, granted in rows if granted is not None}


def may_receive_marketing_email(*, contact_id: int) -> bool:
    """The one place that decides whether marketing email may go to a contact.

    True when the latest answer of at least one email-marketing purpose is a grant.
    (Suppressions — bounces, complaints, erasures — join this check with the nurture work.)
    """
    latest = Consent.objects.filter(contact_id=contact_id, purpose=OuterRef("pk")).order_by(
        "-occurred_at", "-id"
    )
    return (
        Purpose.objects.filter(is_email_marketing=True)
        .annotate(granted=Subquery(latest.values("granted")[:1]))
        .filter(granted=True)
        .exists()
    )
