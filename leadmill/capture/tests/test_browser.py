"""A person's whole journey in headless Chromium: landing page → error → thank-you → PDF →
the lead in the back office; and the embed script on another site.

Set ``LEADMILL_SCREENSHOTS_DIR`` (e.g. ``docs/screenshots``) to keep the README screenshots
(``ebook.png`` at 1200×800, ``thanks.png`` at 390×844); otherwise they go to a temporary
directory, so a test run never changes the repository.
"""

import io
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from leadmill.consent.models import Consent
from leadmill.contacts.models import Contact

from ..demo import demo_seed
from ..models import Form, Submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-41"


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


@pytest.fixture
def screenshots_dir(tmp_path) -> Path:
    directory = Path(os.environ.get("LEADMILL_SCREENSHOTS_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def fast_forms(settings):
    """The minimum time between showing and sending a form, shortened so the test is quick.
    The live server runs in a thread of this process, so it sees the change."""
    settings.LEADMILL_FORM_MIN_SECONDS = 1
    return settings.LEADMILL_FORM_MIN_SECONDS


def save_screenshot(page, path: Path) -> None:
    """A screenshot as a 256-colour PNG: a fraction of the size, fine for the README."""
    from PIL import Image

    Image.open(io.BytesIO(page.screenshot())).quantize(colors=256).save(path, optimize=True)


def wait_past_minimum_time(shown_at: float, minimum_s: int) -> None:
    time.sleep(max(0.0, shown_at + minimum_s + 0.3 - time.monotonic()))


def test_a_visitor_becomes_a_lead_and_the_marketer_finds_them(
    browser, live_server, fast_forms, screenshots_dir
):
    # Given the demo, and a marketer with a back-office account
    demo_seed()
    get_user_model().objects.create_superuser("marketer", "marketer@example.com", ADMIN_PASSWORD)
    context = browser.new_context(viewport={"width": 1200, "height": 800}, accept_downloads=True)
    page = context.new_page()

    # When a visitor from an Instagram post opens the e-book page
    page.goto(f"{live_server.url}/ebook/?utm_source=instagram&utm_medium=social")
    shown_at = time.monotonic()
    expect(page).to_have_title("The Lead Generation Playbook")
    save_screenshot(page, screenshots_dir / "ebook.png")

    # ... and sends the form with a mistyped email
    page.get_by_role("textbox", name="Email", exact=True).fill("not-an-email")
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Yes, send me marketing emails").check()
    wait_past_minimum_time(shown_at, fast_forms)
    page.get_by_role("button", name="Send me the e-book").click()

    # Then the error says what to fix, and what she typed is still there
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Enter a valid email address, like name@example.com.")
    expect(page.get_by_role("textbox", name="Email", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page.locator("#id_email_error")).to_have_text(
        "Enter a valid email address, like name@example.com."
    )
    expect(page.get_by_label("First name")).to_have_value("Ana")
    expect(page.get_by_label("Yes, send me marketing emails")).to_be_checked()

    # When she corrects the email and sends again
    page.get_by_role("textbox", name="Email", exact=True).fill("ana@example.com")
    page.get_by_role("button", name="Send me the e-book").click()

    # Then the thank-you page gives her the e-book
    expect(page.get_by_role("heading", level=1)).to_have_text("Your e-book is ready")
    assert re.fullmatch(rf"{re.escape(live_server.url)}/ebook/thanks/\?s=[\w:.-]+", page.url)
    page.set_viewport_size({"width": 390, "height": 844})
    save_screenshot(page, screenshots_dir / "thanks.png")
    link = page.get_by_role("link", name="Download The Lead Generation Playbook")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert Path(download.path()).read_bytes().startswith(b"%PDF-1.4")
    assert download.suggested_filename.startswith("lead-generation-playbook")
    direct = page.request.get(live_server.url + link.get_attribute("href"))
    assert (direct.status, direct.body()[:5]) == (200, b"%PDF-")

    # And she is a lead with her consent and her source
    contact = Contact.objects.get(email="ana@example.com")
    assert (contact.first_name, contact.first_source, contact.first_medium) == (
        "Ana",
        "instagram",
        "social",
    )
    assert (
        contact.first_landing_url
        == f"{live_server.url}/ebook/?utm_source=instagram&utm_medium=social"
    )
    consent = Consent.objects.select_related("purpose", "purpose_text").get(contact=contact)
    assert (consent.purpose.key, consent.granted, consent.purpose_text.version) == (
        "email-marketing",
        True,
        1,
    )
    assert consent.form_id == Form.objects.get(slug="ebook").pk
    assert list(
        Submission.objects.order_by("pk").values_list("status", "utm_source", "utm_medium")
    ) == [
        ("rejected", "instagram", "social"),
        ("accepted", "instagram", "social"),
    ]

    # When the marketer logs in to the back office and opens the leads
    page.set_viewport_size({"width": 1200, "height": 800})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/leads/")
    page.get_by_role("link", name="Ana · ana@example.com").click()

    # Then the lead's page shows her source and her consent
    expect(page.locator("#source-heading")).to_have_text("Source")
    first_touch = page.get_by_role("row", name=re.compile("^First touch"))
    expect(first_touch).to_contain_text("instagram")
    expect(first_touch).to_contain_text("social")
    consent_row = page.get_by_role("row", name=re.compile("^Marketing email"))
    expect(consent_row).to_contain_text("Agreed")
    expect(consent_row).to_contain_text("v1")
    context.close()


@pytest.fixture
def partner_site(live_server):
    """Another site on loopback (so Chromium lets it call the live server) whose page embeds
    the e-book form with the embed script. Yields its origin."""
    html = (
        "<!DOCTYPE html><html lang='en'><head><title>Partner blog</title></head><body>"
        "<h1>Partner blog</h1><div data-leadmill-form='ebook'></div>"
        f"<script src='{live_server.url}/static/capture/embed.js' async></script></body></html>"
    ).encode()

    class PartnerPage(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), PartnerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_embed_script_sends_a_form_from_another_site(
    browser, live_server, fast_forms, partner_site, settings
):
    # Given Leadmill at the live server's address, and the e-book form, which the partner may embed
    settings.BASE_URL = live_server.url
    demo_seed()
    partner = partner_site
    Form.objects.filter(slug="ebook").update(allowed_origins=partner)
    context = browser.new_context()
    page = context.new_page()

    # When a visitor of the partner's post sends it with a mistyped email
    page.goto(f"{partner}/blog/post?utm_source=partner&utm_campaign=spring")
    expect(page.get_by_role("textbox", name="Email", exact=True)).to_be_visible()
    shown_at = time.monotonic()
    page.get_by_role("textbox", name="Email", exact=True).fill("ana@")
    page.get_by_label("First name").fill("Ana")
    wait_past_minimum_time(shown_at, fast_forms)
    page.get_by_role("button", name="Send me the e-book").click()

    # Then the error shows beside the field, and nothing is lost
    expect(page.locator("#id_email_error")).to_have_text(
        "Enter a valid email address, like name@example.com."
    )
    expect(page.get_by_role("alert")).to_contain_text("Email: Enter a valid email address")
    expect(page.get_by_role("textbox", name="Email", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page.get_by_label("First name")).to_have_value("Ana")

    # When she corrects it
    page.get_by_role("textbox", name="Email", exact=True).fill("ana@example.com")
    page.get_by_role("button", name="Send me the e-book").click()

    # Then she gets the message and the download link, without leaving the partner's page
    expect(page.get_by_role("status")).to_contain_text(
        "Thank you! Your e-book is ready to download."
    )
    href = page.get_by_role("link", name="Download now").get_attribute("href")
    assert href.startswith(f"{live_server.url}/d/")
    assert page.request.get(href).body().startswith(b"%PDF-1.4")
    assert page.url == f"{partner}/blog/post?utm_source=partner&utm_campaign=spring"
    submission = Submission.objects.get(status=Submission.Status.ACCEPTED)
    assert (submission.page_url, submission.utm_source, submission.utm_campaign) == (
        f"{partner}/blog/post?utm_source=partner&utm_campaign=spring",
        "partner",
        "spring",
    )
    context.close()
