"""Transactional email: sent to whoever asked for it, never to a suppressed address."""

import pytest
from django.core import mail

from leadmill.consent.models import Suppression
from leadmill.consent.services import suppression_add

from ..services import email_send_transactional

pytestmark = pytest.mark.django_db


def test_a_transactional_email_goes_out_whatever_the_marketing_consent(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    sent = email_send_transactional(to="ana@example.com", subject="Your e-book", html="<p>Here it is</p>")

    assert sent == 1
    [message] = mail.outbox
    assert message.to == ["ana@example.com"]
    assert message.body == "Here it is"


def test_a_hard_bounced_address_gets_no_email_at_all(settings):
    # Given an address that bounced hard
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    suppression_add(email="Bo@Example.com", reason=Suppression.Reason.HARD_BOUNCE)

    # When a transactional email is asked for it (any spelling of the address)
    sent = email_send_transactional(to="bo@example.com", subject="Your e-book", html="<p>Here it is</p>")

    # Then nothing is sent
    assert sent == 0
    assert mail.outbox == []
