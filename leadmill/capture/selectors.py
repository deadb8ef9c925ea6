"""Reads of the capture app."""

from __future__ import annotations

import dataclasses

from django.urls import reverse
from django.utils.translation import gettext as _

from leadmill.core.registry import TimelineEntry

from . import tokens
from .models import Offer, Submission


@dataclasses.dataclass(frozen=True)
class ThankYou:
    """What the thank-you page and the offer email give the person."""

    offer: Offer | None
    download_url: str = ""
    discount_code: str = ""
    trial_url: str = ""
    message: str = ""


def offer_delivery(*, submission: Submission, absolute: bool = False) -> ThankYou:
    """The deliverable of an accepted submission's offer; empty for spam or rejected posts."""
    offer = submission.form.offer if submission.status == Submission.Status.ACCEPTED else None
    if offer is None:
        return ThankYou(offer=None)
    download_url = ""
    if offer.file:
        token = tokens.download_token_make(submission_id=submission.pk, offer_id=offer.pk)
        download_url = reverse("capture:offer_download", kwargs={"token": token})
        if absolute:
            from django.conf import settings

            download_url = settings.BASE_URL + download_url
    return ThankYou(
        offer=offer,
        download_url=download_url,
        discount_code=offer.discount_code,
        trial_url=offer.trial_url,
        message=offer.delivery_message,
    )


def thank_you_for(*, token: str, page=None) -> ThankYou:
    """Resolve a thank-you link's signed token; a bad or old token shows a plain thanks."""
    submission_id = tokens.thanks_token_read(token) if token else None
    if submission_id is None:
        return ThankYou(offer=None)
    submission = Submission.objects.select_related("form__offer").filter(pk=submission_id).first()
    if submission is None:
        return ThankYou(offer=None)
    return offer_delivery(submission=submission)


def submission_timeline(contact_id: int) -> list[TimelineEntry]:
    """Timeline entries: the contact's submissions and the consents they gave."""
    from leadmill.consent.models import Consent

    entries = [
        TimelineEntry(
            occurred_at=s.created_at,
            kind="submission",
            title=_("Submitted the form “%(form)s”") % {"form": s.form.name},
            detail=" · ".join(
                part for part in (
                    s.page_url,
                    "/".join(p for p in (s.utm_source, s.utm_medium, s.utm_campaign) if p),
                ) if part
            ),
        )
        for s in Submission.objects.filter(contact_id=contact_id).select_related("form")[:100]
    ]
    entries += [
        TimelineEntry(
            occurred_at=c.occurred_at,
            kind="consent",
            title=(_("Agreed to “%(purpose)s”") if c.granted else _("Did not agree to “%(purpose)s”"))
            % {"purpose": c.purpose.name},
            detail=_("text version %(version)s, %(method)s")
            % {"version": c.purpose_text.version if c.purpose_text else "?", "method": c.get_method_display()},
        )
        for c in Consent.objects.filter(contact_id=contact_id).select_related("purpose", "purpose_text")[:100]
    ]
    return entries
