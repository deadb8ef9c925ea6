"""Emails of sales (leadmill/sales/notifications.py): a sequence's "notify owner" step, and
the owner's "new lead for you" put together from its templates rendered once per language."""

import datetime as dt

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.utils import translation

from leadmill.contacts.tests.factories import ContactFactory, UserFactory
from leadmill.nurture.events import OwnerNotificationRequested
from leadmill.nurture.tests.engine_factories import sequence_with, step

from .. import handlers, notifications
from ..models import OwnerNotification
from .factories import SalesLeadFactory

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


@pytest.mark.parametrize("language", ["en", "pt-br"])
@pytest.mark.parametrize("first_name", ["Ana", ""])
@pytest.mark.parametrize("hours", [1, 4])
def test_the_new_lead_email_is_what_its_templates_render_with_the_leads_values(
    language, first_name, hours
):
    # Given a lead whose details hold what HTML must escape, and one left blank
    lead = SalesLeadFactory(
        owner=UserFactory(first_name=first_name, email="ana@sales.example"),
        contact=ContactFactory(
            first_name='Rita "R" <b>',
            last_name="O'Brien & Sons",
            company_name="<ACME> & Co",
            phone="",
            first_source="google",
        ),
    )
    values = notifications.lead_assigned_values(lead, my_leads_url="https://leads.example/my/")

    with translation.override(language):
        # When the email is put together twice (the second from the kept parts)
        notifications.lead_assigned_parts(values, hours)
        parts = notifications.lead_assigned_parts(values, hours)
        # Then it is exactly what the templates render with those values
        context = {**values, "sla_hours": hours}
        assert parts == {
            "html": render_to_string("sales/email/lead_assigned.html", context),
            "text": render_to_string("sales/email/lead_assigned.txt", context),
        }
    assert "&lt;ACME&gt; &amp; Co" in parts["html"] and "<ACME> & Co" in parts["text"]
    assert "Phone: —" in parts["text"] or "Telefone: —" in parts["text"]


def test_the_new_lead_email_follows_the_active_language_after_another_was_kept():
    lead = SalesLeadFactory(
        owner=UserFactory(first_name="Ana", email="ana@sales.example"),
        contact=ContactFactory(first_name="Rita", last_name="Lopes"),
    )
    values = notifications.lead_assigned_values(lead, my_leads_url="https://leads.example/my/")

    with translation.override("en"):
        english = notifications.lead_assigned_parts(values, 4)
    with translation.override("pt-br"):
        portuguese = notifications.lead_assigned_parts(values, 4)

    assert english["text"].startswith("Hi Ana,\n\nRita Lopes is your lead now.")
    assert portuguese["text"].startswith("Olá, Ana,\n\nRita Lopes agora é seu lead.")
    assert "<strong>Rita Lopes</strong> agora é seu lead." in portuguese["html"]
