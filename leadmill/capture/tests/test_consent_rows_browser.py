"""The form's consent checkboxes sit in the form and take a mouse click, on every demo page,
on a desktop and a phone, with the cookie banner shown too (its own CSS namespace,
``lm-cookie-banner``; the form's rows are ``.lm-form .lm-consent``)."""

import pytest

from ..demo import demo_seed
from ..pages import LandingPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1200, "height": 800}, "mobile": {"width": 390, "height": 844}}

# What covers the centre of an element, if anything (the element itself, or its label, is fine).
COVERED_BY = """element => {
  const box = element.getBoundingClientRect();
  const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  const label = element.labels && element.labels[0];
  if (top === element || (label && label.contains(top))) return null;
  return top ? top.outerHTML.slice(0, 120) : "nothing";
}"""


def demo_pages_with_consents() -> list[str]:
    """The site-language demo pages with consent boxes (their Brazilian translations, ADR 43,
    share the layout and the URLs)."""
    return [
        page.url
        for page in LandingPage.objects.live().filter(locale__language_code="en").specific()
        if page.form_id and page.form.consents.exists()
    ]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_consent_checkbox_of_every_demo_page_takes_a_mouse_click(
    browser, live_server, settings, tmp_path, viewport
):
    # Given the demo, with the cookie banner shown (the tracker waits for consent)
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = True
    settings.LEADMILL_FORM_MIN_SECONDS = 0  # the form with errors is the point, not the timing
    demo_seed()
    paths = demo_pages_with_consents()
    assert paths == ["/ebook/", "/demo/"]
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()

    for path in paths:
        # When a visitor opens the page
        page.goto(f"{live_server.url}{path}")
        banner = page.get_by_role("region", name="Cookie consent")
        assert banner.is_visible()
        checkboxes = page.locator(".lm-form .lm-consent input[type=checkbox]")
        assert checkboxes.count() >= 1

        for index in range(checkboxes.count()):
            checkbox = checkboxes.nth(index)
            # ... and clicks each consent checkbox with the mouse (Playwright refuses to
            # click when another element would receive the click)
            checkbox.scroll_into_view_if_needed()
            assert checkbox.evaluate(COVERED_BY) is None
            checkbox.click()

            # Then it is ticked, and it sits inside the form, in the page's flow
            assert checkbox.is_checked()
            assert (
                checkbox.evaluate("e => getComputedStyle(e.closest('.lm-consent')).position")
                == "static"
            )
        page.screenshot(path=str(tmp_path / f"{path.strip('/')}-{viewport}.png"), full_page=True)

        # When the form comes back with errors (no email), the rows still take the mouse
        page.get_by_role("textbox", name="Email", exact=True).fill("")
        page.locator(".lm-form button[type=submit]").click()
        page.get_by_role("alert").wait_for()
        for index in range(checkboxes.count()):
            checkbox = checkboxes.nth(index)
            checkbox.scroll_into_view_if_needed()
            assert checkbox.evaluate(COVERED_BY) is None
            was = checkbox.is_checked()
            checkbox.click()
            assert checkbox.is_checked() is not was
        page.screenshot(
            path=str(tmp_path / f"{path.strip('/')}-{viewport}-errors.png"), full_page=True
        )
    context.close()
    print(f"screenshots in {tmp_path}")
