"""Outgoing webhooks end to end: facts → delivery rows → signed POSTs to a real receiver
on loopback, verified with the reference Standard Webhooks library."""

from __future__ import annotations

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from leadmill.contacts.events import ContactCreated, StageChanged
from leadmill.integrations import services
from leadmill.integrations.handlers import deliveries_record
from leadmill.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver(BaseHTTPRequestHandler):
    """Answers each POST with the next status of ``statuses`` (then 200) and keeps it."""

    received: list = []
    statuses: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers.items()), body))
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1
    Receiver.received, Receiver.statuses = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Receiver, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sender_held(monkeypatch):
    """The after-commit send task does nothing: the test sends (a worker that is not there)."""
    from leadmill.integrations import tasks

    monkeypatch.setattr(tasks, "deliveries_send_task", lambda: None)


def created(contact_id: int) -> ContactCreated:
    return ContactCreated(contact_id=contact_id, occurred_at=timezone.now())


def verified(secret: str, headers: dict, body: bytes) -> dict:
    lowered = {k.lower(): v for k, v in headers.items()}
    return Webhook(secret).verify(body, lowered)


def make_due() -> None:
    """Time passes: every pending retry comes due."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


def test_a_fact_is_owed_once_to_each_endpoint_that_wants_it(receiver, sender_held):
    _r, url = receiver
    every = services.endpoint_create(url=url, events=[])
    stages = services.endpoint_create(url=url, events=["lead.stage_changed"])
    services.endpoint_create(url=url, events=[], enabled=False)

    fact = created(7)
    deliveries_record([fact])
    deliveries_record([fact])  # the bus delivers at least once

    rows = list(WebhookDelivery.objects.all())
    assert [(r.endpoint_id, r.event_type) for r in rows] == [(every.pk, "lead.created")]
    assert rows[0].payload["data"] == {"contact_id": 7, "occurred_at": fact.occurred_at.isoformat()}
    assert rows[0].payload["version"] == 1
    assert not WebhookDelivery.objects.filter(endpoint=stages).exists()


def test_every_delivery_verifies_with_the_standard_webhooks_library(receiver, sender_held):
    r, url = receiver
    endpoint = services.endpoint_create(url=url, events=[])
    deliveries_record([created(1), created(2)])

    assert services.deliveries_send_due() == 2

    assert len(r.received) == 2
    for headers, body in r.received:
        assert verified(endpoint.secret, headers, body)["type"] == "lead.created"
        with pytest.raises(WebhookVerificationError):
            verified("whsec_" + "QUJD" * 8, headers, body)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new(receiver, sender_held):
    r, url = receiver
    endpoint = services.endpoint_create(url=url, events=[])
    old = endpoint.secret
    new = services.endpoint_secret_rotate(endpoint=endpoint)
    deliveries_record([created(1)])
    services.deliveries_send_due()
    headers, body = r.received[-1]
    assert verified(old, headers, body) and verified(new, headers, body)

    endpoint.previous_secret_until = timezone.now() - dt.timedelta(seconds=1)
    endpoint.save()
    deliveries_record([created(2)])
    services.deliveries_send_due()
    headers, body = r.received[-1]
    assert verified(new, headers, body)
    with pytest.raises(WebhookVerificationError):
        verified(old, headers, body)


def test_three_failures_then_success_gets_exactly_one_more_delivery(receiver, sender_held):
    r, url = receiver
    services.endpoint_create(url=url, events=[])
    r.statuses = [500, 503, 502]
    deliveries_record([created(1)])

    for _ in range(6):
        services.deliveries_send_due()
        make_due()

    assert len(r.received) == 4
    assert len({h["webhook-id"] for h, _b in r.received}) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 4, 200)


def test_retries_wait_longer_each_time(receiver, sender_held):
    r, url = receiver
    services.endpoint_create(url=url, events=[])
    r.statuses = [500]
    deliveries_record([created(1)])
    before = timezone.now()
    services.deliveries_send_due()

    delivery = WebhookDelivery.objects.get()
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 4 <= wait <= 6
    assert services.deliveries_send_due() == 0  # not due yet: nothing sent
    assert len(r.received) == 1


def test_a_410_disables_the_endpoint_at_once(receiver, sender_held):
    r, url = receiver
    endpoint = services.endpoint_create(url=url, events=[])
    r.statuses = [410]
    deliveries_record([created(1), created(2)])

    services.deliveries_send_due()
    make_due()
    services.deliveries_send_due()

    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert "410" in endpoint.disabled_reason
    assert len(r.received) == 1


def test_a_lease_left_by_a_killed_worker_runs_out_and_the_delivery_is_sent(receiver, sender_held):
    r, url = receiver
    services.endpoint_create(url=url, events=[])
    deliveries_record([created(1)])
    delivery = WebhookDelivery.objects.get()
    # A worker claimed it and died before sending.
    WebhookDelivery.objects.update(leased_until=timezone.now() + dt.timedelta(minutes=2))
    assert services.deliveries_send_due() == 0
    WebhookDelivery.objects.update(leased_until=timezone.now() - dt.timedelta(seconds=1))

    assert services.deliveries_send_due() == 1
    assert r.received[0][0]["webhook-id"] == delivery.webhook_id


def test_a_private_address_is_refused_at_save(settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.endpoint_create(url="http://127.0.0.1:9/hook", events=[])
    with pytest.raises(ValidationError):
        services.endpoint_create(url="https://example.com/hook", events=["lead.nope"])
    assert not WebhookEndpoint.objects.exists()


def test_stage_change_payload_names_both_stages(receiver, sender_held):
    r, url = receiver
    endpoint = services.endpoint_create(url=url, events=["lead.stage_changed"])
    fact = StageChanged(
        contact_id=3, from_stage="lead", to_stage="mql", cause="score", occurred_at=timezone.now()
    )
    deliveries_record([fact])
    services.deliveries_send_due()
    payload = verified(endpoint.secret, *r.received[0])
    assert payload["data"]["to_stage"] == "mql"
    assert payload["type"] == "lead.stage_changed"


def test_after_commit_the_worker_sends_what_the_fact_stream_owes(receiver):
    r, url = receiver
    endpoint = services.endpoint_create(url=url, events=["lead.created"])

    deliveries_record([created(5)])  # the handler's transaction commits: the task runs

    assert len(r.received) == 1
    assert verified(endpoint.secret, *r.received[0])["data"]["contact_id"] == 5
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
