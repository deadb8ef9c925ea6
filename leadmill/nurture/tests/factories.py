"""Factories for nurture tests (and for other apps' tests that need a sequence or an
enrollment; segments, email templates and messages come from their own apps' factories)."""

from __future__ import annotations

import factory
from django.utils import timezone

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.messaging.tests.factories import EmailTemplateFactory, MessageFactory  # noqa: F401 -- nurture tests use them
from leadmill.segments.tests.factories import StaticSegmentFactory

from ..models import Broadcast, Enrollment, Sequence


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


class BroadcastFactory(factory.django.DjangoModelFactory):
    """A broadcast of a new email to a static list: ``BroadcastFactory(segment__members=[...],
    status=Broadcast.Status.SENT)``."""

    class Meta:
        model = Broadcast

    name = factory.Sequence(lambda n: f"Broadcast {n}")
    template = factory.SubFactory(EmailTemplateFactory)
    segment = factory.SubFactory(StaticSegmentFactory)
