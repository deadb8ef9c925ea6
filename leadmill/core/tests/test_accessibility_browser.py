"""Accessibility of the public demo pages and the main back-office screens: axe-core (the
npm package, installed by the setup from package-lock.json) is injected into each page in
headless Chromium and must find no violation.

Public pages are checked in their states a visitor meets: the landing pages, a form sent
with a mistake (its errors shown), and the thank-you page. The back office is checked as a
marketer and a salesperson open it: the dashboard, the leads listing (with the bulk-action
footer shown), a lead's page, My leads, forms, offers and sequences.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-41"
AXE = Path(settings.BASE_DIR).parent / "node_modules" / "axe-core" / "axe.min.js"

# What axe checks: WCAG 2.2 A and AA, and its best practices (landmarks, headings, regions).
#
# One thing is configured around, because it is Wagtail's and no Leadmill template renders
# it: Wagtail 7.4 draws its sidebar's search (sidebar.js) and each listing's search in the
# page header (wagtailadmin/shared/headers/slim_header.html, and the dashboard's in
# home.html) as two ``role="search"`` landmarks without names, which axe reports as
# ``landmark-unique``. That rule is run without the sidebar's search form; every other rule
# runs on the whole page, the sidebar included.
WAGTAIL_SIDEBAR_SEARCH = ["aside[data-wagtail-sidebar] form[role=search]"]
RUN_AXE = """
async (sidebarSearch) => {
  const everything = await axe.run(document, {
    resultTypes: ["violations"],
    rules: {"landmark-unique": {enabled: false}},
  });
  const landmarks = await axe.run(
    {include: [document], exclude: [sidebarSearch]},
    {resultTypes: ["violations"], runOnly: {type: "rule", values: ["landmark-unique"]}},
  );
  return [...everything.violations, ...landmarks.violations].map(v => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
  }));
}
"""


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


@pytest.fixture
def axe_source() -> str:
    """axe-core's script, as ``make`` installs it (``npm ci``); a failure in CI without it."""
    if not AXE.exists():
        if os.environ.get("LEADMILL_REQUIRE_BROWSER"):
            pytest.fail(f"{AXE} is missing: run `make .venv/.test-installed` (npm ci)")
        pytest.skip("axe-core is not installed (npm ci)")
    return AXE.read_text(encoding="utf-8")


def violations(page, axe_source: str) -> list[dict]:
    """axe's violations on the page as it is now (injected through the DevTools protocol,
    which the page's Content-Security-Policy does not restrict)."""
    page.wait_for_load_state("networkidle")
    page.evaluate(axe_source)
    return page.evaluate(RUN_AXE, WAGTAIL_SIDEBAR_SEARCH)


@pytest.fixture
def fast_forms(settings):
    settings.LEADMILL_FORM_MIN_SECONDS = 1
    return settings.LEADMILL_FORM_MIN_SECONDS


def test_the_public_demo_pages_their_error_and_thank_you_states_have_no_violation(
    browser, live_server, axe_source, page_tree, fast_forms
):
    from leadmill.capture.demo import demo_seed

    # Given the demo's pages
    demo_seed()
    page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    found = {}

    # When a visitor opens each landing page
    for path in ("/", "/ebook/", "/demo/"):
        page.goto(f"{live_server.url}{path}")
        found[path] = violations(page, axe_source)

    # and sends the e-book form with a mistake, then corrected
    page.goto(f"{live_server.url}/ebook/")
    shown_at = time.monotonic()
    page.get_by_role("textbox", name="Email", exact=True).fill("not-an-email")
    page.get_by_label("First name").fill("Ana")
    time.sleep(max(0.0, shown_at + fast_forms + 0.3 - time.monotonic()))
    page.get_by_role("button", name="Send me the e-book").click()
    expect(page.locator("#id_email_error")).to_be_visible()
    found["/ebook/ with an error"] = violations(page, axe_source)
    page.get_by_role("textbox", name="Email", exact=True).fill("ana@example.com")
    page.get_by_role("button", name="Send me the e-book").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your e-book is ready")
    found["thank-you page"] = violations(page, axe_source)

    # Then axe found nothing on any of them
    print(json.dumps(found, indent=1))  # shown when the assertion fails: what and where
    assert found == dict.fromkeys(found, [])


def test_the_main_back_office_screens_have_no_violation(
    browser, live_server, django_user_model, axe_source, page_tree
):
    from leadmill.capture.demo import demo_seed
    from leadmill.capture.models import Form, Offer
    from leadmill.contacts.tests.factories import ContactFactory
    from leadmill.nurture.demo import nurture_demo_seed
    from leadmill.nurture.models import Sequence
    from leadmill.sales.admin_my_leads import MY_LEADS_URL_NAME

    # Given the demo, a lead the marketer owns, and the marketer signed in
    demo_seed()
    nurture_demo_seed()
    user = django_user_model.objects.create_superuser("mia", "mia@leadmill.test", ADMIN_PASSWORD)
    lead = ContactFactory(first_name="Ana", email="ana@example.com", owner=user)
    page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")

    screens = {
        "dashboard": "/admin/",
        "leads": "/admin/leads/",
        "lead page": f"/admin/leads/inspect/{lead.pk}/",
        "my leads": reverse(MY_LEADS_URL_NAME),
        "forms": reverse(Form.snippet_viewset.get_url_name("list")),
        "offers": reverse(Offer.snippet_viewset.get_url_name("list")),
        "sequences": reverse(Sequence.snippet_viewset.get_url_name("list")),
    }
    found = {}
    # When she opens each main screen
    for name, path in screens.items():
        page.goto(f"{live_server.url}{path}")
        found[name] = violations(page, axe_source)

    # and ticks a lead in the listing (the bulk-action footer shows)
    page.goto(f"{live_server.url}/admin/leads/")
    page.locator(f'input[data-bulk-action-checkbox][data-object-id="{lead.pk}"]').click()
    expect(page.locator("[data-bulk-action-footer]")).to_be_visible()
    found["leads with the bulk-action footer"] = violations(page, axe_source)

    # Then axe found nothing on any of them
    print(json.dumps(found, indent=1))  # shown when the assertion fails: what and where
    assert found == dict.fromkeys(found, [])
