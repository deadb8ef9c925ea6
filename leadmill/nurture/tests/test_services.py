"""Nurture services: enrolling and leaving publish their facts (leadmill/nurture/services.py)."""

import datetime as dt

import pytest

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.models import OutboxEvent

from .. import services
from ..models import Enrollment
from .engine_factories import sequence_with, step
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def payloads(name: str) -> list[dict]:
    return list(
        OutboxEvent.objects.filter(name=name).order_by("pk").values_list("payload", flat=True)
    )


def email_sequence(**fields):
    return sequence_with(step("send_email", template=EmailTemplateFactory().pk), **fields)


def test_enrolling_one_contact_publishes_enrollment_started_once():
    sequence, contact = email_sequence(), ContactFactory()
    OutboxEvent.objects.all().delete()

    enrollment = services.enrollment_start(
        sequence=sequence, contact_id=contact.pk, source="form", now=NOW
    )
    refused = services.enrollment_start(
        sequence=sequence, contact_id=contact.pk, source="form", now=NOW
    )

    assert refused is None
    assert payloads("EnrollmentStarted") == [
        {
            "enrollment_id": enrollment.pk,
            "contact_id": contact.pk,
            "sequence_id": sequence.pk,
            "source": "form",
            "occurred_at": {"__dt__": NOW.isoformat()},
        }
    ]


def test_a_bulk_enrolment_publishes_one_started_event_per_enrollment_made():
    sequence = email_sequence()
    contacts = [ContactFactory() for _ in range(3)]
    services.enrollment_start(sequence=sequence, contact_id=contacts[0].pk, source="t", now=NOW)
    OutboxEvent.objects.all().delete()

    enrolled = services.enrollments_start_bulk(
        sequence=sequence, contact_ids=[c.pk for c in contacts], source="segment", now=NOW
    )

    assert enrolled == 2  # the first is enrolled already
    started = payloads("EnrollmentStarted")
    assert sorted(p["contact_id"] for p in started) == sorted(c.pk for c in contacts[1:])
    assert {p["source"] for p in started} == {"segment"}
    assert sorted(p["enrollment_id"] for p in started) == sorted(
        Enrollment.objects.filter(contact__in=contacts[1:]).values_list("pk", flat=True)
    )


def test_a_contact_enrolled_concurrently_after_the_check_is_skipped_and_the_others_enrolled(
    monkeypatch,
):
    """A concurrent enrolment commits between the bulk enrolment's check and its insert
    (simulated: the check finds no one enrolled): the constraint refuses that row; the
    others are enrolled all the same, each with its one event, and nothing is doubled."""
    sequence = email_sequence()
    contacts = [ContactFactory() for _ in range(3)]
    first = services.enrollment_start(
        sequence=sequence, contact_id=contacts[1].pk, source="t", now=NOW
    )
    OutboxEvent.objects.all().delete()
    monkeypatch.setattr(services, "_blocked", lambda sequence, contact_ids: set())

    enrolled = services.enrollments_start_bulk(
        sequence=sequence, contact_ids=[c.pk for c in contacts], source="segment", now=NOW
    )

    assert enrolled == 2
    assert list(Enrollment.objects.filter(contact=contacts[1]).values_list("pk", flat=True)) == [
        first.pk
    ]
    started = payloads("EnrollmentStarted")
    assert sorted(p["contact_id"] for p in started) == [contacts[0].pk, contacts[2].pk]
    assert sorted(p["enrollment_id"] for p in started) == sorted(
        Enrollment.objects.filter(contact__in=[contacts[0], contacts[2]]).values_list(
            "pk", flat=True
        )
    )


def test_leaving_publishes_enrollment_exited_with_its_reason_and_a_second_exit_nothing():
    sequence, contact = email_sequence(), ContactFactory()
    enrollment = services.enrollment_start(
        sequence=sequence, contact_id=contact.pk, source="t", now=NOW
    )
    later = NOW + dt.timedelta(hours=1)

    left = services.enrollment_exit(
        contact_id=contact.pk, reason="reached an exit stage: sql", now=later
    )
    again = services.enrollment_exit(contact_id=contact.pk, reason="unsubscribed", now=later)

    assert (left, again) == (1, 0)
    assert payloads("EnrollmentExited") == [
        {
            "enrollment_id": enrollment.pk,
            "contact_id": contact.pk,
            "sequence_id": sequence.pk,
            "state": "exited",
            "reason": "reached an exit stage: sql",
            "occurred_at": {"__dt__": later.isoformat()},
        }
    ]


def test_removing_the_step_an_enrollment_is_at_completes_it_and_publishes_that():
    first, second = step("send_email", template=EmailTemplateFactory().pk), step("wait", days=1)
    sequence = sequence_with(first, second)
    enrollment = services.enrollment_start(
        sequence=sequence, contact_id=ContactFactory().pk, source="t", now=NOW
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(step_id=second["id"])
    sequence.steps = [first]
    sequence.save()

    changed = services.enrollments_remap(
        sequence=sequence, old_step_ids=[first["id"], second["id"]], now=NOW
    )

    assert changed == 1
    (ended,) = payloads("EnrollmentExited")
    assert (ended["enrollment_id"], ended["state"], ended["reason"]) == (
        enrollment.pk,
        "completed",
        "its step was removed from the sequence",
    )
