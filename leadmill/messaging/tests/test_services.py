"""Transactional email: written to the message log, sent to whoever asked for it, never to a
suppressed address, retried by the send queue when the mail server cannot take it."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.consent.models import Suppression
from leadmill.consent.services import suppression_add
from leadmill.core.models import OutboxEvent
from leadmill.core.tests.smtp_sink import Inbox, free_port, smtp_running, use_smtp

from ..models import Message
from ..sending import messages_send_due
from ..services import TransactionalEmail, email_send_transactional, emails_send_transactional

pytestmark = pytest.mark.django_db


def test_a_transactional_email_goes_out_whatever_the_marketing_consent_and_is_logged(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    message = email_send_transactional(
        to="ana@example.com", subject="Your e-book", html="<p>Here it is</p>", category="offer"
    )

    [sent] = mail.outbox
    assert sent.to == ["ana@example.com"]
    assert sent.body == "Here it is"  # the one HTML-to-text
    assert sent.extra_headers["Message-ID"] == f"<{message.message_id}>"
    logged = Message.objects.get()
    assert (logged.kind, logged.category, logged.status, logged.to_email, logged.subject) == (
        "transactional",
        "offer",
        "sent",
        "ana@example.com",
        "Your e-book",
    )
    assert logged.sent_at is not None
    facts = list(OutboxEvent.objects.order_by("pk").values_list("name", "payload__message_id"))
    assert facts == [("MessageQueued", logged.pk), ("MessageSent", logged.pk)]


def test_a_hard_bounced_address_gets_no_email_at_all(settings):
    # Given an address that bounced hard
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    suppression_add(email="Bo@Example.com", reason=Suppression.Reason.HARD_BOUNCE)

    # When a transactional email is asked for it (any spelling of the address)
    message = email_send_transactional(
        to="bo@example.com", subject="Your e-book", html="<p>Here it is</p>"
    )

    # Then nothing is sent, and the log says why
    assert mail.outbox == []
    assert message.status == Message.Status.SUPPRESSED
    assert "suppressed" in message.error
    assert not OutboxEvent.objects.filter(name="MessageSent").exists()


def test_a_transactional_email_the_server_cannot_take_is_retried_by_the_send_queue(settings):
    # Given no mail server listening yet
    port = free_port()
    use_smtp(settings, port)

    # When a transactional email is sent
    message = email_send_transactional(
        to="ana@example.com", subject="Your e-book", html="<p>Here</p>"
    )

    # Then it waits in the queue, nothing raised
    assert message.status == Message.Status.QUEUED

    # And when the server is back, the next pass of the queue sends it, once
    inbox = Inbox()
    with smtp_running(inbox, port):
        first = messages_send_due(limit=10)
        second = messages_send_due(limit=10)
    assert (first.sent, second.sent) == (1, 0)
    [mime] = inbox.to("ana@example.com")
    assert mime["Message-ID"] == f"<{message.message_id}>"
    assert Message.objects.get(pk=message.pk).status == Message.Status.SENT


def test_transactional_email_is_not_held_back_by_the_marketing_hourly_cap(settings):
    # Given marketing email capped at 0 more this hour (the cap is 1 and one went out)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LEADMILL_EMAIL_MAX_PER_HOUR = 1
    from django.utils import timezone

    from .factories import MessageFactory

    MessageFactory(status=Message.Status.SENT, sent_at=timezone.now())
    queued = Message.objects.create(
        kind=Message.Kind.TRANSACTIONAL, to_email="ana@example.com", subject="Hi", body_text="Hi"
    )

    # When the queue runs
    report = messages_send_due(limit=10)

    # Then the transactional email went, the cap notwithstanding
    assert report.sent == 1
    assert report.throttled is True
    assert Message.objects.get(pk=queued.pk).status == Message.Status.SENT
    assert [m.to for m in mail.outbox] == [["ana@example.com"]]


def test_many_transactional_emails_cost_no_statement_more_per_email_and_skip_the_suppressed(
    settings, monkeypatch
):
    # Given a suppressed address, and sends that all fall in one mark window
    from leadmill.messaging import sending

    monkeypatch.setattr(sending, "MARK_WINDOW_S", 60)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    suppression_add(email="Bo@Example.com", reason=Suppression.Reason.HARD_BOUNCE)

    def send(prefix: str, n: int) -> tuple[int, list[Message]]:
        emails = [
            TransactionalEmail(to=f"{prefix}{i}@example.com", subject="New lead", html="<p>x</p>")
            for i in range(n)
        ]
        emails.append(TransactionalEmail(to="bo@example.com", subject="New lead", html="<p>x</p>"))
        with CaptureQueriesContext(connection) as queries:
            messages = emails_send_transactional(emails=emails)
        return len(queries), messages

    # When two emails and that address are sent together, then ten and that address
    two_statements, two = send("two", 2)
    ten_statements, ten = send("ten", 10)

    # Then the claim, the suppression check, the sent_at marks of the emails accepted
    # within one window (ADR 63) and the "sent" marks are one statement per chunk each
    assert ten_statements == two_statements
    assert [m.status for m in ten] == [Message.Status.SENT] * 10 + [Message.Status.SUPPRESSED]
    assert [m.status for m in two] == [Message.Status.SENT] * 2 + [Message.Status.SUPPRESSED]
    assert sorted(sent.to[0] for sent in mail.outbox) == sorted(
        [f"two{i}@example.com" for i in range(2)] + [f"ten{i}@example.com" for i in range(10)]
    )
