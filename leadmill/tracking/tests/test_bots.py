"""Bot filtering (bots.py) with the rules the data migration seeds."""

import datetime as dt

import pytest

from ..bots import Activity, BotPattern, inhuman_visitors, is_bot
from ..selectors import bot_rules_active

pytestmark = pytest.mark.django_db

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
IPHONE_INSTAGRAM = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Instagram 334.0.4.32.98 (iPhone14,5; iOS 17_5; en_US; en; scale=3.00; 1170x2532)"
)
CUBOT_PHONE = "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
        "python-requests/2.32.3",
        "curl/8.5.0",
        "Wget/1.21.4",
        "Go-http-client/1.1",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        "",
        "   ",
    ],
)
def test_crawlers_and_automation_are_bots(user_agent):
    assert is_bot(user_agent, bot_rules_active()) is True


@pytest.mark.parametrize("user_agent", [CHROME, IPHONE_INSTAGRAM, CUBOT_PHONE])
def test_real_browsers_are_not_bots(user_agent):
    assert is_bot(user_agent, bot_rules_active()) is False


def test_a_rule_added_by_a_marketer_counts_and_an_invalid_regex_is_ignored():
    rules = (BotPattern("AcmeMonitor"), BotPattern("(unclosed", is_regex=True), BotPattern(r"^Lynx/\d", is_regex=True))

    assert is_bot("Mozilla/5.0 acmemonitor/1", rules) is True
    assert is_bot("Lynx/2.9 libwww-FM", rules) is True
    assert is_bot(CHROME, rules) is False


def test_no_rules_only_an_empty_user_agent_is_a_bot():
    assert is_bot(CHROME, ()) is False
    assert is_bot("", ()) is True


T0 = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def views(visitor_id, *offsets_ms, kind="page_view"):
    return [Activity(visitor_id, kind, T0 + dt.timedelta(milliseconds=ms)) for ms in offsets_ms]


def test_more_page_views_in_one_second_than_allowed_is_inhuman():
    batch = views("fast", 0, 100, 200, 300, 400) + views("calm", 0, 1000, 2000, 3000, 4000)

    assert inhuman_visitors(batch, max_page_views_per_second=4) == {"fast"}


def test_exactly_the_limit_within_one_second_is_human():
    assert inhuman_visitors(views("v", 0, 250, 500, 750, 1000), max_page_views_per_second=4) == set()


def test_a_fast_visitor_who_also_clicked_is_human():
    batch = views("fast", 0, 100, 200, 300, 400) + views("fast", 500, kind="cta_click")

    assert inhuman_visitors(batch, max_page_views_per_second=4) == set()


def test_events_without_a_visitor_are_never_flagged():
    assert inhuman_visitors(views("", 0, 1, 2, 3, 4, 5), max_page_views_per_second=1) == set()
