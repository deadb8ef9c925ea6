"""The back office keeps working under its Content-Security-Policy (leadmill.core.csp):
a marketer signs in and opens the main screens in headless Chromium, and the browser
reports no policy violation, in the console or as a ``securitypolicyviolation`` event."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leadmill.capture.demo import demo_seed
from leadmill.capture.pages import LandingPage
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.segments.models import Segment

from ..demo import nurture_demo_seed
from ..models import Sequence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-41"

# Every violation of this document and its frames, kept on the window for the test to read.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", event => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`);
});
"""


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


class ViolationWatch:
    """What the browser said about the policy on one page: console messages and events."""

    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def visit(self, url: str) -> dict[str, list[str]]:
        """Open ``url``, let it settle, and return what was reported there."""
        self.console.clear()
        self.errors.clear()
        response = self.page.goto(url)
        assert response.status == 200, url
        assert "Content-Security-Policy" in {
            name.title(): value for name, value in response.headers.items()
        }
        self.page.wait_for_load_state("networkidle")
        return self.reported()

    def reported(self) -> dict[str, list[str]]:
        events = self.page.evaluate("window.__cspViolations || []")
        return {"console": list(self.console), "events": events, "script errors": list(self.errors)}


NOTHING = {"console": [], "events": [], "script errors": []}


def test_the_main_back_office_screens_work_under_the_policy(
    browser, live_server, django_user_model, page_tree
):
    # Given the demo's pages, forms, sequence and segment, a lead, and a marketer
    demo_seed()
    nurture_demo_seed()
    ContactFactory(first_name="Ana", email="ana@example.com")
    django_user_model.objects.create_superuser("marketer", "marketer@leadmill.test", ADMIN_PASSWORD)
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    watch = ViolationWatch(page)

    # When she signs in
    assert watch.visit(f"{live_server.url}/admin/login/") == NOTHING
    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    page.wait_for_load_state("networkidle")

    # Then the dashboard reported nothing
    assert watch.reported() == NOTHING

    # And neither does any main screen she opens
    ebook = LandingPage.objects.get(slug="ebook", locale__language_code="en")
    sequence = Sequence.objects.get()
    screens = {
        "pages explorer": f"/admin/pages/{ebook.get_parent().pk}/",
        "page editor": f"/admin/pages/{ebook.pk}/edit/",
        "leads": "/admin/leads/",
        "snippets": "/admin/snippets/",
        "segments": reverse(Segment.snippet_viewset.get_url_name("list")),
        "new segment": reverse(Segment.snippet_viewset.get_url_name("add")),
        "sequence editor": reverse(
            Sequence.snippet_viewset.get_url_name("edit"), args=[sequence.pk]
        ),
        "images": "/admin/images/",
        "image upload": "/admin/images/multiple/add/",
    }
    reports = {name: watch.visit(f"{live_server.url}{path}") for name, path in screens.items()}
    assert reports == dict.fromkeys(screens, NOTHING)

    # And the screens did their work: the page editor's tabs switch, a lead opens
    watch.visit(f"{live_server.url}/admin/pages/{ebook.pk}/edit/")
    page.get_by_role("tab", name="Promote").click()
    expect(page.get_by_role("tabpanel", name="Promote")).to_be_visible()
    watch.visit(f"{live_server.url}/admin/leads/")
    page.get_by_role("link", name="Ana · ana@example.com").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ana")
    page.wait_for_load_state("networkidle")
    assert watch.reported() == NOTHING
    context.close()
