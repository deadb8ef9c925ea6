"""Factories for tracking tests (and for other apps' tests that need a visitor or events)."""

import factory
from django.utils import timezone

from ..models import Event, EventType, Site, Visitor


class VisitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visitor

    id = factory.Sequence(lambda n: f"visitor{n:012d}")
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.LazyAttribute(lambda visitor: visitor.first_seen)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    occurred_at = factory.LazyFunction(timezone.now)
    type = EventType.PAGE_VIEW
    url = "https://leads.example.com/offer"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("origin",)

    name = factory.Sequence(lambda n: f"Site {n}")
    origin = "https://www.example.com"
