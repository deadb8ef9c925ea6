"""Factories for nurture tests (and for other apps' tests that need a template, a sequence,
an enrollment or a marketing message)."""

from __future__ import annotations

import factory
from django.utils import timezone

from leadmill.contacts.tests.factories import ContactFactory

from ..models import EmailTemplate, Enrollment, Message, Sequence


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailTemplate

    name = factory.Sequence(lambda n: f"Email {n}")
    subject = 'Your guide, {{ first_name|default:"there" }}'
    body = '<p>Hi {{ first_name|default:"there" }},</p><p><a href="https://example.com/guide">Read the guide</a></p>'


class SequenceFactory(factory.django.DjangoModelFactory):
    """An active manual sequence; pass ``steps=[("send_email", {...}), ...]`` as StreamField data."""

    class Meta:
        model = Sequence

    name = factory.Sequence(lambda n: f"Sequence {n}")
    is_active = True


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    sequence = factory.SubFactory(SequenceFactory)
    contact = factory.SubFactory(ContactFactory)
    enrolled_at = factory.LazyFunction(timezone.now)
    next_run_at = factory.LazyAttribute(lambda enrollment: enrollment.enrolled_at)


class MessageFactory(factory.django.DjangoModelFactory):
    """A queued marketing email."""

    class Meta:
        model = Message

    contact = factory.SubFactory(ContactFactory)
    template = factory.SubFactory(EmailTemplateFactory)
