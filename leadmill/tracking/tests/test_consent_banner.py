"""Leadmill's own consent banner in headless Chromium: with consent required, the tracker
stores nothing in the browser until the visitor accepts, and a refusal keeps it that way."""

import pytest
from django.db import OperationalError

from leadmill.capture.demo import demo_seed
from leadmill.tracking.models import Event, EventType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def cookie(context, name: str) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == name), None)


def page_views_with_visitor(visitor_id: str) -> int:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            count = Event.objects.filter(type=EventType.PAGE_VIEW, visitor_id=visitor_id).count()
        except OperationalError:
            count = 0
        if count:
            return count
        time.sleep(0.1)
    return 0


@pytest.fixture
def consent_required(settings, live_server):
    settings.BASE_URL = live_server.url
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = True
    settings.LEADMILL_TRACKING_CONSENT_BANNER = True
    demo_seed()


def test_accepting_the_banner_lets_the_tracker_keep_a_visitor_id(
    browser, live_server, consent_required
):
    # Given a landing page while consent is required
    context = browser.new_context(user_agent=DESKTOP_CHROME)
    page = context.new_page()
    page.goto(f"{live_server.url}/ebook/")
    banner = page.get_by_role("region", name="Cookie consent")

    # Then the banner asks, and nothing is stored in the browser yet
    expect(banner).to_be_visible()
    page.wait_for_function("typeof window.leadmill === 'function'")
    assert cookie(context, "lm_vid") is None

    # When the visitor accepts
    banner.get_by_role("button", name="Accept").click()

    # Then the banner goes, the tracker keeps a visitor id, and its events carry it
    expect(banner).to_be_hidden()
    visitor_id = cookie(context, "lm_vid")
    assert visitor_id and cookie(context, "lm_consent") == "1"
    page.reload()
    expect(page.get_by_role("region", name="Cookie consent")).to_be_hidden()  # answered once
    page.evaluate("leadmill('flush')")
    assert page_views_with_visitor(visitor_id) >= 1
    context.close()


def test_declining_the_banner_keeps_the_browser_free_of_tracking_cookies(
    browser, live_server, consent_required
):
    # Given a landing page while consent is required
    context = browser.new_context(user_agent=DESKTOP_CHROME)
    page = context.new_page()
    page.goto(f"{live_server.url}/ebook/")
    banner = page.get_by_role("region", name="Cookie consent")
    expect(banner).to_be_visible()

    # When the visitor declines
    banner.get_by_role("button", name="Decline").click()

    # Then the banner goes and stays gone, and no visitor id is ever written
    expect(banner).to_be_hidden()
    assert cookie(context, "lm_consent") == "0"
    assert cookie(context, "lm_vid") is None
    page.reload()
    expect(page.get_by_role("region", name="Cookie consent")).to_be_hidden()
    assert cookie(context, "lm_vid") is None
    context.close()


def test_no_banner_when_consent_is_not_required(client, settings, db):
    # Given consent not required (the default)
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = False
    demo_seed()

    # When a landing page is served
    html = client.get("/ebook/").content.decode()

    # Then it has no banner; with consent required it has one
    assert "data-lm-consent-banner" not in html
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = True
    assert "data-lm-consent-banner" in client.get("/ebook/").content.decode()
