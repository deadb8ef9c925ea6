"""The README's back-office screenshots, taken from the demo as a marketer sees it now: the
segment editor with its live size, the demo's nurture sequence, and an email template's
preview. The test checks what each caption claims; with ``LEADMILL_SCREENSHOTS_DIR`` set
(e.g. ``docs/screenshots``) it also writes the pictures there:

    LEADMILL_SCREENSHOTS_DIR=$PWD/docs/screenshots .venv/bin/python -m leadmill.testrun \\
        leadmill/core/tests/test_readme_screenshots_browser.py leadmill/capture/tests/test_browser.py \\
        leadmill/contacts/tests/test_admin_bulk_browser.py
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-41"


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def save_screenshot(page, name: str) -> None:
    """A 256-colour PNG for the README, where ``LEADMILL_SCREENSHOTS_DIR`` says."""
    from PIL import Image

    if directory := os.environ.get("LEADMILL_SCREENSHOTS_DIR"):
        Image.open(io.BytesIO(page.screenshot())).quantize(colors=256).save(
            Path(directory) / name, optimize=True
        )


def test_the_readme_back_office_screenshots_show_what_their_captions_say(
    browser, live_server, django_user_model, page_tree, styled
):
    from leadmill.capture.demo import demo_seed
    from leadmill.contacts.tests.factories import ContactFactory
    from leadmill.messaging.admin_emails import TEMPLATES_URL_NAMESPACE
    from leadmill.messaging.models import EmailTemplate
    from leadmill.nurture.demo import SEQUENCE_NAME, nurture_demo_seed
    from leadmill.nurture.models import Sequence
    from leadmill.segments.models import Segment

    # Given the demo, a few warm and hot leads, and a marketer signed in
    demo_seed()
    nurture_demo_seed()
    ContactFactory.create_batch(3, temperature="warm")
    ContactFactory(temperature="hot")
    django_user_model.objects.create_superuser("mia", "mia@leadmill.test", ADMIN_PASSWORD)
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")

    # "A segment's filter builder with its live size"
    segment = Segment.objects.get(name="Warm and hot leads")
    page.goto(
        live_server.url + reverse(Segment.snippet_viewset.get_url_name("edit"), args=[segment.pk])
    )
    expect(page.get_by_text("4 leads match now")).to_be_visible()
    save_screenshot(page, "segment.png")

    # "A nurture sequence in the back office: email, wait, branch on the open, email, end"
    sequence = Sequence.objects.get(name=SEQUENCE_NAME)
    page.goto(
        live_server.url + reverse(Sequence.snippet_viewset.get_url_name("edit"), args=[sequence.pk])
    )
    expect(page.get_by_role("heading", name=SEQUENCE_NAME)).to_be_visible()
    # every panel and step folded to its summary line, then the steps unfolded: the flow at a glance
    page.get_by_role("button", name="Collapse all").click()
    page.locator("section", has=page.get_by_role("heading", name="Steps")).locator(
        "[data-panel-toggle]"
    ).first.click()
    expect(page.locator(".c-sf-block__title", has_text="opened the email of step")).to_be_visible()
    expect(page.get_by_role("heading", name="Branch opened the email of step")).to_be_attached()
    save_screenshot(page, "sequence.png")

    # "An email template's preview, personalised, with its unsubscribe links"
    template = EmailTemplate.objects.order_by("pk").first()
    page.goto(live_server.url + reverse(f"{TEMPLATES_URL_NAMESPACE}:preview", args=[template.pk]))
    expect(page.get_by_text(template.name).first).to_be_visible()
    save_screenshot(page, "email-preview.png")
