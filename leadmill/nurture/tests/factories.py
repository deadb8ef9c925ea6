"""Factories for nurture tests (and for other apps' tests that need a segment, a template, a
sequence or an enrollment; email templates and messages come from messaging's)."""

from __future__ import annotations

import factory
from django.utils import timezone

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.messaging.tests.factories import EmailTemplateFactory, MessageFactory  # noqa: F401 -- nurture tests use them

from ..models import Enrollment, Segment, SegmentMember, Sequence


class SegmentFactory(factory.django.DjangoModelFactory):
    """A dynamic segment; ``SegmentFactory(conditions=[...])`` sets a match-all definition."""

    class Meta:
        model = Segment
        exclude = ("conditions",)

    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = Segment.Kind.DYNAMIC
    conditions = factory.LazyFunction(lambda: [{"field": "country", "op": "equals", "value": "BR"}])
    definition = factory.LazyAttribute(
        lambda segment: {"match": "all", "conditions": segment.conditions}
    )


class StaticSegmentFactory(SegmentFactory):
    """A static list; ``StaticSegmentFactory(members=[contact, ...])`` puts contacts on it."""

    class Meta:
        skip_postgeneration_save = True

    kind = Segment.Kind.STATIC
    definition = factory.LazyFunction(dict)

    @factory.post_generation
    def members(self, create, contacts, **kwargs):
        if create and contacts:
            SegmentMember.objects.bulk_create(
                [SegmentMember(segment=self, contact=c) for c in contacts]
            )


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
