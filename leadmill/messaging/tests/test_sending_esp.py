"""Sending through an email service provider's HTTP API (anymail's Postmark backend) against
a local fake of Postmark's API on loopback: a refused message fails alone, an unavailable
provider leaves the queue as it was."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadmill.consent.tests.factories import consent_give
from leadmill.contacts.tests.factories import ContactFactory

from ..models import Message
from ..sending import messages_send_due
from .factories import EmailTemplateFactory, MessageFactory

pytestmark = pytest.mark.django_db


class FakePostmark(BaseHTTPRequestHandler):
    """``POST /email`` as Postmark answers it: 422 for an address it refuses, 500 when told to
    be down, else 200 with a MessageID."""

    received: list[str] = []
    down = False

    def do_POST(self):  # noqa: N802 -- http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        to = body.get("To", "")
        if FakePostmark.down:
            status, answer = 500, {"ErrorCode": 100, "Message": "Maintenance"}
        elif "refused" in to:
            status, answer = 422, {"ErrorCode": 300, "Message": f"Invalid 'To' address: '{to}'."}
        else:
            FakePostmark.received.append(to)
            status = 200
            answer = {
                "To": to,
                "SubmittedAt": "2026-11-26T10:00:00Z",
                "MessageID": f"pm-{len(FakePostmark.received)}",
                "ErrorCode": 0,
                "Message": "OK",
            }
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def postmark(settings):
    FakePostmark.received, FakePostmark.down = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePostmark)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "POSTMARK_SERVER_TOKEN": "test-token",
        "POSTMARK_API_URL": f"http://127.0.0.1:{server.server_address[1]}/",
    }
    settings.LEADMILL_EMAIL_MAX_PER_HOUR = 0
    yield FakePostmark
    server.shutdown()
    server.server_close()


@pytest.fixture
def queued():
    template = EmailTemplateFactory()

    def queue(email: str) -> Message:
        contact = ContactFactory(email=email)
        consent_give(contact)
        return MessageFactory(contact=contact, template=template)

    return queue


def test_a_message_the_provider_refuses_fails_alone_and_the_others_go(postmark, queued):
    # Given three queued messages, the middle one to an address the provider refuses
    first, refused, last = (
        queued("ana@example.com"),
        queued("refused@example.com"),
        queued("bo@example.com"),
    )

    # When the sender runs
    report = messages_send_due()

    # Then the refused one failed with the provider's reason, the others were sent
    assert (report.sent, report.failed, report.requeued) == (2, 1, 0)
    assert postmark.received == ["ana@example.com", "bo@example.com"]
    statuses = {m.pk: Message.objects.get(pk=m.pk) for m in (first, refused, last)}
    assert [statuses[m.pk].status for m in (first, refused, last)] == ["sent", "failed", "sent"]
    assert "refused by the email provider" in statuses[refused.pk].error


def test_an_unavailable_provider_leaves_every_message_queued_for_later(postmark, queued):
    # Given a provider answering 500 and two queued messages
    postmark.down = True
    messages = [queued("ana@example.com"), queued("bo@example.com")]

    # When the sender runs
    report = messages_send_due()

    # Then nothing was sent or failed, and both wait in the queue
    assert (report.sent, report.failed) == (0, 0)
    assert report.connection_error
    assert [Message.objects.get(pk=m.pk).status for m in messages] == ["queued", "queued"]

    # ... and go out once the provider is back
    postmark.down = False
    assert messages_send_due().sent == 2
