"""Security scanners and prefetchers are recorded as bots and never count as opens or clicks."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from leadmill.consent.tests.factories import consent_give
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.tracking.models import BotRule, Event
from leadmill.tracking.selectors import config_cache_clear

from .. import tokens
from ..emails import click_url
from ..models import Message
from ..scanners import click_record, open_record, scanner_reason
from .factories import MessageFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
BARRACUDA = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
BASE = "https://leads.example.com"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.BASE_URL = BASE
    settings.LEADMILL_EMAIL_SCANNER_CLICK_SECONDS = 10


def message_sent(seconds_ago: float) -> Message:
    contact = ContactFactory()
    consent_give(contact)
    return MessageFactory(
        contact=contact,
        status=Message.Status.SENT,
        sent_at=timezone.now() - dt.timedelta(seconds=seconds_ago),
    )


def click(message, url="https://example.com/guide", user_agent=BROWSER):
    return Client(headers={"user-agent": user_agent}).get(
        click_url(message.pk, url).removeprefix(BASE)
    )


def refreshed(message):
    return Message.objects.get(pk=message.pk)


def test_a_click_two_seconds_after_sending_is_a_bot_click():
    message = message_sent(seconds_ago=2)

    response = click(message)

    assert response.status_code == 302  # the scanner is still redirected
    event = Event.objects.get()
    assert (event.type, event.is_bot, event.properties["bot_reason"]) == (
        "email_click",
        True,
        "too soon after sending",
    )
    assert refreshed(message).clicked_at is None


def test_a_barracuda_click_is_a_bot_click():
    message = message_sent(seconds_ago=3600)

    click(message, user_agent=BARRACUDA)

    assert list(Event.objects.values_list("is_bot", flat=True)) == [True]
    assert refreshed(message).clicked_at is None
    assert refreshed(message).opened_at is None


def test_a_human_click_sets_clicked_at_and_opened_at():
    message = message_sent(seconds_ago=3600)

    click(message)

    assert list(Event.objects.values_list("is_bot", flat=True)) == [False]
    assert refreshed(message).clicked_at is not None
    assert refreshed(message).opened_at == refreshed(message).clicked_at


def test_a_barracuda_open_is_a_bot_open():
    message = message_sent(seconds_ago=3600)

    Client(headers={"user-agent": BARRACUDA}).get(f"/e/o/{tokens.open_token(message.pk)}.gif")

    assert list(Event.objects.values_list("type", "is_bot")) == [("email_open", True)]
    assert refreshed(message).opened_at is None


def test_outlook_loading_images_is_an_open_but_office_fetching_a_link_is_not_a_click():
    message = message_sent(seconds_ago=3600)

    Client(headers={"user-agent": OUTLOOK}).get(f"/e/o/{tokens.open_token(message.pk)}.gif")
    click(message, user_agent=OUTLOOK)

    assert list(Event.objects.order_by("pk").values_list("type", "is_bot")) == [
        ("email_open", False),
        ("email_click", True),
    ]
    assert refreshed(message).opened_at is not None
    assert refreshed(message).clicked_at is None


def test_gmail_s_image_proxy_counts_as_an_open():
    message = message_sent(seconds_ago=3600)

    hit = open_record(message_pk=message.pk, user_agent=GMAIL_PROXY)

    assert hit.is_bot is False
    assert refreshed(message).opened_at is not None


def test_tracking_s_bot_rules_apply_to_email_too():
    assert (
        scanner_reason(user_agent="curl/8.5.0", kind="click", sent_at=None, at=timezone.now())
        == "bot user agent"
    )
    assert (
        scanner_reason(user_agent="", kind="open", sent_at=None, at=timezone.now())
        == "bot user agent"
    )
    assert scanner_reason(user_agent=BROWSER, kind="click", sent_at=None, at=timezone.now()) == ""


def test_a_crawler_on_the_maintained_list_is_a_bot_for_email_and_an_allow_rule_exempts_it():
    now = timezone.now()
    semrush = "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)"

    assert (
        scanner_reason(user_agent=semrush, kind="click", sent_at=None, at=now) == "bot user agent"
    )
    assert scanner_reason(user_agent=semrush, kind="open", sent_at=None, at=now) == "bot user agent"

    BotRule.objects.create(pattern="SemrushBot", action=BotRule.Action.ALLOW)
    config_cache_clear()
    assert scanner_reason(user_agent=semrush, kind="click", sent_at=None, at=now) == ""


def test_webmail_image_proxies_open_as_the_person_though_the_crawler_list_knows_them():
    yahoo = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
    now = timezone.now()

    assert scanner_reason(user_agent=yahoo, kind="open", sent_at=None, at=now) == ""
    assert scanner_reason(user_agent=GMAIL_PROXY, kind="open", sent_at=None, at=now) == ""
    assert (
        scanner_reason(user_agent=GMAIL_PROXY, kind="click", sent_at=None, at=now)
        == "bot user agent"
    )


def test_a_scanner_is_still_recognised():
    now = timezone.now()

    assert (
        scanner_reason(user_agent=BARRACUDA, kind="open", sent_at=None, at=now)
        == "scanner user agent"
    )
    assert (
        scanner_reason(user_agent=OUTLOOK, kind="click", sent_at=None, at=now)
        == "office link check"
    )


def test_three_links_clicked_within_five_seconds_turn_the_whole_burst_into_bot_clicks():
    message = message_sent(seconds_ago=3600)
    start = timezone.now()

    click_record(message_pk=message.pk, url="https://example.com/a", user_agent=BROWSER, at=start)
    click_record(
        message_pk=message.pk,
        url="https://example.com/b",
        user_agent=BROWSER,
        at=start + dt.timedelta(seconds=1),
    )
    assert refreshed(message).clicked_at == start
    hit = click_record(
        message_pk=message.pk,
        url="https://example.com/c",
        user_agent=BROWSER,
        at=start + dt.timedelta(seconds=2),
    )

    assert (hit.is_bot, hit.reason) == (True, "all links clicked at once")
    assert list(Event.objects.order_by("pk").values_list("url", "is_bot")) == [
        ("https://example.com/a", True),
        ("https://example.com/b", True),
        ("https://example.com/c", True),
    ]
    assert refreshed(message).clicked_at is None
    assert refreshed(message).opened_at is None


def test_a_burst_keeps_the_human_click_before_it():
    message = message_sent(seconds_ago=3600)
    start = timezone.now() - dt.timedelta(minutes=10)
    click_record(message_pk=message.pk, url="https://example.com/a", user_agent=BROWSER, at=start)
    later = timezone.now()

    for offset, link in enumerate("bcd"):
        click_record(
            message_pk=message.pk,
            url=f"https://example.com/{link}",
            user_agent=BROWSER,
            at=later + dt.timedelta(seconds=offset),
        )

    assert list(Event.objects.filter(is_bot=False).values_list("url", flat=True)) == [
        "https://example.com/a"
    ]
    assert refreshed(message).clicked_at == start


def test_two_clicks_on_the_same_link_are_not_a_burst():
    message = message_sent(seconds_ago=3600)
    at = timezone.now()

    for offset in range(3):
        click_record(
            message_pk=message.pk,
            url="https://example.com/a",
            user_agent=BROWSER,
            at=at + dt.timedelta(seconds=offset),
        )

    assert Event.objects.filter(is_bot=True).count() == 0
