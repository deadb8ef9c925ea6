"""A sequence's "notify owner" step, sent by sales (leadmill/sales/notifications.py)."""

import datetime as dt

import pytest
from django.core import mail

from leadmill.contacts.tests.factories import ContactFactory, UserFactory
from leadmill.nurture.events import OwnerNotificationRequested
from leadmill.nurture.tests.engine_factories import sequence_with, step

from .. import handlers
from ..models import OwnerNotification

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BASE_URL = "https://leads.example"


def request_for(contact, *, sequence, at=NOW) -> OwnerNotificationRequested:
    return OwnerNotificationRequested(
        enrollment_id=901,
        step_id="step-1",
        contact_id=contact.pk,
        sequence_id=sequence.pk,
        message="Call them today.\nThey asked for a demo.",
        occurred_at=at,
    )


def test_the_owner_is_emailed_the_message_with_a_link_once_though_the_event_comes_twice():
    owner = UserFactory(username="ana", email="ana@sales.example")
    contact = ContactFactory(owner=owner, first_name="Bia", email="bia@example.com")
    sequence = sequence_with(step("notify_owner", message="x"), name="Demo follow-up")
    request = request_for(contact, sequence=sequence)

    handlers.notify_owner_of_sequence_step(request)
    handlers.notify_owner_of_sequence_step(request)  # delivered again (at least once)

    (sent,) = mail.outbox
    assert sent.to == ["ana@sales.example"]
    assert sent.subject == f"{contact}: Demo follow-up"
    assert (
        sent.body
        == f"Call them today.\nThey asked for a demo.\n\nhttps://leads.example/admin/leads/inspect/{contact.pk}/\n"
    )
    notification = OwnerNotification.objects.get()
    assert (notification.contact_id, notification.owner_id) == (contact.pk, owner.pk)
    assert notification.sent_at is not None


def test_the_same_step_reached_again_later_is_a_new_notification():
    contact = ContactFactory(owner=UserFactory(email="ana@sales.example"))
    sequence = sequence_with(step("notify_owner", message="x"))

    handlers.notify_owner_of_sequence_step(request_for(contact, sequence=sequence))
    handlers.notify_owner_of_sequence_step(
        request_for(contact, sequence=sequence, at=NOW + dt.timedelta(days=7))
    )

    assert len(mail.outbox) == 2


def test_without_an_owner_nobody_is_notified_and_nothing_is_kept():
    sequence = sequence_with(step("notify_owner", message="x"))

    handlers.notify_owner_of_sequence_step(request_for(ContactFactory(), sequence=sequence))
    handlers.notify_owner_of_sequence_step(
        request_for(ContactFactory(owner=UserFactory(email="")), sequence=sequence)
    )

    assert mail.outbox == []
    assert not OwnerNotification.objects.exists()
