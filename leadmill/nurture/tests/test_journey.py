"""The nurture journey end to end: a form submission enrols the lead, the periodic pass sends
through a real SMTP server on loopback, a branch reads opens, clicks count for humans only,
and one-click unsubscribe or a hard bounce stop the sequence."""

import datetime as dt
import html
import re
import time
from urllib.parse import urlsplit

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from leadmill.capture import tokens as capture_tokens
from leadmill.capture.tests.factories import form_with_fields
from leadmill.consent.selectors import may_receive_marketing_email
from leadmill.consent.services import suppression_add
from leadmill.contacts.models import Contact
from leadmill.core.tests.smtp_sink import Inbox, smtp_running, use_smtp
from leadmill.messaging.models import Message
from leadmill.scoring.models import ContactScore, EngagementRule
from leadmill.tracking.models import Event

from ..models import Enrollment, Sequence
from ..runner import nurture_pass
from .engine_factories import sequence_with, step
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db(transaction=True)

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
BARRACUDA = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"


@pytest.fixture
def inbox(settings):
    received = Inbox()
    with smtp_running(received) as port:
        use_smtp(settings, port)
        yield received


def submit_ebook_form(client, form, email: str) -> Contact:
    data = {
        "_rt": capture_tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "website": "",
        "email": email,
        "first_name": "Ana",
        "consent_email-marketing": "on",
    }
    response = client.post(f"/f/{form.slug}/", data=data)
    assert response.status_code == 303
    return Contact.objects.get(email=email)


def ebook_sequence(form):
    first = EmailTemplateFactory(
        subject="Your e-book",
        body='<p>Hi {{ first_name }}</p><p><a href="https://example.com/ebook">Read</a></p>',
    )
    second = EmailTemplateFactory(
        subject="Did you get to read it?",
        body='<p><a href="https://example.com/demo">Book a demo</a></p>',
    )
    return sequence_with(
        step("send_email", "email 1", template=first.pk),
        step("wait", days=2),
        step("branch", condition="opened", step_label="email 1", then_go_to="done"),
        step("send_email", "email 2", template=second.pk),
        step("end", "done"),
        trigger=Sequence.Trigger.FORM,
        trigger_form=form,
        name="E-book follow-up",
    )


def link_in(message, marker: str) -> str:
    """The path and query of the first link in the HTML part that contains ``marker``."""
    href = next(h for h in re.findall(r'href="([^"]+)"', Inbox.html_of(message)) if marker in h)
    parts = urlsplit(html.unescape(href))
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def engagement_of(contact) -> float:
    return ContactScore.objects.get(contact=contact).engagement_score


def test_the_ebook_journey_sends_email_one_then_email_two_and_counts_a_human_click_only(
    client, inbox
):
    # Given a sequence triggered by the e-book form, and points for an email click
    form = form_with_fields(slug="ebook")
    ebook_sequence(form)
    EngagementRule.objects.create(name="email click", event_type="email_click", points=5)

    # When a visitor submits the form with marketing consent, and the periodic pass runs
    contact = submit_ebook_form(client, form, "ana@example.com")
    nurture_pass()

    # Then email 1 reached the SMTP server, once
    assert [str(m["Subject"]) for m in inbox.to("ana@example.com")] == ["Your e-book"]
    enrollment = Enrollment.objects.get(contact=contact)
    assert enrollment.state == Enrollment.State.ACTIVE
    assert Message.objects.get(enrollment_id=enrollment.pk).status == Message.Status.SENT

    # When two days pass without an open: email 2 is sent
    nurture_pass(now=timezone.now() + dt.timedelta(days=1))
    assert len(inbox.messages) == 1
    nurture_pass(now=timezone.now() + dt.timedelta(days=2, minutes=1))
    assert [str(m["Subject"]) for m in inbox.to("ana@example.com")] == [
        "Your e-book",
        "Did you get to read it?",
    ]
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.COMPLETED

    # When a mail scanner follows email 2's link, then (a minute after sending) the person does
    second = Message.objects.get(
        enrollment_id=enrollment.pk, template__subject="Did you get to read it?"
    )
    Message.objects.filter(pk=second.pk).update(sent_at=F("sent_at") - dt.timedelta(minutes=1))
    click = link_in(inbox.messages[1], "/e/c/")
    before = engagement_of(contact)

    scanner = Client().get(click, HTTP_USER_AGENT=BARRACUDA)
    assert scanner.status_code == 302
    assert engagement_of(contact) == pytest.approx(before)
    second.refresh_from_db()
    assert second.clicked_at is None

    person = Client().get(click, HTTP_USER_AGENT=BROWSER)

    # Then only the person's click is recorded as human, and it raised the engagement score
    assert person.status_code == 302
    assert person["Location"] == "https://example.com/demo"
    second.refresh_from_db()
    assert second.clicked_at is not None
    clicks = Event.objects.filter(contact=contact, type="email_click").order_by("pk")
    assert [event.is_bot for event in clicks] == [True, False]
    assert engagement_of(contact) == pytest.approx(before + 5, rel=1e-3)


def test_an_opened_email_one_skips_email_two(client, inbox):
    form = form_with_fields(slug="ebook")
    ebook_sequence(form)
    contact = submit_ebook_form(client, form, "ana@example.com")
    nurture_pass()
    Message.objects.filter(contact=contact).update(opened_at=timezone.now())

    nurture_pass(now=timezone.now() + dt.timedelta(days=2, minutes=1))

    assert [str(m["Subject"]) for m in inbox.messages] == ["Your e-book"]
    assert Enrollment.objects.get(contact=contact).exit_reason == "reached an end step"


def two_email_sequence(form):
    return sequence_with(
        step("send_email", template=EmailTemplateFactory(subject="One").pk),
        step("wait", days=1),
        step("send_email", template=EmailTemplateFactory(subject="Two").pk),
        trigger=Sequence.Trigger.FORM,
        trigger_form=form,
    )


def test_one_click_unsubscribe_stops_the_sequence_and_a_get_does_not_unsubscribe(client, inbox):
    form = form_with_fields(slug="ebook")
    two_email_sequence(form)
    contact = submit_ebook_form(client, form, "ana@example.com")
    nurture_pass()
    (first,) = inbox.messages
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = urlsplit(
        re.search(r"<(https?://[^>]+/e/u/[^>]+)>", first["List-Unsubscribe"]).group(1)
    ).path

    # A GET (a link scanner, or the person opening the page) writes nothing
    assert Client().get(unsubscribe).status_code == 200
    assert Enrollment.objects.get(contact=contact).state == Enrollment.State.ACTIVE
    assert may_receive_marketing_email(contact_id=contact.pk) is True

    # The mailbox provider's one-click POST, without cookies
    response = Client(enforce_csrf_checks=True).post(
        unsubscribe,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert may_receive_marketing_email(contact_id=contact.pk) is False

    nurture_pass(now=timezone.now() + dt.timedelta(days=1, minutes=1))

    assert len(inbox.messages) == 1
    enrollment = Enrollment.objects.get(contact=contact)
    assert (enrollment.state, enrollment.exit_reason) == (Enrollment.State.EXITED, "unsubscribed")
    assert Message.objects.filter(contact=contact).count() == 1


def test_a_hard_bounce_stops_the_sequence_at_its_next_email(client, inbox):
    form = form_with_fields(slug="ebook")
    two_email_sequence(form)
    contact = submit_ebook_form(client, form, "ana@example.com")
    nurture_pass()
    assert len(inbox.messages) == 1

    suppression_add(email="ana@example.com", reason="hard_bounce", detail="550 5.1.1 no such user")
    nurture_pass(now=timezone.now() + dt.timedelta(days=1, minutes=1))

    assert len(inbox.messages) == 1
    enrollment = Enrollment.objects.get(contact=contact)
    assert enrollment.state == Enrollment.State.EXITED
    assert enrollment.exit_reason == "cannot be emailed (no address, bounced or complained)"
