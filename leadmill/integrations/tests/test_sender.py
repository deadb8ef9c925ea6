"""The sender's lanes (ADR 47): one endpoint's deliveries go over one kept connection; a
slow receiver holds up only its own lane; the requests in flight to one endpoint stay
within its slots however many workers send. Real HTTP/1.1 receivers on loopback."""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from leadmill.contacts.events import ContactCreated
from leadmill.integrations import services
from leadmill.integrations.handlers import deliveries_record
from leadmill.integrations.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)
WAIT_S = 60  # how long a test waits for what must happen (a bound, not a measurement)


class Receiver(BaseHTTPRequestHandler):
    """HTTP/1.1 (keeps connections). Holds each request until ``release`` is set when it
    was made to hold; counts the connections and the requests in flight."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        if server.hold:
            server.release.wait(WAIT_S)
        with server.lock:
            server.in_flight -= 1
            server.received.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def receivers(settings, monkeypatch):
    """Start receivers on loopback: ``start(hold=False)`` → the server (its ``url``)."""
    from leadmill.integrations import tasks

    monkeypatch.setattr(tasks, "deliveries_send_task", lambda: None)  # the test sends
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True
    started = []

    def start(*, hold: bool = False) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        server.daemon_threads = True
        server.lock, server.release, server.hold = threading.Lock(), threading.Event(), hold
        server.connections = server.in_flight = server.most_in_flight = 0
        server.received = []
        server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.release.set()
        server.shutdown()
        server.server_close()
    cache.clear()  # no lane slot outlives its test


def waited(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def in_thread(target) -> threading.Thread:
    """Run ``target`` as a worker would: a thread with its own database connection."""

    def run():
        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def facts(first: int, count: int) -> list[ContactCreated]:
    return [
        ContactCreated(contact_id=n, occurred_at=timezone.now())
        for n in range(first, first + count)
    ]


def delivered(endpoint) -> int:
    return WebhookDelivery.objects.filter(
        endpoint=endpoint, status=DeliveryStatus.DELIVERED
    ).count()


def test_an_endpoints_deliveries_share_one_kept_connection_and_each_verifies(receivers):
    receiver = receivers()
    endpoint = services.endpoint_create(url=receiver.url, events=[])
    deliveries_record(facts(1, 25))

    assert services.deliveries_send_due() == 25

    assert receiver.connections == 1
    assert len(receiver.received) == 25
    webhook = Webhook(endpoint.secret)
    ids = set()
    for headers, body in receiver.received:
        lowered = {k.lower(): v for k, v in headers.items()}
        assert webhook.verify(body, lowered)["type"] == "lead.created"
        ids.add(lowered["webhook-id"])
    assert ids == set(WebhookDelivery.objects.values_list("webhook_id", flat=True))
    assert delivered(endpoint) == 25


def test_a_slow_receiver_holds_up_only_its_own_deliveries(receivers):
    # Given a receiver that does not answer yet, and a quick one, each owed deliveries
    slow, quick = receivers(hold=True), receivers()
    slow_endpoint = services.endpoint_create(url=slow.url, events=[])
    quick_endpoint = services.endpoint_create(url=quick.url, events=[])
    deliveries_record(facts(1, 20))

    # When one worker sends what is due
    worker = in_thread(services.deliveries_send_due)

    # Then the quick receiver gets all its deliveries, recorded, while the slow one holds
    waited(lambda: delivered(quick_endpoint) == 20, "the quick endpoint's deliveries")
    assert slow.in_flight == 1
    assert delivered(slow_endpoint) == 0
    assert len(quick.received) == 20
    # and once the slow one answers, its deliveries are sent too
    slow.release.set()
    worker.join(WAIT_S)
    assert not worker.is_alive()
    assert delivered(slow_endpoint) == 20


def test_requests_in_flight_to_one_endpoint_stay_within_its_slots_whatever_the_workers(
    receivers, settings, monkeypatch
):
    # Given an endpoint with two slots, a receiver that holds every request, and small claims
    settings.LEADMILL_WEBHOOK_ENDPOINT_CONCURRENCY = 2
    monkeypatch.setattr(services, "LANE_BATCH", 2)
    slow = receivers(hold=True)
    endpoint = services.endpoint_create(url=slow.url, events=[])
    deliveries_record(facts(1, 8))

    # When three workers send at once
    workers = [in_thread(services.deliveries_send_due) for _ in range(3)]

    # Then two requests are in flight and the third worker found no slot and left
    waited(lambda: slow.in_flight == 2, "two requests in flight")
    waited(lambda: sum(w.is_alive() for w in workers) == 2, "the third worker to leave")
    assert slow.most_in_flight == 2
    # and when the receiver answers, every delivery is sent, never more than two at once
    slow.release.set()
    for worker in workers:
        worker.join(WAIT_S)
    assert not any(w.is_alive() for w in workers)
    assert delivered(endpoint) == 8
    assert slow.most_in_flight == 2
    # and no two lanes claimed one delivery: each was sent once
    assert len(slow.received) == len({h["webhook-id"] for h, _b in slow.received}) == 8


def test_a_request_never_outlasts_its_lease(receivers, settings):
    """A lease of 3 s: the request to a receiver that never answers is cut before the lease
    runs out (another worker may claim the row then), and the delivery is retried later."""
    settings.LEADMILL_WEBHOOK_LEASE_SECONDS = 3
    slow = receivers(hold=True)
    endpoint = services.endpoint_create(url=slow.url, events=[])
    deliveries_record(facts(1, 1))

    services.deliveries_send_due()

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, None)
    cut_after = re.search(r"within ([0-9.]+) seconds", delivery.last_answer)
    assert cut_after and float(cut_after.group(1)) <= 2.0  # the lease less its margin
    assert delivery.next_attempt_at > timezone.now()
