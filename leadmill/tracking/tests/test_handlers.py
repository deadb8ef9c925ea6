"""Subscribers of tracking: the first touch of a contact's earlier visits, and bots kept out."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from leadmill.contacts.models import Contact, LifecycleStage, StageChange
from leadmill.contacts.tests.factories import ContactFactory

from ..events import VisitorIdentified
from ..handlers import first_touch_from_visits
from ..models import Channel, Event
from ..selectors import contact_attribution, contact_first_touch, contact_touches
from ..services import visitor_identify
from .factories import EventFactory, VisitorFactory

pytestmark = pytest.mark.django_db

VID = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def newsletter_view(visitor, at, **fields):
    return EventFactory(
        visitor=visitor,
        occurred_at=at,
        url="https://www.example.com/blog?utm_source=newsletter",
        referrer="",
        channel=Channel.EMAIL,
        source="newsletter",
        medium="email",
        campaign="nov",
        **fields,
    )


def identified(contact, visitor) -> VisitorIdentified:
    return VisitorIdentified(
        visitor_id=visitor.pk, contact_id=contact.pk, events_attached=1, occurred_at=timezone.now()
    )


def test_an_earlier_tracked_touch_becomes_the_contacts_first_touch(
    django_capture_on_commit_callbacks,
):
    # Given a contact whose form post (today, no UTM) was its first known touch
    now = timezone.now()
    contact = ContactFactory(
        first_touch_at=now, first_landing_url="https://leads.example.com/ebook/"
    )
    visitor = VisitorFactory(id=VID)
    newsletter_view(visitor, now - dt.timedelta(minutes=5))

    # When its browser is identified (the handler runs after commit, as subscribed)
    with django_capture_on_commit_callbacks(execute=True):
        visitor_identify(visitor_id=VID, contact_id=contact.pk)

    # Then the newsletter visit is the first touch
    contact.refresh_from_db()
    assert (contact.first_source, contact.first_medium, contact.first_campaign) == (
        "newsletter",
        "email",
        "nov",
    )
    assert contact.first_landing_url == "https://www.example.com/blog?utm_source=newsletter"
    assert contact.first_touch_at == now - dt.timedelta(minutes=5)


def test_a_later_tracked_touch_leaves_the_first_touch_alone():
    now = timezone.now()
    contact = ContactFactory(
        first_source="instagram", first_medium="social", first_touch_at=now - dt.timedelta(days=3)
    )
    visitor = VisitorFactory(id=VID, contact=contact)
    newsletter_view(visitor, now, contact=contact)

    first_touch_from_visits(identified(contact, visitor))

    contact.refresh_from_db()
    assert (contact.first_source, contact.first_medium, contact.first_touch_at) == (
        "instagram",
        "social",
        now - dt.timedelta(days=3),
    )


def test_the_handler_is_idempotent():
    now = timezone.now()
    contact = ContactFactory(first_touch_at=None)
    visitor = VisitorFactory(id=VID, contact=contact)
    newsletter_view(visitor, now - dt.timedelta(hours=1), contact=contact)

    first_touch_from_visits(identified(contact, visitor))
    first_touch_from_visits(identified(contact, visitor))

    contact.refresh_from_db()
    assert (contact.first_source, contact.first_touch_at) == (
        "newsletter",
        now - dt.timedelta(hours=1),
    )


def test_a_bot_user_agents_page_views_are_flagged_and_count_as_no_touch(
    client, django_capture_on_commit_callbacks
):
    # Given a crawler that viewed a page from a newsletter link, and later became a contact's browser
    contact = ContactFactory(first_touch_at=None)
    StageChange.objects.create(
        contact=contact, from_stage="", to_stage=LifecycleStage.LEAD, changed_at=timezone.now()
    )
    response = client.post(
        "/t/collect",
        data=json.dumps(
            [
                {
                    "type": "page_view",
                    "visitor_id": VID,
                    "ts": int((timezone.now() - dt.timedelta(minutes=1)).timestamp() * 1000),
                    "url": "http://testserver/ebook/?utm_source=newsletter&utm_medium=email&utm_campaign=nov",
                }
            ]
        ),
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
        HTTP_USER_AGENT=GOOGLEBOT,
    )
    assert response.status_code == 204

    # When the visitor is identified
    with django_capture_on_commit_callbacks(execute=True):
        visitor_identify(visitor_id=VID, contact_id=contact.pk)

    # Then the page view is kept, flagged, attached, and counts nowhere
    stored = Event.objects.get()
    assert (stored.is_bot, stored.contact_id, stored.source) == (True, contact.pk, "newsletter")
    assert contact_touches(contact_id=contact.pk) == []
    assert contact_first_touch(contact_id=contact.pk) is None
    [lead] = contact_attribution(contact_id=contact.pk)
    assert (lead.stage, lead.touches) == (LifecycleStage.LEAD, [])
    assert all(credits == [] for credits in lead.credits.values())
    assert Contact.objects.get(pk=contact.pk).first_source == ""


def test_the_same_page_view_from_a_browser_is_a_touch(client, django_capture_on_commit_callbacks):
    # The counterpart of the bot test above: it would fail if nothing ever counted
    contact = ContactFactory(first_touch_at=None)
    client.post(
        "/t/collect",
        data=json.dumps(
            [
                {
                    "type": "page_view",
                    "visitor_id": VID,
                    "url": "http://testserver/ebook/?utm_source=newsletter&utm_medium=email&utm_campaign=nov",
                }
            ]
        ),
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
        HTTP_USER_AGENT=CHROME,
    )

    with django_capture_on_commit_callbacks(execute=True):
        visitor_identify(visitor_id=VID, contact_id=contact.pk)

    [touch] = contact_touches(contact_id=contact.pk)
    assert (touch.source, touch.medium, touch.campaign) == ("newsletter", "email", "nov")
    assert Contact.objects.get(pk=contact.pk).first_source == "newsletter"
