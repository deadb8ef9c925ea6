"""A worker SIGKILLed while webhook deliveries are due loses none: started again, it sends
every one, at least once, each with the same ``webhook-id`` every time. The real worker
(``leadmill worker``, a Huey consumer) on the test's database, a real receiver on loopback,
every request verified with the reference Standard Webhooks library."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from leadmill.contacts.events import ContactCreated
from leadmill.core.tests.servers import LEADMILL, log_of, server_env, stop, worker_start
from leadmill.integrations import services
from leadmill.integrations.handlers import deliveries_record
from leadmill.integrations.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)

OWED = 300
KILL_AFTER = 40  # requests received
LEASE_S = 5
WAIT_S = 120  # how long the test waits for what must happen (a bound, not a measurement)


class Receiver(BaseHTTPRequestHandler):
    """Verifies each request, keeps its webhook-id, and answers 200 a little later (so the
    worker is in the middle of its deliveries when it is killed)."""

    protocol_version = "HTTP/1.1"
    webhook: Webhook
    received: Counter
    forged: list
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            type(self).webhook.verify(body, headers)
        except Exception as exc:  # a request that does not verify is recorded, not counted
            type(self).forged.append(repr(exc))
        else:
            with type(self).lock:
                type(self).received[headers["webhook-id"]] += 1
        time.sleep(0.02)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def wake(data_dir, env: dict[str, str]) -> None:
    """What a commit of new facts does: queue the sender's task (another process)."""
    code = "from leadmill.integrations.tasks import deliveries_send_task; deliveries_send_task()"
    subprocess.run(
        [str(LEADMILL), "shell", "-c", code],
        env=server_env(data_dir, **env),
        check=True,
        capture_output=True,
        timeout=WAIT_S,
    )


def waited(condition, what: str, process=None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}\n{log_of(process)}"
        time.sleep(0.1)


def any_slot_held(endpoint_id: int) -> bool:
    from django.core.cache import cache

    return any(cache.get(f"{services.LANE_KEY_PREFIX}{endpoint_id}.{n}") for n in range(2))


def pending() -> int:
    return WebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).count()


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    Receiver.received, Receiver.forged = Counter(), []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_a_worker_sigkilled_while_deliveries_are_due_loses_none_after_restart(
    tmp_path, receiver, settings, monkeypatch
):
    # Given an endpoint on loopback owed 300 deliveries, and a worker (periodic tasks on:
    # the minute's sweep is what finds a dead worker's deliveries in production)
    from leadmill.integrations import tasks

    monkeypatch.setattr(tasks, "deliveries_send_task", lambda: None)  # the worker sends
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = True
    endpoint = services.endpoint_create(url=receiver, events=[])
    Receiver.webhook = Webhook(endpoint.secret)
    now = timezone.now()
    deliveries_record([ContactCreated(contact_id=n, occurred_at=now) for n in range(OWED)])
    owed = set(WebhookDelivery.objects.values_list("webhook_id", flat=True))
    assert len(owed) == OWED
    env = {
        "SECRET_KEY": settings.SECRET_KEY,
        "LEADMILL_WEBHOOK_ALLOW_PRIVATE": "1",
        "LEADMILL_WEBHOOK_LEASE_SECONDS": str(LEASE_S),
        "LEADMILL_WEBHOOK_ENDPOINT_CONCURRENCY": "2",
    }
    worker = worker_start(tmp_path, **env)
    try:
        # When the worker is killed in the middle of sending them
        wake(tmp_path, env)
        waited(lambda: sum(Receiver.received.values()) >= KILL_AFTER, "deliveries", worker)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        received_before_restart = sum(Receiver.received.values())
        left_at_kill = pending()
        assert 0 < received_before_restart < OWED  # it was in the middle of them
        assert left_at_kill > 0
        # and started again
        worker = worker_start(tmp_path, **env)
        wake(tmp_path, env)  # the deliveries nobody had claimed go at once
        # (those the killed worker had claimed go once its lease has run out: the sweep, or
        # a later wake-up)
        waited(
            lambda: WebhookDelivery.objects.filter(leased_until__gt=timezone.now()).count() == 0,
            "the killed worker's leases to run out",
            worker,
        )
        waited(lambda: not any_slot_held(endpoint.pk), "its lane slots to run out", worker)
        wake(tmp_path, env)
        waited(lambda: pending() == 0, "every delivery to be sent", worker)
    finally:
        worker_log = stop(worker)

    # Then every delivery was received (at least once), each with its own webhook-id on
    # every attempt, and every request verified
    assert Receiver.forged == [], worker_log
    assert set(Receiver.received) == owed
    assert sum(Receiver.received.values()) >= OWED
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
