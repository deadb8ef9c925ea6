"""Factories for segments tests (and for other apps' tests that need a segment or a list)."""

from __future__ import annotations

import factory

from ..models import Segment, SegmentMember


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
