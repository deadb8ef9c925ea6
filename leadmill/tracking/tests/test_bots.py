"""Bot filtering (bots.py) with the rules the data migration seeds."""

import datetime as dt

import pytest

from ..bots import Activity, BotPattern, _verdict, inhuman_visitors, is_bot
from ..models import BotRule
from ..selectors import bot_rules_active, config_cache_clear

pytestmark = pytest.mark.django_db

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
IPHONE_INSTAGRAM = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Instagram 334.0.4.32.98 (iPhone14,5; iOS 17_5; en_US; en; scale=3.00; 1170x2532)"
)
CUBOT_PHONE = "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"


CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Googlebot-Image/1.0",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
    "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; help@moz.com)",
    "Mozilla/5.0 (compatible; Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
    "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
    "(compatible; Bytespider; spider-feedback@bytedance.com)",
    "Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "TelegramBot (like TwitterBot)",
    "WhatsApp/2.23.20.0",
    "Pinterestbot/1.0 (+http://www.pinterest.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "python-requests/2.32.3",
    "python-httpx/0.27.0",
    "Python-urllib/3.11",
    "aiohttp/3.9.5",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "curl/8.5.0",
    "Wget/1.21.4",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "axios/1.7.2",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "PostmanRuntime/7.39.0",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Mozilla/5.0 (compatible; Pingdom.com_bot_version_1.4; http://www.pingdom.com/)",
    "",
    "   ",
]

BROWSERS = [
    CHROME,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    IPHONE_INSTAGRAM,
    "Mozilla/5.0 (Linux; Android 14; SM-A546B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/131.0.6778.135 Mobile Safari/537.36 Instagram 358.0.0.51.97 Android "
    "(34/14; 450dpi; 1080x2340; samsung; SM-A546B; a54x; s5e8835; pt_BR; 660194316)",
    "Mozilla/5.0 (Linux; Android 14; SM-S911B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/125.0.6422.165 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/468.0.0.55.105;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 "
    "Mobile/15E148 Safari/604.1",
    CUBOT_PHONE,
]


@pytest.mark.parametrize("user_agent", CRAWLERS)
def test_crawlers_and_automation_are_bots(user_agent):
    assert is_bot(user_agent, bot_rules_active()) is True


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_real_browsers_are_not_bots(user_agent):
    assert is_bot(user_agent, bot_rules_active()) is False


def test_a_rule_added_by_a_marketer_counts_and_an_invalid_regex_is_ignored():
    rules = (
        BotPattern("AcmeMonitor"),
        BotPattern("(unclosed", is_regex=True),
        BotPattern(r"^Lynx/\d", is_regex=True),
    )

    assert is_bot("Mozilla/5.0 acmemonitor/1", rules) is True
    assert is_bot("Lynx/2.9 libwww-FM", rules) is True
    assert is_bot(CHROME, rules) is False


def test_without_rules_the_crawler_list_still_applies_and_an_empty_user_agent_is_a_bot():
    assert is_bot(CHROME, ()) is False
    assert is_bot("curl/8.5.0", ()) is True
    assert is_bot("", ()) is True


def test_an_allow_rule_exempts_a_user_agent_from_the_crawler_list_and_from_bot_rules():
    # given: the company's own uptime check, which the crawler list knows as a tool
    monitor = "AcmeStatus/1.0 python-requests/2.32.3"
    rules = (BotPattern("AcmeStatus", allows=True), BotPattern("Acme"))

    # then: the exception wins over both; other tools stay bots
    assert is_bot(monitor, ()) is True
    assert is_bot(monitor, rules) is False
    assert is_bot("Acme-Other/1.0", rules) is True
    assert is_bot("python-requests/2.32.3", rules) is True


def test_an_allow_rule_saved_in_the_admin_exempts_a_user_agent(settings):
    BotRule.objects.create(pattern="AcmeStatus", action=BotRule.Action.ALLOW)
    config_cache_clear()

    assert is_bot("AcmeStatus/1.0 python-requests/2.32.3", bot_rules_active()) is False


def test_each_user_agent_is_judged_once_per_process_and_set_of_rules():
    rules = (BotPattern("AcmeMonitor"),)
    user_agent = CHROME + " judged-once"
    is_bot(user_agent, rules)
    misses = _verdict.cache_info().misses

    assert [is_bot(user_agent, rules) for _ in range(3)] == [False, False, False]
    assert _verdict.cache_info().misses == misses


T0 = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def views(visitor_id, *offsets_ms, kind="page_view"):
    return [Activity(visitor_id, kind, T0 + dt.timedelta(milliseconds=ms)) for ms in offsets_ms]


def test_more_page_views_in_one_second_than_allowed_is_inhuman():
    batch = views("fast", 0, 100, 200, 300, 400) + views("calm", 0, 1000, 2000, 3000, 4000)

    assert inhuman_visitors(batch, max_page_views_per_second=4) == {"fast"}


def test_exactly_the_limit_within_one_second_is_human():
    assert (
        inhuman_visitors(views("v", 0, 250, 500, 750, 1000), max_page_views_per_second=4) == set()
    )


def test_a_fast_visitor_who_also_clicked_is_human():
    batch = views("fast", 0, 100, 200, 300, 400) + views("fast", 500, kind="cta_click")

    assert inhuman_visitors(batch, max_page_views_per_second=4) == set()


def test_events_without_a_visitor_are_never_flagged():
    assert inhuman_visitors(views("", 0, 1, 2, 3, 4, 5), max_page_views_per_second=1) == set()
