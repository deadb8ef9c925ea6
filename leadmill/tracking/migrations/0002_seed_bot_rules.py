"""Seed the bot rules with common crawlers, link previewers and automation tools.

Matched case-insensitively against the User-Agent. Marketers add or switch off rules in
the admin (Snippets → Bot rules). Leadmill's own browser tests set a normal user agent:
headless Chromium announces itself as HeadlessChrome, which is listed here.
"""

from django.db import migrations

SUBSTRINGS = [
    ("crawler", "Generic crawlers"),
    ("spider", "Generic spiders (Baiduspider, …)"),
    ("crawl", "Generic crawlers (AhrefsBot/… crawl)"),
    ("slurp", "Yahoo! Slurp"),
    ("HeadlessChrome", "Headless Chrome (Puppeteer, Playwright, scrapers)"),
    ("PhantomJS", "PhantomJS"),
    ("Lighthouse", "Google Lighthouse / PageSpeed"),
    ("python-requests", "Python requests"),
    ("python-urllib", "Python urllib"),
    ("python-httpx", "Python httpx"),
    ("aiohttp", "Python aiohttp"),
    ("Scrapy", "Scrapy"),
    ("curl/", "curl"),
    ("Wget", "GNU Wget"),
    ("Go-http-client", "Go net/http"),
    ("okhttp", "OkHttp"),
    ("Apache-HttpClient", "Apache HttpClient"),
    ("Java/", "Java HTTP clients"),
    ("libwww-perl", "Perl LWP"),
    ("node-fetch", "node-fetch"),
    ("axios/", "axios"),
    ("undici", "Node.js undici"),
    ("facebookexternalhit", "Facebook link previews"),
    ("facebookcatalog", "Facebook catalog"),
    ("WhatsApp", "WhatsApp link previews"),
    ("Embedly", "Embedly"),
    ("Google-InspectionTool", "Google Search Console"),
    ("GoogleOther", "Google crawlers"),
    ("Google-Read-Aloud", "Google Read Aloud"),
    ("APIs-Google", "Google APIs"),
    ("Mediapartners-Google", "Google AdSense"),
    ("bingpreview", "Bing previews"),
    ("ia_archiver", "Alexa / Internet Archive"),
    ("archive.org", "Internet Archive"),
    ("HeadlessShell", "Chrome headless shell"),
    ("Selenium", "Selenium"),
    ("GPTBot", "OpenAI"),
    ("ChatGPT-User", "OpenAI"),
    ("ClaudeBot", "Anthropic"),
    ("Bytespider", "ByteDance"),
    ("PetalBot", "Huawei"),
    ("Preview", "Link previewers (Skype, Microsoft, …)"),
    ("monitor", "Uptime monitors"),
    ("uptime", "Uptime monitors"),
]
REGEXES = [
    (r"(?<!cu)bot", "Anything calling itself a bot (Googlebot, bingbot, Slackbot, robot, …), not Cubot phones"),
]


def seed(apps, schema_editor):
    BotRule = apps.get_model("tracking", "BotRule")
    BotRule.objects.bulk_create(
        [BotRule(pattern=pattern, kind="substring", description=description) for pattern, description in SUBSTRINGS]
        + [BotRule(pattern=pattern, kind="regex", description=description) for pattern, description in REGEXES],
        ignore_conflicts=True,
    )


def unseed(apps, schema_editor):
    BotRule = apps.get_model("tracking", "BotRule")
    BotRule.objects.filter(pattern__in=[pattern for pattern, _ in SUBSTRINGS + REGEXES]).delete()


class Migration(migrations.Migration):
    dependencies = [("tracking", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
