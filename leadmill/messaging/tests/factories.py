"""Factories for messaging tests (and for other apps' tests that need an email template or a
message)."""

from __future__ import annotations

import factory

from leadmill.contacts.tests.factories import ContactFactory

from ..models import EmailTemplate, Message


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailTemplate

    name = factory.Sequence(lambda n: f"Email {n}")
    subject = 'Your guide, {{ first_name|default:"there" }}'
    body = '<p>Hi {{ first_name|default:"there" }},</p><p><a href="https://example.com/guide">Read the guide</a></p>'


class MessageFactory(factory.django.DjangoModelFactory):
    """A queued marketing email."""

    class Meta:
        model = Message

    contact = factory.SubFactory(ContactFactory)
    template = factory.SubFactory(EmailTemplateFactory)
