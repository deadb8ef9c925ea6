"""The facts messaging publishes: one per thing that happened to an email, with the scanner
verdict on opens and clicks, written in the same transaction as what they report."""

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from leadmill.consent.tests.factories import consent_give
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.models import OutboxEvent

from .. import tokens
from ..emails import click_url
from ..models import Message
from .factories import MessageFactory
from .test_bounces import SECRET, TRACKING_URL, post_fixture

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel link scanner)"
BASE = "https://leads.example.com"


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_URL = BASE
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def facts(name):
    return [row.payload for row in OutboxEvent.objects.filter(name=name).order_by("pk")]


def sent_message(**kwargs):
    contact = ContactFactory(email="ana@example.com")
    consent_give(contact)
    return MessageFactory(
        contact=contact,
        status=Message.Status.SENT,
        sent_at=timezone.now() - dt.timedelta(hours=1),
        **kwargs,
    )


def test_a_person_opening_and_a_scanner_opening_are_both_published_and_told_apart():
    message = sent_message()
    pixel = f"/e/o/{tokens.open_token(message.pk)}.gif"

    Client(headers={"user-agent": BROWSER}).get(pixel)
    Client(headers={"user-agent": SCANNER}).get(pixel)

    assert [(f["message_id"], f["contact_id"], f["scanner"]) for f in facts("MessageOpened")] == [
        (message.pk, message.contact_id, False),
        (message.pk, message.contact_id, True),
    ]


def test_a_click_is_published_with_its_link_and_the_scanner_verdict():
    message = sent_message()
    path = click_url(message.pk, "https://example.com/guide").removeprefix(BASE)

    Client(headers={"user-agent": SCANNER}).get(path)
    Client(headers={"user-agent": BROWSER}).get(path)

    assert [
        (f["url"], f["scanner"], f["earlier_clicks_flagged"]) for f in facts("MessageClicked")
    ] == [
        ("https://example.com/guide", True, 0),
        ("https://example.com/guide", False, 0),
    ]


def test_an_unsubscribe_is_published_once_however_often_it_is_posted():
    message = sent_message()
    client = Client(headers={"user-agent": BROWSER})

    for _ in range(2):
        client.post(
            f"/e/u/{tokens.unsubscribe_token(message.pk)}",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )

    assert [
        (f["message_id"], f["contact_id"], f["purpose_ids"]) for f in facts("MessageUnsubscribed")
    ] == [(message.pk, message.contact_id, [])]


def test_a_bounce_of_one_of_our_messages_is_published_naming_it_once():
    # Given a message whose Message-ID the provider reports back
    message = sent_message()
    fixture = json.loads(
        (Path(__file__).parent / "fixtures" / "postmark" / "hard_bounce.json").read_text()
    )
    fixture["MessageID"] = message.message_id
    client = Client()

    # When the bounce arrives twice (providers retry webhooks)
    for _ in range(2):
        client.post(
            TRACKING_URL,
            data=json.dumps(fixture),
            content_type="application/json",
            HTTP_AUTHORIZATION=_auth(),
        )

    # Then one fact names the message and its contact
    assert [(f["message_id"], f["contact_id"]) for f in facts("MessageBounced")] == [
        (message.pk, message.contact_id)
    ]


def test_a_complaint_about_an_email_we_cannot_name_is_still_published(client):
    post_fixture(client, "spam_complaint.json")

    assert [(f["message_id"], f["contact_id"]) for f in facts("MessageComplained")] == [
        (None, None)
    ]


def _auth():
    return "Basic " + base64.b64encode(SECRET.encode()).decode()


def test_the_email_itself_records_its_bounce_complaint_and_unsubscribe_once():
    # Given three sent emails: one bounces, one is reported as spam, one is unsubscribed from
    bounced = sent_message()
    complained, left = (
        MessageFactory(contact=ContactFactory(), status=Message.Status.SENT, sent_at=timezone.now())
        for _ in range(2)
    )
    consent_give(left.contact)
    client = Client(headers={"user-agent": BROWSER})
    for message, name in ((bounced, "hard_bounce.json"), (complained, "spam_complaint.json")):
        fixture = json.loads((Path(__file__).parent / "fixtures" / "postmark" / name).read_text())
        fixture["MessageID"] = message.message_id
        client.post(
            TRACKING_URL,
            data=json.dumps(fixture),
            content_type="application/json",
            HTTP_AUTHORIZATION=_auth(),
        )
    for _ in range(2):
        client.post(
            f"/e/u/{tokens.unsubscribe_token(left.pk)}",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )

    # Then each row says what happened to it, and only that
    rows = {
        m.pk: (m.bounced_at is not None, m.complained_at is not None, m.unsubscribed_at is not None)
        for m in Message.objects.filter(pk__in=[bounced.pk, complained.pk, left.pk])
    }
    assert rows == {
        bounced.pk: (True, False, False),
        complained.pk: (False, True, False),
        left.pk: (False, False, True),
    }
