"""Sending queued marketing email through a real SMTP server on loopback (aiosmtpd)."""

import datetime as dt

import pytest
from django.utils import timezone

from leadmill.consent.tests.factories import PurposeFactory, SuppressionFactory, consent_give
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core import events
from leadmill.core.tests.smtp_sink import free_port, use_smtp

from .. import sending
from ..events import MessageQueued, MessageSent
from ..models import Message
from ..sending import messages_send_due
from ..services import message_queue, messages_queue_bulk
from .factories import EmailTemplateFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_server(smtp_server, settings):
    """The root loopback server, with links on the public address and no hourly cap."""
    settings.BASE_URL = "https://leads.example.com"
    settings.LEADMILL_EMAIL_MAX_PER_HOUR = 0
    return smtp_server


def subscribed(**kwargs):
    contact = ContactFactory(**kwargs)
    consent_give(contact)
    return contact


def statuses(*messages):
    return [Message.objects.get(pk=m.pk).status for m in messages]


def test_three_queued_messages_reach_the_server_with_distinct_ids_unsubscribe_headers_and_a_text_part(
    smtp_server,
):
    template = EmailTemplateFactory(subject="Hello {{ first_name }}")
    messages = [
        MessageFactory(template=template, contact=subscribed(first_name=f"P{i}")) for i in range(3)
    ]

    report = messages_send_due()

    assert (report.sent, report.suppressed, report.failed) == (3, 0, 0)
    assert len(smtp_server.messages) == 3
    assert len(smtp_server.peers) == 1  # one connection for the whole batch
    mimes = smtp_server.messages
    assert sorted(mime["Message-ID"] for mime in mimes) == sorted(
        f"<{m.message_id}>" for m in messages
    )
    for mime in mimes:
        assert mime["List-Unsubscribe"].strip().startswith("<https://leads.example.com/e/u/")
        assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mime.get_body(preferencelist=("plain",)).get_content().startswith("Hi P")
        assert "max-width:600px" in mime.get_body(preferencelist=("html",)).get_content()
    assert {mime["Subject"] for mime in mimes} == {"Hello P0", "Hello P1", "Hello P2"}
    assert statuses(*messages) == ["sent"] * 3
    assert all(Message.objects.get(pk=m.pk).sent_at is not None for m in messages)


def test_an_unsubscribed_contact_s_message_is_suppressed_and_never_sent(smtp_server):
    contact = subscribed()
    consent_give(contact, granted=False, at=timezone.now() + dt.timedelta(seconds=1))
    message = MessageFactory(contact=contact)

    report = messages_send_due()

    assert (report.sent, report.suppressed) == (0, 1)
    assert smtp_server.messages == []
    assert statuses(message) == ["suppressed"]


def test_a_suppressed_address_gets_nothing_even_with_consent(smtp_server):
    contact = subscribed(email="bounced@example.com")
    SuppressionFactory(email="bounced@example.com")
    message = MessageFactory(contact=contact)

    messages_send_due()

    assert smtp_server.to("bounced@example.com") == []
    assert statuses(message) == ["suppressed"]


def test_a_consent_still_awaiting_confirmation_does_not_permit_sending(smtp_server):
    contact = ContactFactory()
    consent_give(contact, awaiting=True)
    message = MessageFactory(contact=contact)

    messages_send_due()

    assert smtp_server.messages == []
    assert statuses(message) == ["suppressed"]


def test_a_template_for_a_subscription_type_goes_only_to_its_subscribers(smtp_server):
    newsletter = PurposeFactory(key="newsletter", name="Newsletter")
    template = EmailTemplateFactory(purpose=newsletter)
    general_only = subscribed()
    both = subscribed()
    consent_give(both, newsletter)
    not_theirs, theirs = (
        MessageFactory(template=template, contact=general_only),
        MessageFactory(template=template, contact=both),
    )

    messages_send_due()

    assert statuses(not_theirs, theirs) == ["suppressed", "sent"]
    assert len(smtp_server.to(both.email)) == 1


def test_a_refused_recipient_fails_its_message_and_the_others_are_sent(smtp_server):
    smtp_server.refuse.add("gone@example.com")
    first, refused, last = (
        MessageFactory(contact=subscribed(email=address))
        for address in ("one@example.com", "gone@example.com", "three@example.com")
    )

    report = messages_send_due()

    assert (report.sent, report.failed) == (2, 1)
    assert statuses(first, refused, last) == ["sent", "failed", "sent"]
    assert (
        Message.objects.get(pk=refused.pk).error == "gone@example.com: 550 5.1.1 No such user here"
    )
    assert Message.objects.get(pk=refused.pk).sent_at is None


def test_an_unreachable_server_stops_the_batch_and_leaves_every_message_queued(settings):
    use_smtp(settings, free_port())  # nothing listens there
    messages = [MessageFactory(contact=subscribed()) for _ in range(2)]

    report = messages_send_due()

    assert (report.sent, report.requeued) == (0, 2)
    assert "ConnectionRefusedError" in report.connection_error
    assert statuses(*messages) == ["queued", "queued"]
    assert Message.objects.filter(claimed_at__isnull=False).count() == 0


def test_a_template_that_cannot_be_rendered_fails_its_messages_only(smtp_server):
    broken = MessageFactory(template=EmailTemplateFactory(body="{% if %}"), contact=subscribed())
    fine = MessageFactory(contact=subscribed())

    report = messages_send_due()

    assert (report.sent, report.failed) == (1, 1)
    assert statuses(broken, fine) == ["failed", "sent"]
    assert Message.objects.get(pk=broken.pk).error.startswith("render: ")


def test_the_hourly_cap_counts_what_was_sent_in_the_last_hour(smtp_server, settings):
    settings.LEADMILL_EMAIL_MAX_PER_HOUR = 3
    MessageFactory(status=Message.Status.SENT, sent_at=timezone.now() - dt.timedelta(minutes=30))
    MessageFactory(status=Message.Status.SENT, sent_at=timezone.now() - dt.timedelta(minutes=90))
    queued = [MessageFactory(contact=subscribed()) for _ in range(3)]

    report = messages_send_due()

    assert report.sent == 2
    assert report.throttled is True
    assert statuses(*queued) == ["sent", "sent", "queued"]


def test_limit_is_honoured_across_chunks_over_one_connection(smtp_server, monkeypatch):
    monkeypatch.setattr(sending, "CLAIM_CHUNK", 2)
    messages = [MessageFactory(contact=subscribed()) for _ in range(5)]

    report = messages_send_due(limit=4)

    assert report.sent == 4
    assert len(smtp_server.peers) == 1
    assert statuses(*messages) == ["sent"] * 4 + ["queued"]


def test_a_claim_older_than_the_lease_is_sent_again_and_a_fresh_one_is_left_alone(
    smtp_server, settings
):
    settings.LEADMILL_EMAIL_CLAIM_LEASE_SECONDS = 300
    now = timezone.now()
    crashed = MessageFactory(
        contact=subscribed(),
        status=Message.Status.SENDING,
        claimed_at=now - dt.timedelta(minutes=6),
    )
    in_flight = MessageFactory(
        contact=subscribed(),
        status=Message.Status.SENDING,
        claimed_at=now - dt.timedelta(minutes=1),
    )

    report = messages_send_due(now=now)

    assert (report.reclaimed, report.sent) == (1, 1)
    assert statuses(crashed, in_flight) == ["sent", "sending"]


def test_a_second_run_sends_nothing_twice(smtp_server):
    MessageFactory(contact=subscribed())

    first, second = messages_send_due(), messages_send_due()

    assert (first.sent, second.sent) == (1, 0)
    assert len(smtp_server.messages) == 1


def test_queueing_one_and_many_writes_queued_rows():
    contact, template = ContactFactory(), EmailTemplateFactory()

    one = message_queue(contact_id=contact.pk, template_id=template.pk, step_id="step-1")
    count = messages_queue_bulk(
        [Message(contact_id=contact.pk, template_id=template.pk) for _ in range(3)]
    )

    assert (one.status, one.step_id, count) == ("queued", "step-1", 3)
    assert Message.objects.filter(status="queued").count() == 4
    assert len(set(Message.objects.values_list("message_id", flat=True))) == 4


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_claim_the_same_message():
    import threading

    from django.db import connection

    template, contact = EmailTemplateFactory(), ContactFactory()
    messages_queue_bulk([Message(contact=contact, template=template) for _ in range(300)])
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def worker(name):
        try:
            start.wait()
            while ids := sending._claim(kind="marketing", size=7, now=timezone.now()):
                claimed[name].extend(ids)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(claimed["a"]).isdisjoint(claimed["b"])
    assert len(claimed["a"]) + len(claimed["b"]) == 300
    assert Message.objects.filter(status="sending").count() == 300


@pytest.fixture
def delivery_tasks():
    """The outbox delivery tasks Huey ran (immediate mode in tests), by their outbox ids."""
    from huey.contrib.djhuey import HUEY
    from huey.signals import SIGNAL_COMPLETE

    ran = []

    def note(signal, task, *args, **kwargs):
        if task.name.endswith("outbox_deliver"):
            ran.append(task.args[0])

    HUEY.signal(SIGNAL_COMPLETE)(note)
    yield ran
    HUEY.disconnect_signal(note, SIGNAL_COMPLETE)


def _facts(name):
    from leadmill.core.models import OutboxEvent

    return sorted(
        OutboxEvent.objects.filter(name=name).values_list("payload__message_id", flat=True)
    )


def test_a_bulk_queue_publishes_a_fact_per_message_in_one_delivery_task(
    delivery_tasks, django_capture_on_commit_callbacks
):
    # Given five messages to queue, and a subscriber of their fact
    contact, template = ContactFactory(), EmailTemplateFactory()
    heard: list[MessageQueued] = []

    # When they are queued in one call
    with (
        events.subscribed(MessageQueued, heard.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        messages_queue_bulk(
            [Message(contact_id=contact.pk, template_id=template.pk) for _ in range(5)]
        )

    # Then each has its fact, and one task delivers them all
    queued = sorted(Message.objects.values_list("pk", flat=True))
    assert _facts("MessageQueued") == queued
    assert [len(ids) for ids in delivery_tasks] == [5]
    assert sorted(fact.message_id for fact in heard) == queued


def test_facts_nobody_subscribes_to_are_kept_without_a_delivery_task(
    delivery_tasks, django_capture_on_commit_callbacks
):
    # Given no subscriber of MessageQueued (analytics reads the facts; webhooks may come)
    contact, template = ContactFactory(), EmailTemplateFactory()

    # When messages are queued
    with django_capture_on_commit_callbacks(execute=True):
        messages_queue_bulk(
            [Message(contact_id=contact.pk, template_id=template.pk) for _ in range(3)]
        )

    # Then their facts are written, and no task is queued for them
    assert _facts("MessageQueued") == sorted(Message.objects.values_list("pk", flat=True))
    assert delivery_tasks == []


@pytest.mark.django_db(transaction=True)  # real commits: one after-commit dispatch per chunk
def test_a_chunk_sent_is_marked_sent_with_a_fact_per_message_in_one_delivery_task_per_chunk(
    smtp_server, monkeypatch, delivery_tasks
):
    # Given five queued messages, sent in chunks of two, and a subscriber of their fact
    monkeypatch.setattr(sending, "CLAIM_CHUNK", 2)
    messages = [MessageFactory(contact=subscribed()) for _ in range(5)]
    heard: list[MessageSent] = []

    # When the queue is sent
    with events.subscribed(MessageSent, heard.append):
        report = messages_send_due()

    # Then every message is sent with exactly one fact, delivered by one task per chunk
    assert report.sent == 5
    assert statuses(*messages) == ["sent"] * 5
    assert _facts("MessageSent") == sorted(m.pk for m in messages)
    assert [len(ids) for ids in delivery_tasks] == [2, 2, 1]
    assert sorted(fact.message_id for fact in heard) == sorted(m.pk for m in messages)


def test_a_message_the_server_accepted_before_a_crash_is_marked_sent_with_its_fact_and_not_sent_again(
    smtp_server, settings
):
    # Given a worker that died after the server accepted a message, before its chunk ended
    settings.LEADMILL_EMAIL_CLAIM_LEASE_SECONDS = 300
    now = timezone.now()
    accepted = MessageFactory(
        contact=subscribed(),
        status=Message.Status.SENDING,
        claimed_at=now - dt.timedelta(minutes=6),
        sent_at=now - dt.timedelta(minutes=6),
    )
    unsent = MessageFactory(
        contact=subscribed(),
        status=Message.Status.SENDING,
        claimed_at=now - dt.timedelta(minutes=6),
    )

    # When the next pass runs after the lease
    report = messages_send_due(now=now)

    # Then the accepted one is marked sent with its fact and not sent again; the other is sent
    assert (report.reclaimed, report.sent) == (1, 1)
    assert statuses(accepted, unsent) == ["sent", "sent"]
    assert len(smtp_server.messages) == 1
    assert _facts("MessageSent") == sorted([accepted.pk, unsent.pk])


def test_transactional_emails_sent_together_go_over_one_connection_once_each(smtp_server):
    from ..services import TransactionalEmail, emails_send_transactional

    SuppressionFactory(email="gone@example.com")
    emails = [
        TransactionalEmail(to=to, subject=f"For {to}", html=f"<p>Hi {to}</p>")
        for to in ("ana@example.com", "gone@example.com", "bruno@example.com")
    ]

    sent = emails_send_transactional(emails=emails)
    again = sending.messages_send_now(message_ids=[message.pk for message in sent])

    assert [message.to_email for message in sent] == [email.to for email in emails]
    assert [message.status for message in sent] == ["sent", "suppressed", "sent"]
    assert smtp_server.recipients == [
        ["ana@example.com"],
        ["bruno@example.com"],
    ]
    assert len(smtp_server.peers) == 1
    assert (again.sent, again.suppressed) == (0, 0)  # nothing is sent twice


def test_transactional_emails_the_server_cannot_take_stay_queued_for_the_send_queue(settings):
    from ..services import TransactionalEmail, emails_send_transactional

    use_smtp(settings, free_port())  # nobody listens there

    sent = emails_send_transactional(
        emails=[TransactionalEmail(to="ana@example.com", subject="Hi", html="<p>Hi</p>")] * 2
    )

    assert [message.status for message in sent] == ["queued", "queued"]


def _mark_statements(queries) -> list[str]:
    table = Message._meta.db_table
    return [q["sql"] for q in queries if "WITH marks" in q["sql"] and table in q["sql"]]


@pytest.mark.django_db(transaction=True)  # real commits: the marks are their own
@pytest.mark.parametrize(
    ("window_s", "mark_statements"),
    [(60, 1), (0, 5)],
    ids=["a window longer than the chunk: one statement", "no window: one per email"],
)
def test_the_sent_marks_of_a_chunk_are_written_together_within_the_window(
    smtp_server, monkeypatch, window_s, mark_statements
):
    # Given five queued messages and a mark window
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(sending, "MARK_WINDOW_S", window_s)
    messages = [MessageFactory(contact=subscribed()) for _ in range(5)]

    # When the queue is sent
    with CaptureQueriesContext(connection) as queries:
        report = messages_send_due()

    # Then the marks take the statements the window allows, each with its own time
    assert report.sent == 5
    assert len(_mark_statements(queries.captured_queries)) == mark_statements
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert {row.status for row in rows} == {"sent"}
    assert all(row.sent_at is not None and row.error == "" for row in rows)
    assert len({row.sent_at for row in rows}) == 5
    # a marketing email keeps the subject this lead got (rendered), as before
    assert all(row.subject and "{{" not in row.subject for row in rows)


def test_a_mark_leaves_a_message_no_longer_sending_alone():
    # Given an accepted email whose claim a stale release already put back in the queue
    message = MessageFactory(status=Message.Status.QUEUED)

    # When its late mark is written
    sending._sent_at_write([(message.pk, timezone.now(), "Late")])

    # Then the queued row is untouched (it will be claimed and sent again, as before)
    message.refresh_from_db()
    assert message.sent_at is None and message.subject != "Late"
