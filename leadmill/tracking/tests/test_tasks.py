"""The retention task."""

import datetime as dt

import pytest
from django.utils import timezone

from ..models import Event
from ..tasks import events_retention
from .factories import EventFactory

pytestmark = pytest.mark.django_db


def test_the_retention_task_deletes_events_older_than_the_setting(settings):
    settings.LEADMILL_EVENT_RETENTION_DAYS = 7
    now = timezone.now()
    EventFactory(occurred_at=now - dt.timedelta(days=8))
    recent = EventFactory(occurred_at=now - dt.timedelta(days=6))

    events_retention.call_local()

    assert list(Event.objects.values_list("pk", flat=True)) == [recent.pk]


def test_a_retention_of_zero_keeps_everything(settings):
    settings.LEADMILL_EVENT_RETENTION_DAYS = 0
    EventFactory(occurred_at=timezone.now() - dt.timedelta(days=3000))

    events_retention.call_local()

    assert Event.objects.count() == 1
