"""Broadcasts: queued per segment member in chunks, resumable, sent once drained
(leadmill/nurture/broadcasts.py)."""

import datetime as dt
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.errors import ValidationFailed
from leadmill.messaging.models import Message
from leadmill.messaging.sending import messages_send_due
from leadmill.segments.tests.factories import StaticSegmentFactory

from .. import broadcasts
from ..admin_broadcasts import SEND_URL_NAME
from ..models import Broadcast
from .engine_factories import subscribed_contact
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def broadcast_to(members, **fields) -> Broadcast:
    return Broadcast.objects.create(
        name="Spring launch",
        template=EmailTemplateFactory(),
        segment=StaticSegmentFactory(members=members),
        **fields,
    )


def test_a_due_broadcast_queues_one_message_per_member_and_is_sent_once_drained():
    subscribed, also, no_consent = subscribed_contact(), subscribed_contact(), ContactFactory()
    broadcast = broadcasts.broadcast_schedule(
        broadcast=broadcast_to([subscribed, also, no_consent]), send_at=NOW
    )

    assert broadcasts.broadcasts_start_due(now=NOW) == 3
    assert broadcasts.broadcasts_start_due(now=NOW) == 0
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.queued_count) == (Broadcast.Status.SENDING, 3)

    messages_send_due(now=timezone.now())
    broadcasts.broadcasts_finish()

    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.SENT
    assert broadcasts.broadcast_counts(broadcast_ids=[broadcast.pk])[broadcast.pk] == {
        "queued": 0,
        "sent": 2,
        "suppressed": 1,
        "failed": 0,
        "opened": 0,
        "clicked": 0,
    }


def test_a_broadcast_scheduled_later_waits():
    broadcast = broadcasts.broadcast_schedule(
        broadcast=broadcast_to([subscribed_contact()]), send_at=NOW
    )

    assert broadcasts.broadcasts_start_due(now=NOW - dt.timedelta(seconds=1)) == 0
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.SCHEDULED
    assert Message.objects.count() == 0


def test_members_are_queued_in_chunks_and_a_crash_part_way_resumes_without_duplicates():
    members = [subscribed_contact() for _ in range(5)]
    broadcast = broadcast_to(members, status=Broadcast.Status.SENDING, send_at=NOW)
    Message.objects.create(
        contact=members[2], template=broadcast.template, broadcast_id=broadcast.pk
    )  # before the crash

    with mock.patch.object(broadcasts, "QUEUE_CHUNK", 2):
        assert broadcasts.broadcasts_start_due(now=NOW) == 4

    assert sorted(Message.objects.values_list("contact_id", flat=True)) == sorted(
        m.pk for m in members
    )
    broadcast.refresh_from_db()
    assert broadcast.queued_count == 5


def test_a_broadcast_to_an_empty_segment_is_sent_at_once():
    broadcast = broadcasts.broadcast_schedule(broadcast=broadcast_to([]), send_at=NOW)

    assert broadcasts.broadcasts_start_due(now=NOW) == 0
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.SENT


def test_a_broadcast_being_sent_cannot_be_rescheduled_or_cancelled():
    broadcast = broadcast_to([], status=Broadcast.Status.SENDING)

    with pytest.raises(ValidationFailed) as scheduling:
        broadcasts.broadcast_schedule(broadcast=broadcast, send_at=NOW)
    with pytest.raises(ValidationFailed) as cancelling:
        broadcasts.broadcast_cancel(broadcast=broadcast)

    assert (scheduling.value.code, cancelling.value.code) == (
        "broadcast_started",
        "broadcast_not_scheduled",
    )


# --- Back office ----------------------------------------------------------------------------


def test_the_listing_shows_each_broadcasts_counts(admin_client):
    broadcast = broadcast_to([], status=Broadcast.Status.SENT, queued_count=3)
    template = broadcast.template
    for status, opened in (
        (Message.Status.SENT, True),
        (Message.Status.SENT, False),
        (Message.Status.SUPPRESSED, False),
    ):
        Message.objects.create(
            contact=ContactFactory(),
            template=template,
            broadcast_id=broadcast.pk,
            status=status,
            opened_at=NOW if opened else None,
        )

    response = admin_client.get(reverse("broadcasts:index"))

    assert response.status_code == 200
    (row,) = response.context["object_list"]
    assert (row.sent_count, row.not_sent_count, row.opened_count, row.clicked_count) == (2, 1, 1, 0)


def test_send_now_schedules_the_broadcast_for_the_next_pass(admin_client):
    broadcast = broadcast_to([subscribed_contact()])

    page = admin_client.get(reverse(SEND_URL_NAME, args=[broadcast.pk]))
    response = admin_client.post(reverse(SEND_URL_NAME, args=[broadcast.pk]), {"when": "now"})

    assert page.status_code == 200
    assert "to the 1 lead now in" in page.content.decode()
    assert response.status_code == 302
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.SCHEDULED
    assert broadcast.send_at <= timezone.now()


def test_a_sent_broadcast_cannot_be_edited(admin_client):
    broadcast = broadcast_to([], status=Broadcast.Status.SENT)

    response = admin_client.get(reverse("broadcasts:edit", args=[broadcast.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("broadcasts:index")
