"""Submissions that are not a dead end (issue 12 item 18): errors retried with backoff by the
periodic catch-up, then given up and listed; spam and errors reprocessed by a person from
the submissions listing."""

import contextlib
import datetime as dt
import socket
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from leadmill.consent.models import Consent
from leadmill.contacts.models import Contact
from leadmill.core import events
from leadmill.core.models import OutboxEvent
from leadmill.core.tests.test_locks import dead_pid

from .. import tasks, tokens
from ..models import Submission
from ..selectors import form_definition
from ..services import (
    RETRY_FIRST_AFTER_S,
    RequestMeta,
    submission_receive,
    submission_reprocess,
    submissions_process,
    submissions_retry_due,
)
from .factories import form_with_fields

pytestmark = pytest.mark.django_db

META = RequestMeta(
    ip_address="203.0.113.7", user_agent="Mozilla/5.0 test", page_url="https://lp.example/ebook/"
)


def receive(form, *, age_s: float = 10, **values):
    data = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - age_s),
        "website": "",
        **values,
    }
    return submission_receive(
        definition=form_definition(slug=form.slug), data=data, meta=META
    ).submission


@pytest.fixture
def upsert_fails(monkeypatch):
    """The contacts' upsert failing as a bug would, until the test lets it work."""
    from leadmill.contacts import services as contact_services

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("leadmill.capture.services.contacts_upsert", broken)
    return lambda: monkeypatch.setattr(
        "leadmill.capture.services.contacts_upsert", contact_services.contacts_upsert
    )


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser(
        "marketer", "marketer@example.com", "a-long-test-password-41"
    )
    client.force_login(user)
    return client


def test_an_error_is_retried_with_backoff_then_given_up_and_listed(
    settings, upsert_fails, admin_client
):
    # Given a submission whose processing fails every time
    settings.LEADMILL_SUBMISSION_PROCESS_ATTEMPTS = 3
    form = form_with_fields()
    submission = receive(form, email="ana@example.com")
    accepted = receive(form, email="bo@example.com")
    Submission.objects.filter(pk=accepted.pk).update(status=Submission.Status.ACCEPTED)

    # When the worker processes it, it ends in error with its first retry a minute later
    submissions_process()
    submission.refresh_from_db()
    failed_at = timezone.now()
    assert (submission.status, submission.processing_attempts) == ("error", 1)
    assert failed_at < submission.retry_at <= failed_at + dt.timedelta(seconds=RETRY_FIRST_AFTER_S)
    assert submissions_retry_due(now=submission.retry_at - dt.timedelta(seconds=1)) == 0  # not yet

    # ... and each retry that fails waits four times longer, until the attempts are spent
    waits = []
    for _attempt in range(2):
        previous = submission.retry_at
        assert submissions_retry_due(now=previous) == 1
        assert Submission.objects.get(pk=submission.pk).status == "received"
        submissions_process()
        submission.refresh_from_db()
        waits.append(
            submission.retry_at
            and round((submission.retry_at - timezone.now()).total_seconds() / 60)
        )

    # Then it is given up (no retry time) after the third attempt
    assert waits == [4, None]
    assert (submission.status, submission.processing_attempts, submission.given_up) == (
        "error",
        3,
        True,
    )
    assert submissions_retry_due(now=timezone.now() + dt.timedelta(days=30)) == 0

    # ... and the back office lists it under the "given up" filter, and only it
    listing = admin_client.get("/admin/submissions/", {"retry": "given_up"})
    assert listing.status_code == 200
    assert "ana@example.com" in listing.content.decode()
    assert "bo@example.com" not in listing.content.decode()
    assert "bo@example.com" in admin_client.get("/admin/submissions/").content.decode()
    assert f'data-object-id="{submission.pk}" data-bulk-action-checkbox' in listing.content.decode()
    assert (
        "/admin/bulk/capture/submission/reprocess/" in listing.content.decode()
    )  # the action's button

    # ... where, once the bug is fixed, a person reprocesses it into a lead
    upsert_fails()  # fixed
    url = f"/admin/bulk/capture/submission/reprocess/?id={submission.pk}&next=/admin/submissions/"
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert "Yes, reprocess" in confirm.content.decode()
    done = admin_client.post(url, follow=True)
    assert done.status_code == 200
    assert "1 submission became a lead." in done.content.decode()
    submission.refresh_from_db()
    assert (submission.status, submission.contact.email) == ("accepted", "ana@example.com")


def test_the_periodic_catch_up_retries_the_errors_that_are_due(upsert_fails):
    form = form_with_fields()
    submission = receive(form, email="ana@example.com")
    submissions_process()
    upsert_fails()  # fixed
    Submission.objects.filter(pk=submission.pk).update(
        retry_at=timezone.now() - dt.timedelta(seconds=1)
    )

    tasks.submissions_catch_up()

    submission.refresh_from_db()
    assert (submission.status, submission.retry_at, submission.processing_attempts) == (
        "accepted",
        None,
        1,
    )
    assert Contact.objects.filter(email="ana@example.com").count() == 1


@pytest.mark.django_db(transaction=True)  # the facts are handed on after their commit
def test_the_catch_up_delivers_its_leads_facts_itself_not_through_a_queued_task(monkeypatch):
    # Given a post whose processing task was lost (nothing drains it)
    form = form_with_fields()
    monkeypatch.setattr("leadmill.capture.services.processing_schedule", lambda: None)
    receive(form, email="ana@example.com")
    assert Submission.objects.get().status == "received"
    queued = []
    monkeypatch.setattr(events, "_queue_delivery", queued.append)

    # When the minute's catch-up processes it
    tasks.submissions_catch_up.call_local()

    # Then the lead's LeadCaptured was delivered in the catch-up's own thread: a queued
    # delivery would wait behind the queue (seconds, under load)
    assert Submission.objects.get().status == "accepted"
    captured = OutboxEvent.objects.get(name="LeadCaptured")
    assert captured.delivered_at is not None
    assert queued == []


def test_with_every_drain_running_the_catch_up_leaves_the_posts_to_them():
    # Given a post waiting while every drain allowed runs (holds its lock)
    form = form_with_fields()
    receive(form, email="ana@example.com")
    with contextlib.ExitStack() as running:
        for lock in tasks.PROCESS_LOCKS[: tasks.drains_allowed()]:
            assert running.enter_context(lock.hold())

        # When the minute's catch-up comes
        tasks.submissions_catch_up.call_local()

        # Then it takes nothing: the drains poll for it themselves
        assert Submission.objects.get().status == "received"


def test_spam_that_was_only_too_fast_is_reprocessed_into_a_lead_with_the_consent_it_showed():
    # Given a quick person's post stored as spam (too fast, no proof) with the marketing box ticked
    form = form_with_fields()
    submission = receive(
        form, age_s=0.5, email="Ana@Example.com", **{"consent_email-marketing": "on"}
    )
    assert (submission.status, submission.spam_reason) == ("spam", "too_fast")

    # When a person reprocesses it
    status = submission_reprocess(submission_id=submission.pk)

    # Then it is a lead, with the consent and the text version the form showed
    assert status == "accepted"
    contact = Contact.objects.get()
    assert contact.email == "ana@example.com"
    consent = Consent.objects.get(contact=contact)
    assert consent.granted is True
    assert (
        consent.purpose_text_id
        == form_definition(slug=form.slug).consent_text_ids[consent.purpose_id]
    )
    assert consent.submission_id == submission.pk


def test_other_spam_is_validated_again_and_what_is_invalid_is_rejected_not_a_lead():
    form = form_with_fields()
    honeypot = receive(form, email="not-an-email", website="http://spam.example")
    assert (honeypot.status, honeypot.values) == ("spam", {})

    assert submission_reprocess(submission_id=honeypot.pk) == "rejected"

    honeypot.refresh_from_db()
    assert honeypot.errors == {"email": ["Enter a valid email address, like name@example.com."]}
    assert not Contact.objects.exists()


def test_a_submission_that_is_neither_spam_nor_error_is_left_alone(admin_client):
    form = form_with_fields()
    received = receive(form, email="ana@example.com")

    assert submission_reprocess(submission_id=received.pk) is None

    confirm = admin_client.get(f"/admin/bulk/capture/submission/reprocess/?id={received.pk}")
    assert (
        "Only submissions stored as spam or ended in error can be reprocessed"
        in confirm.content.decode()
    )
    assert Submission.objects.get().status == "received"
    assert not Contact.objects.exists()


def test_a_second_drain_runs_beside_the_first_on_postgresql_and_never_on_sqlite(settings):
    # Given a post waiting, and a drain holding the first drain's lock
    settings.LEADMILL_INTAKE_DRAINS = 2
    form = form_with_fields()
    submission = receive(form, email="ana@example.com")

    # When another processing task starts
    with tasks.PROCESS_LOCK.hold() as first:
        assert first
        tasks.submissions_process_task.call_local()

    # Then on PostgreSQL it drains beside the first (its batches skip the other's rows);
    # on SQLite, whose one writer two drains would only queue for, it leaves it to the first
    submission.refresh_from_db()
    expected = "accepted" if connection.vendor == "postgresql" else "received"
    assert submission.status == expected


def test_a_drain_looks_again_after_letting_go_of_its_lock(monkeypatch):
    # Given a drain that, on its last look before letting go, misses a post committed just
    # then (its task found the lock still held and exited)
    form = form_with_fields()
    receive(form, email="first@example.com")
    looks = []
    real_process = tasks.services.submissions_process

    def process_missing_a_late_post():
        processed = real_process()
        looks.append(processed)
        if processed == 0 and len(looks) == 2:
            receive(form, email="late@example.com")
        return processed

    monkeypatch.setattr(tasks.services, "submissions_process", process_missing_a_late_post)

    # When the processing task runs
    tasks.submissions_process_task.call_local()

    # Then the late post was processed too, by the same task
    assert list(Submission.objects.values_list("status", flat=True)) == ["accepted", "accepted"]
    assert looks == [1, 0, 1, 0]


def test_a_starting_consumer_drains_what_waited_behind_a_dead_workers_lock(monkeypatch):
    # Given posts received while the only drain's lock was held by a worker killed since
    form = form_with_fields()
    receive(form, email="ana@example.com")
    cache.set(tasks.PROCESS_LOCK.key, f"{socket.gethostname()}|{dead_pid()}|p|t", timeout=60)
    monkeypatch.setattr(tasks, "_started", threading.Event())

    # When a consumer starts (every worker thread runs the startup hooks)
    for _ in range(3):
        tasks.drain_on_start()

    # Then the lock is free again and the post became a lead
    assert cache.get(tasks.PROCESS_LOCK.key) is None
    assert Submission.objects.get().status == "accepted"
