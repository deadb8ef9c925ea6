"""Bounce and complaint webhooks of the email service provider put addresses on the
suppression list. Real Postmark payloads (fixtures/postmark/*.json, the shape of Postmark's
webhook documentation) go through django-anymail's own webhook view under /anymail/."""

import base64
import os
from pathlib import Path

import pytest

from leadmill.consent.models import Suppression
from leadmill.consent.selectors import address_hash, is_suppressed, may_receive_email

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "postmark"
TRACKING_URL = "/anymail/postmark/tracking/"
SECRET = "postmark:a-long-webhook-password"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post_fixture(client, name: str, *, secret: str = SECRET):
    return client.post(
        TRACKING_URL,
        data=(FIXTURES / name).read_text(),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(secret.encode()).decode(),
    )


def test_a_hard_bounce_suppresses_the_address(client):
    response = post_fixture(client, "hard_bounce.json")

    assert response.status_code == 200
    row = Suppression.objects.get()
    assert (row.address_hash, row.reason) == (address_hash("gone.away@example.com"), "hard_bounce")
    assert row.detail.startswith("Postmark: The server was unable to deliver your message")
    assert may_receive_email(email="gone.away@example.com") is False


def test_a_spam_complaint_suppresses_the_address_as_a_complaint(client):
    response = post_fixture(client, "spam_complaint.json")

    assert response.status_code == 200
    assert list(Suppression.objects.values_list("address_hash", "reason")) == [
        (address_hash("angry@example.com"), "complaint")
    ]


def test_a_soft_bounce_does_not_suppress_the_address(client):
    response = post_fixture(client, "soft_bounce.json")

    assert response.status_code == 200
    assert is_suppressed(email="full.mailbox@example.com") is False
    assert Suppression.objects.count() == 0


def test_the_same_bounce_delivered_twice_keeps_one_suppression(client):
    post_fixture(client, "hard_bounce.json")
    response = post_fixture(client, "hard_bounce.json")

    assert response.status_code == 200
    assert Suppression.objects.count() == 1


def test_a_webhook_without_the_secret_is_refused_and_suppresses_nothing(client):
    response = post_fixture(client, "hard_bounce.json", secret="postmark:guessed")

    assert response.status_code == 400
    assert Suppression.objects.count() == 0


def test_webhooks_refuse_everyone_when_no_secret_is_configured(client, settings):
    import leadmill.settings as computed

    if os.environ.get("ANYMAIL_WEBHOOK_SECRET"):
        pytest.skip("ANYMAIL_WEBHOOK_SECRET is set in this environment")
    settings.ANYMAIL = computed.ANYMAIL  # what settings.py made of the unset variable

    without_auth = client.post(
        TRACKING_URL,
        data=(FIXTURES / "hard_bounce.json").read_text(),
        content_type="application/json",
    )
    empty_auth = post_fixture(client, "hard_bounce.json", secret=":")

    assert (without_auth.status_code, empty_auth.status_code) == (400, 400)
    assert Suppression.objects.count() == 0


@pytest.mark.parametrize(
    ("esp_name", "event_type", "reject_reason", "esp_event", "expected"),
    [
        (
            "Amazon SES",
            "bounced",
            "bounced",
            {"bounce": {"bounceType": "Permanent"}},
            "hard_bounce",
        ),
        ("Amazon SES", "bounced", "bounced", {"bounce": {"bounceType": "Transient"}}, None),
        ("Brevo", "bounced", "bounced", {"event": "hard_bounce"}, "hard_bounce"),
        ("Brevo", "bounced", "bounced", {"event": "soft_bounce"}, None),
        (
            "SparkPost",
            "bounced",
            "bounced",
            {"msys": {"message_event": {"bounce_class": "22"}}},
            None,
        ),
        ("Mailgun", "deferred", None, {"severity": "temporary"}, None),
        ("Postmark", "rejected", "invalid", {"Type": "BadEmailAddress"}, "hard_bounce"),
        ("Postmark", "rejected", "blocked", {"Type": "Blocked"}, None),
        ("Postmark", "unsubscribed", "unsubscribed", {"Type": "Unsubscribe"}, None),
        ("Mailgun", "complained", "spam", {}, "complaint"),
    ],
)
def test_which_provider_events_suppress_an_address(
    esp_name, event_type, reject_reason, esp_event, expected
):
    from anymail.signals import AnymailTrackingEvent

    from ..bounces import suppression_reason

    event = AnymailTrackingEvent(
        event_type=event_type,
        reject_reason=reject_reason,
        esp_event=esp_event,
        recipient="a@example.com",
    )

    assert suppression_reason(event, esp_name=esp_name) == expected
