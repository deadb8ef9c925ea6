"""Broadcasts: one message per (broadcast, lead) whatever runs at once, a broken segment
stops only its own broadcast, and clearing "send at" unschedules
(leadmill/nurture/broadcasts.py, admin_broadcasts.py)."""

import datetime as dt
import logging
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from leadmill.messaging.models import Message
from leadmill.segments.models import Segment
from leadmill.segments.tests.factories import SegmentFactory, StaticSegmentFactory

from .. import broadcasts
from ..admin_broadcasts import SEND_URL_NAME
from ..models import Broadcast
from ..runner import nurture_pass
from .engine_factories import subscribed_contact
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def broadcast_to(segment, **fields) -> Broadcast:
    return Broadcast.objects.create(
        name="Spring launch", template=EmailTemplateFactory(), segment=segment, **fields
    )


def broken_segment() -> Segment:
    """A segment whose filters refer to a segment that was deleted."""
    gone = SegmentFactory()
    broken = SegmentFactory(conditions=[{"field": "in_segment", "value": gone.pk}])
    Segment.objects.filter(pk=gone.pk).delete()
    return broken


def test_a_lead_gets_one_message_of_a_broadcast_even_when_two_runs_queue_at_once():
    ana, bia = subscribed_contact(), subscribed_contact()
    broadcast = broadcast_to(StaticSegmentFactory(members=[ana, bia]), status="sending")
    Message.objects.create(contact=ana, template=broadcast.template, broadcast_id=broadcast.pk)

    # the other run's row is not seen by the "already queued" filter (not committed yet)
    with mock.patch.object(broadcasts, "Exists", lambda _rows: Q(pk__in=[])):
        queued = broadcasts.broadcasts_start_due(now=NOW)

    assert queued == 1
    assert sorted(Message.objects.values_list("contact_id", flat=True)) == sorted([ana.pk, bia.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(contact=bia, template=broadcast.template, broadcast_id=broadcast.pk)


def test_a_broadcast_whose_segment_is_broken_waits_and_the_others_go_out(caplog):
    reader = subscribed_contact()
    stuck = broadcast_to(broken_segment(), status="scheduled", send_at=NOW)
    going = broadcast_to(StaticSegmentFactory(members=[reader]), status="scheduled", send_at=NOW)

    with caplog.at_level(logging.ERROR, logger="leadmill.nurture.broadcasts"):
        report = nurture_pass(now=NOW, sweep_segments=False, send_rounds=0)

    assert report.broadcast_queued == 1
    assert list(Message.objects.values_list("broadcast_id", "contact_id")) == [
        (going.pk, reader.pk)
    ]
    stuck.refresh_from_db()
    assert (stuck.status, stuck.queued_count) == (Broadcast.Status.SENDING, 0)
    assert f"broadcast {stuck.pk}: its segment {stuck.segment_id} cannot be evaluated" in (
        caplog.text
    )


def test_the_send_screen_of_a_broadcast_with_a_broken_segment_says_so_and_does_not_send(
    admin_client,
):
    broadcast = broadcast_to(broken_segment())
    url = reverse(SEND_URL_NAME, args=[broadcast.pk])

    page = admin_client.get(url)
    sent = admin_client.post(url, {"when": "now"}, follow=True)

    assert page.status_code == 200
    assert "cannot be evaluated" in page.content.decode()
    assert 'value="now"' not in page.content.decode()
    assert [str(m) for m in sent.context["messages"]] == [
        f"Its segment “{broadcast.segment.name}” cannot be evaluated: "
        "A condition refers to a segment that no longer exists. Fix it first."
    ]
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.DRAFT


def test_clearing_send_at_of_a_scheduled_broadcast_makes_it_a_draft_again(admin_client):
    broadcast = broadcast_to(StaticSegmentFactory(), status="scheduled", send_at=NOW)

    response = admin_client.post(
        reverse("broadcasts:edit", args=[broadcast.pk]),
        {
            "name": "Spring launch",
            "template": broadcast.template_id,
            "segment": broadcast.segment_id,
            "send_at": "",
        },
    )

    assert response.status_code == 302
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.send_at) == (Broadcast.Status.DRAFT, None)
    assert broadcasts.broadcasts_start_due(now=NOW + dt.timedelta(days=365)) == 0
