"""A webinar's confirmation carries its calendar file; its registrants get reminders before the
start, once each, through a real SMTP server on loopback (ADR 53)."""

import datetime as dt
import email
import email.policy
import re
import threading
import time

import pytest
from django.utils import timezone
from wagtail.models import Locale

from leadmill.consent.models import Suppression
from leadmill.consent.services import ConsentProof, marketing_unsubscribe, suppression_add
from leadmill.contacts.models import Contact
from leadmill.messaging.models import Message

from .. import tokens
from ..models import EventReminder, Offer, Submission
from ..reminders import event_reminders_send
from .factories import OfferFactory, form_with_fields

pytestmark = pytest.mark.django_db(transaction=True)

STARTS_IN = dt.timedelta(hours=30)


def register(client, form, address: str, *, first_name: str = ""):
    response = client.post(
        f"/f/{form.slug}/",
        data={
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "website": "",
            "email": address,
            "first_name": first_name,
            "consent_email-marketing": "on",
        },
    )
    assert response.status_code == 303, response.content
    return Submission.objects.get(contact__email=address)


def parsed(inbox, address: str) -> list[email.message.EmailMessage]:
    return inbox.to(address)


def reminders_to(inbox, address: str) -> list[str]:
    subjects = [m["Subject"].strip() for m in parsed(inbox, address)]  # a folded one: " Lembrete…"
    return [subject for subject in subjects if subject.startswith(("Reminder", "Lembrete"))]


@pytest.fixture
def webinar():
    start = timezone.now().replace(microsecond=0) + STARTS_IN
    return OfferFactory(
        name="Lead scoring live",
        kind=Offer.Kind.EVENT,
        starts_at=start,
        time_zone="America/Sao_Paulo",
        duration_minutes=90,
        join_url="https://meet.example.com/lead-scoring",
        email_subject="You are registered",
    )


@pytest.fixture
def webinar_form(webinar):
    return form_with_fields(slug="webinar", offer=webinar)


def test_the_confirmation_carries_the_event_as_a_calendar_attachment_in_utc(
    client,
    smtp_server,
    webinar,
    webinar_form,
    settings,
):
    submission = register(client, webinar_form, "ana@example.com", first_name="Ana")

    [confirmation] = parsed(smtp_server, "ana@example.com")
    [attachment] = list(confirmation.iter_attachments())
    ics = attachment.get_content()
    start, end = webinar.starts_at, webinar.starts_at + dt.timedelta(minutes=90)
    assert confirmation["Subject"] == "You are registered"
    assert (attachment.get_content_type(), attachment.get_param("method")) == (
        "text/calendar",
        "PUBLISH",
    )
    assert attachment.get_filename() == "event.ics"
    assert "METHOD:PUBLISH\r\n" in ics
    assert f"DTSTART:{start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}\r\n" in ics
    assert f"DTEND:{end.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}\r\n" in ics
    assert "SUMMARY:Lead scoring live\r\n" in ics
    assert "LOCATION:https://meet.example.com/lead-scoring\r\n" in ics
    # The file behind the email's link is the same event to a calendar: the same UID.
    uid = re.search(r"^UID:(.+)\r$", ics, re.M)[1]
    assert uid == f"registration-{submission.pk}@{settings.BASE_URL.split('://')[1]}"
    html = confirmation.get_body(("html",)).get_content()
    link = re.search(re.escape(settings.BASE_URL) + r'(/d/[^"]+/event\.ics)"', html)[1]
    assert f"UID:{uid}\r\n" in client.get(link).content.decode()


def test_a_download_offer_s_confirmation_has_no_attachment(
    client,
    smtp_server,
):
    form = form_with_fields(slug="ebook", offer=OfferFactory(kind=Offer.Kind.DISCOUNT))

    register(client, form, "ana@example.com")

    [confirmation] = parsed(smtp_server, "ana@example.com")
    assert list(confirmation.iter_attachments()) == []


def test_each_registrant_gets_each_reminder_once_and_no_one_unsubscribed_or_erased(
    client,
    smtp_server,
    webinar,
    webinar_form,
):
    for address in ("ana@example.com", "bia@example.com", "carla@example.com", "dora@x.org"):
        register(client, webinar_form, address)
    carla = Contact.objects.get(email="carla@example.com")
    marketing_unsubscribe(
        contact_id=carla.pk, purpose_ids=None, proof=ConsentProof(method="unsubscribe")
    )
    suppression_add(email="dora@x.org", reason=Suppression.Reason.ERASED)
    day_before = webinar.starts_at - dt.timedelta(hours=24) + dt.timedelta(minutes=1)
    hour_before = webinar.starts_at - dt.timedelta(hours=1) + dt.timedelta(minutes=1)

    first = event_reminders_send(now=day_before)
    again = event_reminders_send(now=day_before)  # the task ran twice
    last = event_reminders_send(now=hour_before)
    after = event_reminders_send(now=hour_before + dt.timedelta(minutes=5))

    assert (first, again, last, after) == (2, 0, 2, 0)
    for address in ("ana@example.com", "bia@example.com"):
        assert reminders_to(smtp_server, address) == [
            "Reminder: Lead scoring live starts in 24 hours",
            "Reminder: Lead scoring live starts in 1 hour",
        ]
    assert reminders_to(smtp_server, "carla@example.com") == []
    assert reminders_to(smtp_server, "dora@x.org") == []
    assert Message.objects.filter(category="event reminder", status="sent").count() == 4
    [reminder] = parsed(smtp_server, "ana@example.com")[1:2]
    text = reminder.get_body(("plain",)).get_content()
    assert "Lead scoring live, which you registered for, starts in 24 hours." in text
    assert "Join link: https://meet.example.com/lead-scoring" in text


def test_two_workers_at_once_send_each_reminder_once(
    client,
    smtp_server,
    webinar,
    webinar_form,
):
    addresses = [f"person{n}@example.com" for n in range(6)]
    for address in addresses:
        register(client, webinar_form, address)
    day_before = webinar.starts_at - dt.timedelta(hours=24) + dt.timedelta(minutes=1)
    start_together = threading.Barrier(2)
    counts = []

    def worker():
        from django.db import connection

        start_together.wait()
        try:
            counts.append(event_reminders_send(now=day_before))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 6
    assert {address: len(reminders_to(smtp_server, address)) for address in addresses} == {
        address: 1 for address in addresses
    }
    assert EventReminder.objects.count() == 6


def test_a_late_run_sends_only_the_nearest_reminder_and_none_to_a_late_registrant(
    client,
    smtp_server,
    webinar,
    webinar_form,
):
    register(client, webinar_form, "ana@example.com")
    # The worker was down for the day-before reminder; Bia registers 30 minutes before.
    hour_before = webinar.starts_at - dt.timedelta(minutes=50)
    ana = Submission.objects.get(contact__email="ana@example.com")
    register(client, webinar_form, "bia@example.com")
    Submission.objects.filter(contact__email="bia@example.com").update(
        created_at=webinar.starts_at - dt.timedelta(minutes=30)
    )

    sent = event_reminders_send(now=hour_before)
    after_the_start = event_reminders_send(now=webinar.starts_at + dt.timedelta(minutes=1))

    assert (sent, after_the_start) == (1, 0)
    assert reminders_to(smtp_server, "ana@example.com") == [
        "Reminder: Lead scoring live starts in 1 hour"
    ]
    assert reminders_to(smtp_server, "bia@example.com") == []
    assert list(EventReminder.objects.values_list("submission", "hours_before")) == [(ana.pk, 1)]


def test_a_brazilian_registrant_is_reminded_in_portuguese(
    client,
    smtp_server,
    webinar,
):
    portuguese, _created = Locale.objects.get_or_create(language_code="pt-br")
    webinar_pt = webinar.copy_for_translation(portuguese)
    webinar_pt.name = "Pontuação de leads ao vivo"
    webinar_pt.save()
    form_pt = form_with_fields(slug="webinar-pt-br", offer=webinar_pt)
    form_pt.locale = portuguese
    form_pt.save()
    register(client, form_pt, "joana@example.com", first_name="Joana")

    sent = event_reminders_send(now=webinar.starts_at - dt.timedelta(minutes=59))

    [reminder] = [m for m in parsed(smtp_server, "joana@example.com") if "Lembrete" in m["Subject"]]
    html = reminder.get_body(("html",)).get_content()
    assert sent == 1
    assert reminders_to(smtp_server, "joana@example.com") == [
        "Lembrete: Pontuação de leads ao vivo começa em 1 hora"
    ]
    assert '<html lang="pt-br">' in html
    assert "Olá, Joana," in html
    assert "Link de acesso" in html
