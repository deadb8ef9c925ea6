"""The public email endpoints: open pixel, click redirect, one-click unsubscribe, preferences."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone

from leadmill.consent.models import Consent
from leadmill.consent.selectors import consent_current
from leadmill.consent.tests.factories import PurposeFactory, consent_give
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.tracking.models import Event

from .. import tokens
from ..emails import click_url
from ..models import Message
from .factories import EmailTemplateFactory, MessageFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BASE = "https://leads.example.com"


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_URL = BASE


def click_path(message_pk, url):
    return click_url(message_pk, url).removeprefix(BASE)


@pytest.fixture
def client():
    """A client without cookies that enforces CSRF, like a mailbox provider's one-click POST."""
    return Client(enforce_csrf_checks=True, headers={"user-agent": BROWSER})


@pytest.fixture
def subscriber():
    contact = ContactFactory(email="ana@example.com")
    consent_give(contact)
    return contact


def sent_message(contact, **kwargs):
    return MessageFactory(
        contact=contact,
        status=Message.Status.SENT,
        sent_at=timezone.now() - dt.timedelta(hours=1),
        **kwargs,
    )


def withdrawals(contact):
    return list(
        Consent.objects.filter(contact=contact, granted=False).values_list("purpose__key", "method")
    )


# --- one-click unsubscribe ----------------------------------------------------------------------


def test_one_click_post_without_cookies_or_csrf_token_unsubscribes(client, subscriber):
    message = sent_message(subscriber)

    response = client.post(
        f"/e/u/{tokens.unsubscribe_token(message.pk)}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    assert withdrawals(subscriber) == [("email-marketing", "unsubscribe")]
    assert consent_current(contact_id=subscriber.pk) == {"email-marketing": False}
    assert response.cookies == {}


def test_get_shows_the_button_and_writes_nothing(client, subscriber):
    message = sent_message(subscriber)
    token = tokens.unsubscribe_token(message.pk)

    response = client.get(f"/e/u/{token}")

    assert response.status_code == 200
    assert b'<button type="submit" class="lm-button">Unsubscribe</button>' in response.content
    assert f'href="/e/p/{token}"'.encode() in response.content
    assert withdrawals(subscriber) == []
    assert response.cookies == {}


def test_unsubscribing_twice_writes_one_withdrawal(client, subscriber):
    url = f"/e/u/{tokens.unsubscribe_token(sent_message(subscriber).pk)}"

    first, second = client.post(url), client.post(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(withdrawals(subscriber)) == 1


def test_an_email_of_one_subscription_type_unsubscribes_from_that_type_only(client, subscriber):
    newsletter = PurposeFactory(key="newsletter", name="Newsletter")
    consent_give(subscriber, newsletter)
    message = sent_message(subscriber, template=EmailTemplateFactory(purpose=newsletter))

    client.post(f"/e/u/{tokens.unsubscribe_token(message.pk)}")

    assert consent_current(contact_id=subscriber.pk) == {
        "email-marketing": True,
        "newsletter": False,
    }


@pytest.mark.parametrize("path", ["/e/u/1.forged", "/e/p/1.forged", "/e/u/nonsense"])
def test_a_bad_token_gets_a_400_page_and_writes_nothing(client, subscriber, path):
    sent_message(subscriber)

    response = client.post(path)

    assert response.status_code == 400
    assert b"This link does not work" in response.content
    assert withdrawals(subscriber) == []


# --- preference centre ---------------------------------------------------------------------------


def test_the_preference_centre_lists_email_subscription_types_with_the_current_answer(
    client, subscriber
):
    PurposeFactory(key="newsletter", name="Newsletter")
    PurposeFactory(key="partners", name="Partner offers", is_email_marketing=False)
    message = sent_message(subscriber)

    response = client.get(f"/e/p/{tokens.unsubscribe_token(message.pk)}")

    assert response.status_code == 200
    purposes = [(p.key, subscribed) for p, subscribed in response.context["purposes"]]
    assert purposes == [("email-marketing", True), ("newsletter", False)]
    assert response.cookies == {}


def test_saving_preferences_grants_the_ticked_and_withdraws_the_unticked(client, subscriber):
    newsletter = PurposeFactory(key="newsletter", name="Newsletter")
    message = sent_message(subscriber)

    response = client.post(
        f"/e/p/{tokens.unsubscribe_token(message.pk)}",
        {"purpose": [newsletter.pk], "action": "save"},
    )

    assert response.status_code == 200
    assert b"Your preferences are saved." in response.content
    assert consent_current(contact_id=subscriber.pk) == {
        "email-marketing": False,
        "newsletter": True,
    }
    grant = Consent.objects.get(contact=subscriber, purpose=newsletter)
    assert (grant.granted, grant.awaiting_confirmation, grant.purpose_text_id) == (
        True,
        False,
        newsletter.current_text.pk,
    )


def test_unsubscribe_from_all_withdraws_every_email_subscription(client, subscriber):
    newsletter = PurposeFactory(key="newsletter", name="Newsletter")
    consent_give(subscriber, newsletter)
    message = sent_message(subscriber)

    client.post(
        f"/e/p/{tokens.unsubscribe_token(message.pk)}",
        {"purpose": [newsletter.pk], "action": "unsubscribe_all"},
    )

    assert consent_current(contact_id=subscriber.pk) == {
        "email-marketing": False,
        "newsletter": False,
    }


# --- open pixel and click redirect -------------------------------------------------------------


def test_the_open_pixel_is_a_gif_that_is_never_cached_even_for_a_bad_token(client):
    response = client.get("/e/o/1.forged.gif")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"]
    assert Event.objects.count() == 0


def test_a_human_open_records_the_event_and_sets_opened_at_once(client, subscriber):
    message = sent_message(subscriber)
    pixel = f"/e/o/{tokens.open_token(message.pk)}.gif"

    client.get(pixel)
    first_open = Message.objects.get(pk=message.pk).opened_at
    client.get(pixel)

    assert first_open is not None
    assert Message.objects.get(pk=message.pk).opened_at == first_open
    assert (
        list(Event.objects.values_list("type", "is_bot", "contact_id"))
        == [("email_open", False, subscriber.pk)] * 2
    )
    assert Event.objects.first().properties == {
        "message_id": message.pk,
        "template_id": message.template_id,
    }


def test_the_click_redirect_goes_to_the_signed_url_and_records_the_click(client, subscriber):
    message = sent_message(subscriber)
    url = "https://example.com/guide?a=1&b=2"

    response = client.get(click_path(message.pk, url))

    assert response.status_code == 302
    assert response["Location"] == url
    event = Event.objects.get()
    assert (event.type, event.url, event.is_bot, event.properties["url"]) == (
        "email_click",
        url,
        False,
        url,
    )


def test_the_click_names_the_browser_and_gives_one_without_an_id_the_trackers_cookie(
    client, subscriber
):
    message = sent_message(subscriber)
    url = "https://example.com/guide"

    first = client.get(click_path(message.pk, url))  # a browser with no lm_vid yet
    minted = first.cookies["lm_vid"].value
    again = client.get(click_path(message.pk, url))  # the same browser, now with it

    assert len(minted) == 32 and first.cookies["lm_vid"]["samesite"] == "Lax"
    assert "lm_vid" not in again.cookies  # kept, not replaced
    assert [e.properties["visitor_id"] for e in Event.objects.order_by("pk")] == [minted] * 2


def test_in_the_cookieless_mode_the_click_sets_no_cookie_and_names_no_browser(
    client, subscriber, settings
):
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = True
    message = sent_message(subscriber)

    response = client.get(click_path(message.pk, "https://example.com/guide"))

    assert response.status_code == 302 and response.cookies == {}
    assert "visitor_id" not in Event.objects.get().properties


def test_the_click_redirect_refuses_a_tampered_url(client, subscriber):
    message = sent_message(subscriber)
    signed = click_path(message.pk, "https://example.com/guide")
    tampered = signed.split("?u=")[0] + "?u=https%3A%2F%2Fevil.example%2F"

    response = client.get(tampered)

    assert response.status_code == 400
    assert Event.objects.count() == 0
    assert Message.objects.get(pk=message.pk).clicked_at is None


def test_a_valid_click_of_a_deleted_message_still_redirects(client):
    response = client.get(click_path(987654, "https://example.com/"))

    assert (response.status_code, response["Location"]) == (302, "https://example.com/")


def test_a_replayed_pixel_stops_recording_after_the_per_message_limit(
    client, subscriber, monkeypatch
):
    monkeypatch.setattr(
        "leadmill.core.ratelimit.time", SimpleNamespace(time=lambda: 1_800_000_010.0)
    )  # one window
    message = sent_message(subscriber)
    pixel = f"/e/o/{tokens.open_token(message.pk)}.gif"

    responses = [client.get(pixel) for _ in range(25)]

    assert {response.status_code for response in responses} == {200}
    assert Event.objects.count() == 20
