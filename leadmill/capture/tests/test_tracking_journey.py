"""The tracked journey in headless Chromium: a newsletter link to another site of ours that
embeds the tracker, a click on a CTA, the landing page, the form → the contact knows where
it came from and what it did before it was known."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import OperationalError

from leadmill.contacts.models import Contact
from leadmill.core.registry import contact_timeline
from leadmill.tracking.models import Event, EventType, Site
from leadmill.tracking.selectors import contact_attribution, contact_touches
from leadmill.tracking.templatetags.tracking_tags import tracker_snippet

from ..demo import demo_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A person's browser: Chromium's own headless user agent is a seeded bot rule.
DESKTOP_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
PORTS = range(8600, 8700)


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def wait_for(condition, *, timeout_s: float = 10.0):
    """``condition()`` once it is truthy (or its last value after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = condition()
        except OperationalError:  # the live server is writing (see stored_before)
            value = None
        if value not in (None, False, 0, [], ()) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def stored(event_type: str) -> bool:
    return wait_for(lambda: Event.objects.filter(type=event_type).exists())


def flush(page) -> None:
    """Send the tracker's queue now (instead of after its 2 s delay), once the async script
    has loaded on this page."""
    for _ in range(
        100
    ):  # polled with evaluate: wait_for_function's eval is refused by the page's CSP
        if page.evaluate("typeof window.leadmill") == "function":
            break
        page.wait_for_timeout(100)
    assert page.evaluate("typeof window.leadmill") == "function"
    page.evaluate("leadmill('flush')")


def flush_and_wait(page, event_type: str) -> None:
    """Flush the tracker and wait until its ``event_type`` is stored."""
    flush(page)
    assert stored(event_type), f"no {event_type} event was stored"


def stored_before(page, url_glob: str, event_type: str) -> None:
    """Let a navigation to ``url_glob`` through once the tracker's ``event_type`` (sent by
    beacon at the same moment) is stored. The test database on SQLite is in memory with a
    shared cache, where two concurrent writers fail at once instead of waiting as they do
    on a SQLite file or on PostgreSQL; this keeps the browser's writes one at a time."""

    def after_the_event(route):
        stored(event_type)
        route.continue_()

    page.route(url_glob, after_the_event)


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 8600-8699")


@pytest.fixture
def company_blog(live_server, settings):
    """Another site of the organisation, on another loopback host (so it has its own
    cookies), whose page embeds the tracker with one tag and links to a Leadmill CTA.
    Yields its origin."""
    settings.BASE_URL = live_server.url
    html = (
        "<!DOCTYPE html><html lang='en'><head><title>Company blog</title>"
        f"{tracker_snippet(absolute=True)}</head><body><h1>Five ways to get more leads</h1>"
        f"<p><a href='{live_server.url}/c/get-the-ebook/'>Get the free e-book</a></p></body></html>"
    ).encode()

    class BlogPage(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), BlogPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_newsletter_reader_clicks_through_and_becomes_a_lead_with_the_newsletter_as_first_touch(
    browser, live_server, company_blog, settings
):
    # Given the demo, the company blog listed as a tracked site, and a person's browser
    settings.LEADMILL_FORM_MIN_SECONDS = 0
    demo_seed()
    Site.objects.create(name="Company blog", origin=company_blog)
    assert not live_server.url.startswith("http://127.0.0.1")  # two hosts: two cookie jars
    context = browser.new_context(user_agent=DESKTOP_CHROME)
    page = context.new_page()

    # When she opens the blog post from the November newsletter
    blog_url = f"{company_blog}/?utm_source=newsletter&utm_medium=email&utm_campaign=nov"
    page.goto(blog_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Five ways to get more leads")
    blog_visitor = wait_for(
        lambda: next(
            (c["value"] for c in context.cookies(company_blog) if c["name"] == "lm_vid"), None
        )
    )
    assert blog_visitor
    flush_and_wait(page, EventType.PAGE_VIEW)

    # ... clicks the CTA, lands on the e-book page and sends the form
    stored_before(page, f"{live_server.url}/c/**", EventType.CTA_CLICK)
    stored_before(page, f"{live_server.url}/f/**", EventType.FORM_SUBMIT)
    page.get_by_role("link", name="Get the free e-book").click()
    expect(page).to_have_title("The Lead Generation Playbook")
    expect(page).to_have_url(
        f"{live_server.url}/ebook/"
    )  # the tracker took the handed-over id out of the address bar
    page.get_by_role("textbox", name="Email", exact=True).fill("nora@example.com")
    page.get_by_label("First name").fill("Nora")
    flush_and_wait(page, EventType.FORM_START)
    page.get_by_role("button", name="Send me the e-book").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your e-book is ready")
    flush(page)

    # Then the landing page adopted the blog's visitor id: one visitor across both sites
    leadmill_cookie = [
        c["value"] for c in context.cookies(live_server.url) if c["name"] == "lm_vid"
    ]
    assert leadmill_cookie == [blog_visitor]
    contact = wait_for(lambda: Contact.objects.filter(email="nora@example.com").first())
    assert contact is not None
    wait_for(lambda: Event.objects.filter(contact=contact, type=EventType.FORM_SUBMIT).exists())
    assert set(Event.objects.values_list("visitor_id", flat=True)) == {blog_visitor}

    # ... her timeline shows the anonymous blog visit and the CTA click before the form
    timeline = contact_timeline(contact.pk)
    kinds = [
        (entry.kind, entry.url)
        for entry in reversed(timeline)
        if entry.kind in (EventType.PAGE_VIEW, EventType.CTA_CLICK)
    ]
    assert kinds[:2] == [(EventType.PAGE_VIEW, blog_url), (EventType.CTA_CLICK, blog_url)]
    assert (EventType.PAGE_VIEW, f"{live_server.url}/ebook/") in kinds
    blog_view = next(
        entry for entry in timeline if entry.url == blog_url and entry.kind == EventType.PAGE_VIEW
    )
    assert blog_view.detail == "Email · newsletter / email · nov"
    assert any(entry.kind == "submission" or "form" in entry.kind for entry in timeline)

    # ... and her first touch is the newsletter: in the touches, the attribution and the lead
    first = contact_touches(contact_id=contact.pk)[0]
    assert (first.channel, first.source, first.medium, first.campaign) == (
        "email",
        "newsletter",
        "email",
        "nov",
    )
    [lead] = contact_attribution(contact_id=contact.pk)
    [credited] = [credit for credit in lead.credits["first_touch"] if credit.weight == 1.0]
    assert (credited.touch.source, credited.touch.medium, credited.touch.campaign) == (
        "newsletter",
        "email",
        "nov",
    )
    contact = wait_for(
        lambda: Contact.objects.filter(pk=contact.pk, first_source="newsletter").first()
    )
    assert contact is not None
    assert (contact.first_source, contact.first_medium, contact.first_campaign) == (
        "newsletter",
        "email",
        "nov",
    )
    assert contact.first_landing_url == blog_url
    context.close()
