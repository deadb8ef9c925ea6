"""A Huey worker killed with SIGKILL in the middle of draining form posts: started again, it
turns every post, earlier and later, into a lead. The real web server and worker
(``leadmill web``, ``leadmill worker``) on loopback, on the test's database."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time

import pytest
from django.conf import settings

from leadmill.contacts.models import Contact
from leadmill.core.tests.servers import free_port, log_of, stop, web_running, worker_start

from .. import tokens
from ..models import Submission
from .factories import form_with_fields

pytestmark = pytest.mark.django_db(transaction=True)

EARLIER, LATER = 300, 20


def post(port: int, form, email: str) -> int:
    body = json.dumps(
        {
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "website": "",
            "email": email,
            "first_name": "Ana",
            "consent_email-marketing": "on",
        }
    )
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    client.request(
        "POST",
        f"/f/{form.slug}/",
        body=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    status = client.getresponse().status
    client.close()
    return status


def received() -> int:
    return Submission.objects.filter(status=Submission.Status.RECEIVED).count()


def test_a_worker_killed_mid_drain_and_started_again_turns_every_later_post_into_a_lead(tmp_path):
    # Given the web server and a worker (periodic tasks off: no catch-up to hide a stuck lock)
    form = form_with_fields(slug="ebook")
    env = {
        "SECRET_KEY": settings.SECRET_KEY,
        "LEADMILL_RATE_LIMIT_PER_IP": "100000",
        "HUEY_PERIODIC": "0",
    }
    port = free_port()
    with web_running(tmp_path, port=port, workers=1, **env) as web:
        worker = worker_start(tmp_path, **env)
        try:
            # (warmed up: it has turned a first post into a lead)
            assert post(port, form, "first@example.com") == 201
            deadline = time.monotonic() + 60
            while received() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert received() == 0, log_of(worker)
            # When posts stream in and the worker is killed while it drains them
            for n in range(EARLIER):
                assert post(port, form, f"early{n}@example.com") == 201, log_of(web)
                if n == EARLIER // 2:
                    processed_at_kill = Submission.objects.exclude(
                        status=Submission.Status.RECEIVED
                    ).count()
                    os.kill(worker.pid, signal.SIGKILL)
                    worker.wait(timeout=30)
            assert processed_at_kill > 1  # it was draining the stream
            assert received() >= EARLIER // 2 - 1
            # and it is started again, and more posts arrive
            worker = worker_start(tmp_path, **env)
            for n in range(LATER):
                assert post(port, form, f"later{n}@example.com") == 201
            deadline = time.monotonic() + 45
            while received() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker_log = stop(worker)
        web_log = log_of(web)

    # Then every post, before and after the restart, became a lead
    assert received() == 0, f"worker:\n{worker_log}\nweb:\n{web_log}"

    assert Submission.objects.count() == 1 + EARLIER + LATER
    assert (
        Submission.objects.filter(status=Submission.Status.ACCEPTED).count() == 1 + EARLIER + LATER
    )
    emails = set(Contact.objects.values_list("email", flat=True))
    assert {f"later{n}@example.com" for n in range(LATER)} <= emails
    assert len(emails) == 1 + EARLIER + LATER
