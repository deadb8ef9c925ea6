"""The engine's guards: a send step waits for a double opt-in as long as the confirmation
link lives, asking about the email's own subscription type; a webhook is not called on the
server's own network (walker.py, actions.py, leadmill/core/outgoing.py)."""

import datetime as dt
import logging

import pytest

from leadmill.consent.tests.factories import PurposeFactory, consent_give, marketing_purpose
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.outgoing import outgoing_network
from leadmill.messaging.models import Message

from .. import engine, services
from ..models import Enrollment
from .engine_factories import sequence_with, step, subscribed_contact
from .factories import EmailTemplateFactory
from .test_engine_actions import receiver  # noqa: F401 -- the fixture

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def enrol(sequence, contact, at):
    return services.enrollment_start(sequence=sequence, contact_id=contact.pk, source="t", now=at)


@pytest.mark.parametrize(
    ("days_waiting", "state"),
    [(29, Enrollment.State.ACTIVE), (31, Enrollment.State.EXITED)],
)
def test_a_send_step_waits_for_the_confirmation_as_long_as_its_link_lives(
    settings, days_waiting, state
):
    settings.LEADMILL_DOUBLE_OPT_IN_DAYS = 30
    sequence = sequence_with(step("send_email", template=EmailTemplateFactory().pk))
    contact = ContactFactory()
    consent_give(contact, awaiting=True)
    enrollment = enrol(sequence, contact, at=NOW - dt.timedelta(days=days_waiting))
    enrollment.step_id = sequence.steps.raw_data[0]["id"]
    enrollment.save()

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert enrollment.state == state
    assert Message.objects.count() == 0


def test_the_wait_for_a_confirmation_asks_about_the_emails_own_subscription_type():
    newsletter = PurposeFactory(name="Newsletter")
    sequence = sequence_with(
        step("send_email", template=EmailTemplateFactory(purpose=newsletter).pk)
    )
    contact = ContactFactory()
    consent_give(contact, newsletter, awaiting=True, at=NOW - dt.timedelta(hours=2))
    consent_give(contact, marketing_purpose(), at=NOW - dt.timedelta(hours=1))
    enrollment = enrol(sequence, contact, at=NOW)

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.next_run_at) == (
        Enrollment.State.ACTIVE,
        NOW + dt.timedelta(hours=1),
    )


def webhook_enrollment(url):
    sequence = sequence_with(step("webhook", url=url), step("end"))
    return enrol(sequence, subscribed_contact(), at=NOW)


def test_a_webhook_to_a_loopback_receiver_is_refused_logged_and_retried_later(
    receiver,  # noqa: F811
    settings,
    caplog,
):
    handler, url = receiver
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    enrollment = webhook_enrollment(url)

    with caplog.at_level(logging.WARNING, logger="leadmill.nurture.actions"):
        engine.enrollments_advance(now=NOW)

    assert handler.received == []
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.next_run_at) == (
        Enrollment.State.ACTIVE,
        NOW + dt.timedelta(minutes=1),
    )
    origin = url.removesuffix("/hook")
    assert f"refused '{origin}'" in caplog.text
    assert "/hook" not in caplog.text  # a webhook's path may hold its secret token


def test_a_webhook_host_whose_name_resolves_to_a_private_address_is_refused(settings, caplog):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    enrollment = webhook_enrollment("https://hooks.example.com/lead")
    attempts = []

    def connect(address, port, timeout):
        attempts.append(address)
        raise ConnectionRefusedError

    with (
        outgoing_network(resolve=lambda host, port: ["10.1.2.3"], connect=connect),
        caplog.at_level(logging.WARNING, logger="leadmill.nurture.actions"),
    ):
        engine.enrollments_advance(now=NOW)

    assert attempts == []
    assert "“hooks.example.com” is an address of the server's own or a private network" in (
        caplog.text
    )
    enrollment.refresh_from_db()
    assert enrollment.next_run_at == NOW + dt.timedelta(minutes=1)


def test_a_webhook_answered_with_a_redirect_is_not_followed_and_is_retried(
    receiver,  # noqa: F811
):
    handler, url = receiver
    handler.status = 302  # to /landed on the receiver itself
    enrollment = webhook_enrollment(url)

    engine.enrollments_advance(now=NOW)

    assert [sorted(request) for request in handler.received] == [
        ["contact", "enrolled_at", "enrollment_id", "event", "sequence", "step"]
    ]
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.next_run_at) == (
        Enrollment.State.ACTIVE,
        NOW + dt.timedelta(minutes=1),
    )
