"""Double opt-in of a form: the confirmation email, and the link that confirms.

A form with ``double_opt_in`` records its marketing grants as awaiting confirmation (see
:func:`leadmill.consent.services.consents_record`); after the lead is captured, the person is
emailed a signed link to ``/f/confirm/<token>/``. The link opens a page with a button: only
the POST of that button confirms, because mail scanners fetch every link of an email. The
confirmation is a new row in the consent ledger, so both moments stay on record. The offer
email goes out at once either way: it is what the person asked for.
"""

from __future__ import annotations

import enum

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from leadmill.consent.models import Consent
from leadmill.consent.selectors import double_opt_in_pending, may_receive_email
from leadmill.consent.services import ConsentProof, double_opt_in_confirm
from leadmill.messaging.services import email_send_transactional

from . import tokens
from .models import Submission


class OptInState(enum.Enum):
    """What a confirmation link can do now."""

    INVALID = "invalid"  # forged, altered or expired
    PENDING = "pending"  # something is waiting for this click
    CONFIRMED = "confirmed"  # nothing left to confirm: done already (or withdrawn since)


def opt_in_url(*, contact_id: int, consent_ids: list[int]) -> str:
    """The absolute confirmation link for these awaiting consents of the contact."""
    token = tokens.opt_in_token_make(contact_id=contact_id, consent_ids=consent_ids)
    return settings.BASE_URL + reverse("capture:opt_in_confirm", args=[token])


def opt_in_request_send(*, submission_id: int) -> bool:
    """Email the confirmation link for a submission's awaiting consents — once.

    Nothing is sent when the form has no double opt-in, no grant awaits confirmation, the
    address is suppressed, or the email was already sent (events arrive at least once).
    A failed send is released so a retry sends it. Returns True when an email went out.
    """
    submission = (
        Submission.objects.select_related("form", "contact").filter(pk=submission_id).first()
    )
    if (
        submission is None
        or submission.form is None
        or not submission.form.double_opt_in
        or submission.contact is None
    ):
        return False
    contact = submission.contact
    awaiting = list(
        Consent.objects.filter(
            submission_id=submission.pk,
            contact_id=contact.pk,
            granted=True,
            awaiting_confirmation=True,
        ).values_list("pk", flat=True)
    )
    if not awaiting or not contact.email or not may_receive_email(email=contact.email):
        return False
    claimed = Submission.objects.filter(pk=submission.pk, opt_in_emailed_at__isnull=True).update(
        opt_in_emailed_at=timezone.now()
    )
    if claimed != 1:
        return False
    context = {
        "contact": contact,
        "form": submission.form,
        "confirm_url": opt_in_url(contact_id=contact.pk, consent_ids=awaiting),
        "days": settings.LEADMILL_DOUBLE_OPT_IN_DAYS,
    }
    try:
        with translation.override(contact.language or None):  # the lead's language (ADR 43)
            subject = _("Please confirm your subscription")
            html = render_to_string("capture/email/double_opt_in.html", context)
            text = render_to_string("capture/email/double_opt_in.txt", context)
        email_send_transactional(
            to=contact.email,
            subject=subject,
            html=html,
            text=text,
            category="double opt-in",
            contact_id=contact.pk,
        )
    except Exception:
        Submission.objects.filter(pk=submission.pk).update(opt_in_emailed_at=None)
        raise
    return True


def opt_in_state(*, token: str) -> OptInState:
    """Whether a confirmation link is invalid, waiting for its click, or already used."""
    parsed = tokens.opt_in_token_read(token)
    if parsed is None:
        return OptInState.INVALID
    contact_id, consent_ids = parsed
    if double_opt_in_pending(contact_id=contact_id, consent_ids=consent_ids).exists():
        return OptInState.PENDING
    return OptInState.CONFIRMED


def opt_in_confirm(
    *, token: str, ip_address: str | None, user_agent: str
) -> tuple[OptInState, int]:
    """Confirm the consents of a link (the button's POST). Returns the link's state and the
    number of ledger rows written: 0 when it was used before or is invalid."""
    parsed = tokens.opt_in_token_read(token)
    if parsed is None:
        return OptInState.INVALID, 0
    contact_id, consent_ids = parsed
    written = double_opt_in_confirm(
        consent_ids=consent_ids,
        contact_id=contact_id,
        proof=ConsentProof(ip_address=ip_address, user_agent=user_agent),
    )
    return OptInState.CONFIRMED, written
