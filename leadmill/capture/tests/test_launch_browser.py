"""The "New landing page" flow in headless Chromium, as a first-time marketer walks it.

Set ``LEADMILL_SCREENSHOTS_DIR`` (e.g. ``docs/screenshots``) to keep the README screenshots
of the flow and of the page it publishes (``new-landing-page.png``, ``webinar-page.png``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..demo import demo_seed
from ..models import Form, Offer
from ..pages import LandingPage
from .test_browser import save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-41"
# Every trusted click of the tab, kept across its page loads (same origin).
CLICK_COUNTER = """
document.addEventListener("click", (event) => {
  if (event.isTrusted) {
    sessionStorage.setItem("clicks", String(Number(sessionStorage.getItem("clicks") || 0) + 1));
  }
}, true);
"""


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


@pytest.mark.parametrize("width", [1366, 390])
def test_a_first_time_marketer_publishes_a_webinar_page_in_under_15_clicks(
    browser, live_server, django_user_model, width
):
    # Given the demo and a marketer signed in on the dashboard
    demo_seed()
    django_user_model.objects.create_superuser("marketer", "marketer@leadmill.test", ADMIN_PASSWORD)
    page = browser.new_context().new_page()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/admin/")
    page.add_init_script(CLICK_COUNTER)
    page.reload()

    # When she clicks "New landing page", chooses a webinar, fills its fields and publishes
    if width < 800:
        page.get_by_role("button", name="Toggle sidebar").click()
    page.get_by_role("link", name="New landing page").click()
    page.get_by_label("Webinar or event").click()
    page.get_by_label("Name of the offer").click()
    page.keyboard.type("Spring webinar: lead scoring")
    page.get_by_label("Starts at").fill("2027-03-10T15:00")
    page.get_by_label("Time zone").select_option("America/Sao_Paulo")
    page.get_by_label("Join link").click()
    page.keyboard.type("https://meet.example.com/spring")
    screenshots = os.environ.get("LEADMILL_SCREENSHOTS_DIR") if width > 1000 else None
    if screenshots:
        Path(screenshots).mkdir(parents=True, exist_ok=True)
        save_screenshot(page, Path(screenshots) / "new-landing-page.png")
    page.get_by_role("button", name="Publish").click()

    # Then the page is live with a working form, and it took fewer than 15 clicks
    expect(page.locator("[data-launched]")).to_contain_text("is live")
    clicks = int(page.evaluate("sessionStorage.getItem('clicks') || '0'"))
    assert 4 <= clicks < 15, clicks
    offer = Offer.objects.get(name="Spring webinar: lead scoring")
    landing = LandingPage.objects.get(form__offer=offer)
    assert (offer.kind, landing.live) == ("event", True)

    # And a visitor can register on it
    with page.expect_popup() as popup:
        page.get_by_role("link", name="Open the page").click()
    visitor = popup.value
    visitor.wait_for_load_state()
    expect(
        visitor.get_by_text("Starts March 10, 2027, 3 p.m. (America/Sao_Paulo).")
    ).to_be_visible()
    if screenshots:
        visitor.set_viewport_size({"width": width, "height": 900})
        save_screenshot(visitor, Path(screenshots) / "webinar-page.png")
    visitor.get_by_role("textbox", name="Email").fill("ana@example.com")
    visitor.wait_for_timeout(3000)  # a person takes a moment: the minimum time of the spam check
    visitor.get_by_role("button", name="Save my seat").click()
    expect(visitor.locator("#thanks-title")).to_have_text("Thank you!")
    expect(visitor.get_by_role("link", name="Join link")).to_have_attribute(
        "href", "https://meet.example.com/spring"
    )
    assert Form.objects.get(offer=offer).submissions.count() == 1
