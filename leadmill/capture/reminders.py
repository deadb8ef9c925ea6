"""Reminders of webinars and events, emailed to their registrants before the start (ADR 53).

A periodic task (:func:`.tasks.event_reminders_task`) calls :func:`event_reminders_send`
every minute. What was sent is state in the database, not one queued task per registrant:
an :class:`~.models.EventReminder` row per (event, contact, hours before), whose unique
constraint is the claim, written in the same transaction as the queued email. A second run,
or a second worker running at the same moment, finds the claim taken and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import ngettext

from leadmill.consent.models import Consent
from leadmill.consent.selectors import addresses_receiving_email
from leadmill.messaging.sending import messages_send_now
from leadmill.messaging.services import TransactionalEmail, emails_queue_transactional

from .models import EventReminder, Offer, Submission
from .selectors import DELIVERABLE_STATUSES, lead_language, offer_delivery

BATCH = 200
CATEGORY = "event reminder"


def event_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Email the reminder now due of every webinar or event that has not started yet, once to
    each registrant; returns how many emails were queued (and sent, when the mail server
    takes them; the send queue retries what it does not).

    Of the reminders of ``LEADMILL_EVENT_REMINDER_HOURS``, only the nearest one due is sent:
    a worker that was down sends "in one hour", not also the missed "tomorrow". A person who
    registered after a reminder's time does not get it (their confirmation is fresher).
    Nobody is reminded who unsubscribed since registering; a suppressed address (bounce,
    complaint, erasure) gets nothing. Each email is in the lead's language, with the
    event's translation in it."""
    hours = settings.LEADMILL_EVENT_REMINDER_HOURS
    if not hours:
        return 0
    now = now or timezone.now()
    events = Offer.objects.filter(
        kind=Offer.Kind.EVENT,
        starts_at__gt=now,
        starts_at__lte=now + dt.timedelta(hours=max(hours)),
    ).order_by("pk")
    queued, seen = 0, set()
    for event in events:
        if event.translation_key in seen:  # translations are one event: the first one's times
            continue
        seen.add(event.translation_key)
        due = min(h for h in hours if event.starts_at - dt.timedelta(hours=h) <= now)
        queued += _event_remind(event=event, hours_before=due, now=now)
    return queued


def registrations_to_remind(*, event: Offer, hours_before: int):
    """The registrations (submissions) of ``event`` and its translations still owed the
    reminder sent ``hours_before`` its start: valid, with a contact, made before the
    reminder's time, with no claim yet for their contact, and no unsubscribe since.
    Several per contact may come (a person who registered twice): ordered by contact."""
    reminder_at = event.starts_at - dt.timedelta(hours=hours_before)
    claimed = EventReminder.objects.filter(
        event=event, hours_before=hours_before, contact_id=OuterRef("contact_id")
    )
    unsubscribed = Consent.objects.filter(
        contact_id=OuterRef("contact_id"),
        granted=False,
        method=Consent.Method.UNSUBSCRIBE,
        occurred_at__gte=OuterRef("created_at"),
    )
    return (
        Submission.objects.filter(
            form__offer__translation_key=event.translation_key,
            status__in=DELIVERABLE_STATUSES,
            contact__isnull=False,
            created_at__lt=reminder_at,
        )
        .exclude(Exists(claimed))
        .exclude(Exists(unsubscribed))
        .order_by("contact_id", "pk")
    )


def _event_remind(*, event: Offer, hours_before: int, now: dt.datetime) -> int:
    queued = 0
    while True:
        first_of_contact: dict[int, int] = {}
        for submission_id, contact_id in registrations_to_remind(
            event=event, hours_before=hours_before
        ).values_list("pk", "contact_id")[: BATCH * 4]:
            first_of_contact.setdefault(contact_id, submission_id)
            if len(first_of_contact) == BATCH:
                break
        if not first_of_contact:
            return queued
        queued += _batch_remind(
            event=event, hours_before=hours_before, registrations=first_of_contact, now=now
        )


def _batch_remind(
    *, event: Offer, hours_before: int, registrations: dict[int, int], now: dt.datetime
) -> int:
    """Claim one batch's reminders and queue their emails in one transaction, then send."""
    claim = uuid.uuid4()
    with transaction.atomic():
        # Another run's claim of the same (event, contact, hours) wins: this row is dropped.
        EventReminder.objects.bulk_create(
            [
                EventReminder(
                    event=event,
                    contact_id=contact_id,
                    hours_before=hours_before,
                    submission_id=submission_id,
                    claim=claim,
                )
                for contact_id, submission_id in registrations.items()
            ],
            ignore_conflicts=True,
        )
        mine = list(
            EventReminder.objects.filter(claim=claim)
            .select_related("contact", "submission__form__offer")
            .order_by("pk")
        )
        receiving = addresses_receiving_email(emails=[r.contact.email for r in mine])
        reminders = [r for r in mine if r.contact.email in receiving]
        emails = [
            _reminder_email(reminder=reminder, starts_at=event.starts_at, now=now)
            for reminder in reminders
        ]
        messages = emails_queue_transactional(emails=emails)
        for reminder, message in zip(reminders, messages, strict=True):
            reminder.message = message
        EventReminder.objects.bulk_update(reminders, ["message"])
    messages_send_now(message_ids=[message.pk for message in messages])
    return len(messages)


def _reminder_email(
    *, reminder: EventReminder, starts_at: dt.datetime, now: dt.datetime
) -> TransactionalEmail:
    submission, contact = reminder.submission, reminder.contact
    language = lead_language(page_id=submission.page_id, form=submission.form) or contact.language
    # Hours still to go, as the reader counts them: a late run says "in 20 hours", not 24.
    hours_left = max(1, round((starts_at - now).total_seconds() / 3600))
    with translation.override(language or None):
        delivery = offer_delivery(submission=submission, absolute=True)
        context = {"contact": contact, "delivery": delivery, "offer": delivery.offer}
        context["hours_left"] = hours_left
        subject = ngettext(
            "Reminder: %(offer)s starts in %(hours)s hour",
            "Reminder: %(offer)s starts in %(hours)s hours",
            hours_left,
        ) % {"offer": delivery.offer.name, "hours": hours_left}
        html = render_to_string("capture/email/event_reminder.html", context)
        text = render_to_string("capture/email/event_reminder.txt", context)
    return TransactionalEmail(
        to=contact.email,
        subject=subject,
        html=html,
        text=text,
        category=CATEGORY,
        contact_id=contact.pk,
    )
