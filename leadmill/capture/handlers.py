"""Subscribers of the capture app. Idempotent: events may arrive more than once."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from leadmill.messaging.services import EmailAttachment, email_send_transactional
from leadmill.tracking.services import visitor_identify

from . import opt_in, services
from .calendar import CALENDAR_MIMETYPE, offer_calendar
from .events import LeadCaptured
from .models import Submission
from .selectors import lead_language, offer_delivery


def deliver_offer_email(event: LeadCaptured) -> None:
    """Email the person what the offer promised (link, code, message) — once."""
    if event.offer_id is None:
        return
    submission = (
        Submission.objects.select_related("form__offer", "contact")
        .filter(pk=event.submission_id)
        .first()
    )
    if submission is None or submission.contact is None or not submission.contact.email:
        return
    if not services.offer_email_claim(submission_id=submission.pk):
        return
    # In the language the lead converted in: the offer's translation, the layout's words.
    language = (
        lead_language(page_id=submission.page_id, form=submission.form)
        or submission.contact.language
    )
    try:
        with translation.override(language or None):
            delivery = offer_delivery(submission=submission, absolute=True)
            offer = delivery.offer
            context = {"contact": submission.contact, "delivery": delivery, "offer": offer}
            subject = offer.email_subject or _("Your %(offer)s") % {"offer": offer.name}
            html = render_to_string("capture/email/offer.html", context)
            text = render_to_string("capture/email/offer.txt", context)
        # A webinar's confirmation carries its calendar file, the same event as its link's.
        calendar = offer_calendar(offer=offer, registration_id=submission.pk)
        attachments = (
            (EmailAttachment(filename="event.ics", content=calendar, mimetype=CALENDAR_MIMETYPE),)
            if calendar
            else ()
        )
        email_send_transactional(
            to=submission.contact.email,
            subject=subject,
            html=html,
            text=text,
            category="offer delivery",
            contact_id=submission.contact_id,
            attachments=attachments,
        )
    except Exception:
        services.offer_email_release(submission_id=submission.pk)
        raise


def stitch_visitor(batch: list[LeadCaptured]) -> None:
    """Attach the submitting browsers' earlier anonymous events to their contacts (a batch
    handler: one query finds the submissions that came with a visitor)."""
    contact_of = {event.submission_id: event.contact_id for event in batch}
    visitors = (
        Submission.objects.filter(pk__in=sorted(contact_of), visitor_id__isnull=False)
        .exclude(visitor_id="")
        .order_by("pk")
        .values_list("pk", "visitor_id")
    )
    for submission_id, visitor_id in visitors:
        visitor_identify(visitor_id=visitor_id, contact_id=contact_of[submission_id])


def request_opt_in_confirmation(batch: list[LeadCaptured]) -> None:
    """On a double opt-in form, email the link that confirms the marketing consent — once
    (a batch handler: one query finds the submissions of such forms)."""
    double = Submission.objects.filter(
        pk__in=sorted({event.submission_id for event in batch}), form__double_opt_in=True
    ).order_by("pk")
    for submission_id in double.values_list("pk", flat=True):
        opt_in.opt_in_request_send(submission_id=submission_id)


def record_experiment_conversions(batch: list[LeadCaptured]) -> None:
    """Count the submissions from pages under a running A/B test as their variants'
    conversions (a batch handler; idempotent: see :func:`.experiments.conversions_record`)."""
    from .experiments import conversions_record

    conversions_record(submission_ids=sorted({event.submission_id for event in batch}))
