"""Webhook steps: called after the batch, retried with a backoff (leadmill/nurture/actions.py);
notify-owner steps: published in the batch, sent by sales (leadmill/sales/handlers.py)."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadmill.contacts.tests.factories import UserFactory
from leadmill.core.models import OutboxEvent
from leadmill.messaging.models import Message

from .. import engine, services
from ..models import Enrollment
from .engine_factories import sequence_with, step, subscribed_contact
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        if 300 <= type(self).status < 400:
            self.send_header("Location", "/landed")
        self.end_headers()

    def do_GET(self):  # where a followed redirect would land
        type(self).received.append({"followed": self.path})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1
    Receiver.received, Receiver.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Receiver, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def webhook_sequence(url):
    steps = [
        step("webhook", "crm", url=url),
        step("send_email", template=EmailTemplateFactory().pk),
    ]
    return steps, sequence_with(*steps, name="Trial")


def test_a_webhook_step_posts_the_lead_and_step_then_the_walk_goes_on(receiver):
    handler, url = receiver
    steps, sequence = webhook_sequence(url)
    contact = subscribed_contact(email="ana@example.com")
    enrollment = services.enrollment_start(
        sequence=sequence, contact_id=contact.pk, source="test", now=NOW
    )

    assert engine.enrollments_advance(now=NOW) == 2  # the webhook, then the email after it

    (payload,) = handler.received
    assert payload["contact"] == {"id": contact.pk, "email": "ana@example.com"}
    assert payload["sequence"] == {"id": sequence.pk, "name": "Trial"}
    assert payload["step"] == {"id": steps[0]["id"], "label": "crm"}
    assert payload["enrollment_id"] == enrollment.pk
    assert Message.objects.filter(enrollment_id=enrollment.pk, step_id=steps[1]["id"]).count() == 1
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.COMPLETED


def test_a_failing_webhook_keeps_the_lead_at_the_step_and_is_retried_with_a_growing_delay(receiver):
    handler, url = receiver
    handler.status = 503
    steps, sequence = webhook_sequence(url)
    enrollment = services.enrollment_start(
        sequence=sequence, contact_id=subscribed_contact().pk, source="t", now=NOW
    )

    engine.enrollments_advance(now=NOW)
    enrollment.refresh_from_db()
    assert (enrollment.step_id, enrollment.next_run_at) == (
        steps[0]["id"],
        NOW + dt.timedelta(minutes=1),
    )

    later = NOW + dt.timedelta(minutes=10)
    engine.enrollments_advance(now=later)
    enrollment.refresh_from_db()
    assert enrollment.next_run_at == later + dt.timedelta(minutes=10)
    assert Message.objects.count() == 0

    handler.status = 204
    engine.enrollments_advance(now=later + dt.timedelta(minutes=10))
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.COMPLETED
    assert len(handler.received) == 3
    assert Message.objects.count() == 1


def test_notify_owner_emails_the_owner_and_without_one_nobody(
    mailoutbox, django_capture_on_commit_callbacks
):
    owner = UserFactory(email="seller@leadmill.test")
    sequence = sequence_with(step("notify_owner", message="Call them today."))
    owned, unowned = subscribed_contact(owner=owner), subscribed_contact()
    for contact in (owned, unowned):
        services.enrollment_start(sequence=sequence, contact_id=contact.pk, source="t", now=NOW)

    with django_capture_on_commit_callbacks(execute=True):
        engine.enrollments_advance(now=NOW)

    (mail,) = mailoutbox
    assert mail.to == ["seller@leadmill.test"]
    assert "Call them today." in mail.body
    assert f"/leads/inspect/{owned.pk}/" in mail.body
    assert set(Enrollment.objects.values_list("state", flat=True)) == {Enrollment.State.COMPLETED}


def test_a_notify_owner_step_publishes_the_request_and_goes_on_in_the_same_batch():
    # Given a sequence that notifies the owner, then sends an email
    notify = step("notify_owner", "tell", message="Call them today.")
    sequence = sequence_with(notify, step("send_email", template=EmailTemplateFactory().pk))
    contact = subscribed_contact()
    enrollment = services.enrollment_start(
        sequence=sequence, contact_id=contact.pk, source="t", now=NOW
    )
    OutboxEvent.objects.all().delete()

    # When the engine runs once
    engine.enrollments_advance(now=NOW)

    # Then the request is a fact on the bus (sales acts on it), and the email is queued at once
    request = OutboxEvent.objects.get(name="OwnerNotificationRequested")
    assert request.payload == {
        "enrollment_id": enrollment.pk,
        "step_id": notify["id"],
        "contact_id": contact.pk,
        "sequence_id": sequence.pk,
        "message": "Call them today.",
        "occurred_at": {"__dt__": NOW.isoformat()},
    }
    assert Message.objects.filter(enrollment_id=enrollment.pk).count() == 1
    ended = OutboxEvent.objects.get(name="EnrollmentExited")
    assert ended.payload["state"] == "completed"
    assert ended.payload["reason"] == "reached the last step"
