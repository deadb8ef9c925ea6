"""One web worker killed with SIGKILL under a steady stream of posts: the other keeps
serving, granian respawns the dead one, and every batch answered 2xx is stored. The real
server (``leadmill web``, granian) on loopback, on the test's database."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time

import pytest

from leadmill.tracking.models import Event

from .servers import children_of, free_port, log_of, web_running, workers_started

pytestmark = pytest.mark.django_db(transaction=True)

SENDERS = 4
WORKERS = 2


class Sender(threading.Thread):
    """Posts one collect batch at a time, each on a new connection, until told to stop; keeps
    what each post got."""

    def __init__(self, number: int, stopped: threading.Event, port: int) -> None:
        super().__init__(daemon=True)
        self.number, self.stopped, self.port = number, stopped, port
        self.accepted: list[str] = []
        self.refused = 0
        self.broken: list[float] = []  # when posts whose connection closed without an answer began
        self.other: list[int] = []

    def run(self) -> None:
        origin = f"http://127.0.0.1:{self.port}"
        sent = 0
        while not self.stopped.is_set():
            sent += 1
            name = f"s{self.number}-{sent}"
            body = json.dumps(
                [
                    {
                        "type": "cta_click",
                        "name": name,
                        "url": f"{origin}/offer/",
                        "visitor_id": f"visitor-{self.number:04d}-{sent:08d}",
                    }
                ]
            )
            client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            began = time.monotonic()
            try:
                client.request(
                    "POST",
                    "/t/collect",
                    body=body,
                    headers={"Content-Type": "application/json", "Origin": origin},
                )
                status = client.getresponse().status
            except ConnectionRefusedError:
                self.refused += 1
                continue
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.broken.append(began)
                continue
            finally:
                client.close()
            if 200 <= status < 300:
                self.accepted.append(name)
            else:
                self.other.append(status)


def posts_until(senders: list[Sender], count: int) -> None:
    deadline = time.monotonic() + 20
    while sum(len(sender.accepted) for sender in senders) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_killed_web_worker_is_respawned_while_the_other_keeps_serving(tmp_path):
    # Given the production web server with two workers, under a steady stream of collect batches
    port = free_port()
    with web_running(
        tmp_path, port=port, workers=WORKERS, LEADMILL_TRACKING_RATE_LIMIT_PER_IP="100000000"
    ) as web:
        stopped = threading.Event()
        senders = [Sender(number, stopped, port) for number in range(SENDERS)]
        for sender in senders:
            sender.start()
        posts_until(senders, 100)
        workers_before = children_of(web.pid)
        assert len(workers_before) == WORKERS, log_of(web)

        # When one worker is killed with SIGKILL
        victim = workers_before[0]
        os.kill(victim, signal.SIGKILL)
        accepted_at_kill = sum(len(sender.accepted) for sender in senders)
        deadline = time.monotonic() + 90
        while workers_started(web) < WORKERS + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        respawned_at = time.monotonic()
        respawned = children_of(web.pid)
        # and the posts go on for a while after the new worker is up
        posts_until(senders, sum(len(sender.accepted) for sender in senders) + 200)
        stopped.set()
        for sender in senders:
            sender.join(timeout=30)

        # Then the server kept running, with a new worker in the dead one's place
        assert web.poll() is None, log_of(web)
        assert len(respawned) == WORKERS and victim not in respawned, log_of(web)
        # no post was refused; the few that broke (in flight at the dead worker, or handed to
        # its socket as it died) all began before its replacement was up
        assert sum(sender.refused for sender in senders) == 0, log_of(web)
        broken = [began for sender in senders for began in sender.broken]
        assert [began for began in broken if began >= respawned_at] == []
        assert len(broken) <= 3 * SENDERS
        assert [status for sender in senders for status in sender.other] == []
        accepted = {name for sender in senders for name in sender.accepted}
        assert len(accepted) > accepted_at_kill + 100
        # and every batch answered 2xx was stored
        stored = set(Event.objects.filter(name__in=accepted).values_list("name", flat=True))
        assert stored == accepted
