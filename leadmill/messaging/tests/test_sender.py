"""The worker's sending thread (leadmill/messaging/sender.py): transactional email handed to
it is sent by it, after the caller's commit, over one connection; what it cannot send stays
queued for the send queue; where no thread runs, the email is sent in the caller's thread."""

import threading

import pytest
from django.db import transaction

from leadmill.core.tests.smtp_sink import Inbox, free_port, smtp_running, use_smtp

from .. import sender
from ..models import Message
from ..sending import messages_send_due
from ..services import TransactionalEmail, emails_send_transactional_soon


def emails(count: int) -> list[TransactionalEmail]:
    return [
        TransactionalEmail(
            to=f"owner{n}@example.com", subject=f"New lead {n}", html=f"<p>Lead {n}</p>"
        )
        for n in range(count)
    ]


@pytest.fixture
def sending_thread():
    sender.sending_thread_start()
    try:
        yield
    finally:
        sender.sending_thread_stop()


@pytest.mark.django_db
def test_without_the_thread_the_email_is_sent_in_the_callers_thread(smtp_server):
    [message] = emails_send_transactional_soon(emails=emails(1))

    assert [m["To"] for m in smtp_server.messages] == ["owner0@example.com"]
    message.refresh_from_db()
    assert message.status == "sent"


@pytest.mark.django_db(transaction=True)
def test_the_thread_sends_after_the_callers_commit_on_another_thread(
    settings, smtp_server, sending_thread, monkeypatch
):
    sent_by: list[str] = []
    send_now = sender.messages_send_now

    def recorded(*, message_ids):
        sent_by.append(threading.current_thread().name)
        return send_now(message_ids=message_ids)

    monkeypatch.setattr(sender, "messages_send_now", recorded)

    with transaction.atomic():
        queued = emails_send_transactional_soon(emails=emails(3))
        assert [m.status for m in queued] == ["queued"] * 3
        assert sent_by == []  # nothing handed before the commit
    sender.sending_thread_stop()  # sends what was handed, then ends

    assert sent_by and set(sent_by) == {"leadmill-email"}
    assert sorted(m["To"] for m in smtp_server.messages) == [
        f"owner{n}@example.com" for n in range(3)
    ]
    assert len(smtp_server.connections) == 1  # the three over one connection
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_caller_hands_nothing(settings, smtp_server, sending_thread):
    with pytest.raises(RuntimeError), transaction.atomic():
        emails_send_transactional_soon(emails=emails(2))
        raise RuntimeError("the caller's work failed")
    sender.sending_thread_stop()

    assert smtp_server.messages == []
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_what_the_thread_cannot_send_stays_queued_and_the_send_queue_sends_it(
    settings, sending_thread
):
    use_smtp(settings, free_port())  # nothing listens there

    emails_send_transactional_soon(emails=emails(2))
    sender.sending_thread_stop()

    assert set(Message.objects.values_list("status", flat=True)) == {"queued"}
    inbox = Inbox()
    with smtp_running(inbox) as port:
        use_smtp(settings, port)
        report = messages_send_due()
    assert report.sent == 2
    assert sorted(m["To"] for m in inbox.messages) == ["owner0@example.com", "owner1@example.com"]
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
