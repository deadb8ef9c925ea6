"""A worker killed with SIGKILL in the middle of sending loses no email and repeats at most
those the server accepted in the last moment (their marks are written together, every
``MARK_WINDOW_S``): a real worker process, a real SMTP server on loopback."""

import collections
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from leadmill.consent.services import ConsentProof, consents_record
from leadmill.consent.tests.factories import marketing_purpose
from leadmill.contacts.models import Contact
from leadmill.core.tests.smtp_sink import Inbox, smtp_running
from leadmill.messaging import sending
from leadmill.messaging.models import Message

from .. import services
from ..models import Enrollment
from .engine_factories import sequence_with, step
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db(transaction=True)

LEADS = 300
KILL_AFTER = 100
SERVER_DELAY_S = 0.02

# Runs `leadmill nurture_run --until-idle` against the test's database.
WORKER = """
import sys
import django
from django.conf import settings

settings.DATABASES["default"]["NAME"] = sys.argv[1]
django.setup()
from django.core.management import call_command

call_command("nurture_run", "--until-idle", verbosity=0)
"""


def worker_start(smtp_port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadmill.settings",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "LEADMILL_EMAIL_CLAIM_LEASE_SECONDS": "2",
        "LEADMILL_EMAIL_MAX_PER_HOUR": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, connection.settings_dict["NAME"]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def leads_subscribed(count: int) -> list[int]:
    contacts = Contact.objects.bulk_create(
        [Contact(email=f"lead{n}@example.com", first_name=f"Lead{n}") for n in range(count)]
    )
    purpose = marketing_purpose()
    for contact in contacts:
        consents_record(
            contact=contact,
            granted={purpose.pk: True},
            texts={purpose.pk: purpose.current_text},
            proof=ConsentProof(),
        )
    return [contact.pk for contact in contacts]


def unfinished() -> int:
    return Message.objects.filter(
        status__in=[Message.Status.QUEUED, Message.Status.SENDING]
    ).count()


def test_a_worker_killed_mid_batch_resumes_and_every_lead_gets_its_email_once_but_one():
    # Given 300 leads enrolled in a one-email sequence, and a mail server that takes 20 ms a message
    contact_ids = leads_subscribed(LEADS)
    sequence = sequence_with(
        step("send_email", template=EmailTemplateFactory(subject="Welcome").pk)
    )
    assert (
        services.enrollments_start_bulk(sequence=sequence, contact_ids=contact_ids, source="test")
        == LEADS
    )
    inbox = Inbox(delay_s=SERVER_DELAY_S)
    with smtp_running(inbox) as port:
        # When the worker is killed after about a third of the messages
        worker = worker_start(port)
        deadline = time.monotonic() + 120
        while (
            len(inbox.messages) < KILL_AFTER
            and worker.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        assert worker.poll() is None, worker.communicate()[1].decode()[-3000:]
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        received_at_kill = len(inbox.messages)

        # and started again (until nothing is left: claims of the dead worker expire after 2 s)
        while unfinished() and time.monotonic() < deadline:
            restarted = worker_start(port)
            _out, err = restarted.communicate(timeout=120)
            assert restarted.returncode == 0, err.decode()[-3000:]
            if unfinished():
                time.sleep(1)

    # Then every lead got its email, and at most those whose marks were waiting came twice
    # (the emails accepted within one mark window, and the one in flight)
    assert KILL_AFTER <= received_at_kill < LEADS
    assert unfinished() == 0
    ids = collections.Counter(str(message["Message-ID"]) for message in inbox.messages)
    expected = {
        f"<{message_id}>" for message_id in Message.objects.values_list("message_id", flat=True)
    }
    assert set(ids) == expected
    assert len(ids) == LEADS
    assert {str(message["To"]) for message in inbox.messages} == {
        f"lead{n}@example.com" for n in range(LEADS)
    }
    duplicates = sum(count - 1 for count in ids.values())
    assert duplicates <= math.ceil(sending.MARK_WINDOW_S / SERVER_DELAY_S) + 1
    assert Message.objects.filter(status=Message.Status.SENT).count() == LEADS
    assert Enrollment.objects.filter(state=Enrollment.State.COMPLETED).count() == LEADS
