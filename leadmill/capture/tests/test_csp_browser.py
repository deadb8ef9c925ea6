"""Public pages under their Content-Security-Policy, in headless Chromium (leadmill.core.csp):
the landing pages, the tracker and the cookie banner report no violation, and the form's
iframe works on an allowed site on another loopback origin, through to its thank-you page,
while a site that is not allowed cannot frame it."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadmill.tracking.models import Event, EventType

from ..demo import demo_seed
from ..models import Form, Submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", event => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def csp_console(page) -> list[str]:
    """The console messages about a Content-Security-Policy, of the page and its frames."""
    messages: list[str] = []
    page.on(
        "console",
        lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return messages


@pytest.fixture
def other_sites():
    """Sites on other loopback origins, each serving one page: ``serve(html) -> origin``."""
    servers = []

    def serve(html: str) -> str:
        body = html.encode()

        class OnePage(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), OnePage)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def iframe_page(src: str) -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>Partner blog</title></head><body><h1>Partner blog</h1>"
        f"<iframe src='{src}' title='Get the e-book' width='480' height='900'></iframe></body></html>"
    )


def test_the_iframe_embed_works_on_an_allowed_site_through_to_the_thank_you_page(
    browser, live_server, settings, other_sites
):
    # Given the e-book form, which a partner on another origin frames with the no-JavaScript embed
    settings.LEADMILL_FORM_MIN_SECONDS = 0
    demo_seed()
    partner = other_sites(iframe_page(f"{live_server.url}/f/ebook/embed/"))
    Form.objects.filter(slug="ebook").update(allowed_origins=partner)
    page = browser.new_context().new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    console = csp_console(page)

    # When a visitor of the partner's page sends the form inside the frame
    page.goto(f"{partner}/blog/post")
    frame = page.frame_locator("iframe[title='Get the e-book']")
    frame.get_by_role("textbox", name="Email", exact=True).fill("ana@example.com")
    frame.get_by_role("button", name="Send me the e-book").click()

    # Then the frame shows the thank-you page, the partner's page stays, and it is stored
    expect(frame.get_by_role("heading", level=1)).to_have_text("Thank you!")
    expect(frame.get_by_role("link", name="Download The Lead Generation Playbook")).to_be_visible()
    thanks_frame = next(
        f for f in page.frames if f.url.startswith(f"{live_server.url}/f/ebook/thanks/?s=")
    )
    assert page.url == f"{partner}/blog/post"
    assert Submission.objects.get().status in {
        Submission.Status.RECEIVED,
        Submission.Status.ACCEPTED,
    }
    assert console == []
    assert thanks_frame.evaluate("window.__cspViolations") == []


def test_the_iframe_embed_with_errors_stays_in_the_frame(
    browser, live_server, settings, other_sites
):
    settings.LEADMILL_FORM_MIN_SECONDS = 0
    demo_seed()
    partner = other_sites(iframe_page(f"{live_server.url}/f/ebook/embed/"))
    Form.objects.filter(slug="ebook").update(allowed_origins=partner)
    page = browser.new_context().new_page()
    console = csp_console(page)

    page.goto(f"{partner}/blog/post")
    frame = page.frame_locator("iframe[title='Get the e-book']")
    frame.get_by_role("textbox", name="Email", exact=True).fill("not-an-email")
    frame.get_by_role("button", name="Send me the e-book").click()

    expect(frame.locator("#id_email_error")).to_have_text(
        "Enter a valid email address, like name@example.com."
    )
    assert console == []


def test_a_site_that_is_not_allowed_cannot_frame_the_form(browser, live_server, other_sites):
    # Given the e-book form, embeddable by one partner only
    demo_seed()
    partner = other_sites("<!DOCTYPE html><title>Partner</title>")
    stranger = other_sites(iframe_page(f"{live_server.url}/f/ebook/embed/"))
    Form.objects.filter(slug="ebook").update(allowed_origins=partner)
    page = browser.new_context().new_page()
    console = csp_console(page)

    # When another site frames it
    page.goto(f"{stranger}/copy")
    page.wait_for_load_state("networkidle")

    # Then Chromium refuses to show it there, naming frame-ancestors
    expect(
        page.frame_locator("iframe").get_by_role("button", name="Send me the e-book")
    ).to_have_count(0)
    assert any("frame-ancestors" in message for message in console), console


def test_landing_pages_the_tracker_and_the_cookie_banner_report_no_violation(
    browser, live_server, settings
):
    # Given the demo, with the cookie banner (the tracker waits for consent)
    settings.BASE_URL = live_server.url
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = True
    demo_seed()
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    console = csp_console(page)

    for path in ("/", "/ebook/", "/demo/"):
        # When a visitor opens each page
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")

        # Then the page has its policy, and nothing was blocked
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert page.evaluate("window.__cspViolations") == [], path
    assert console == []

    # When the visitor accepts the banner, the tracker sends its page views
    page.get_by_role("region", name="Cookie consent").get_by_role("button", name="Accept").click()
    page.reload()
    page.wait_for_function("typeof window.leadmill === 'function'")
    page.evaluate("leadmill('flush')")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__cspViolations") == []
    assert console == []
    expect_page_view = Event.objects.filter(type=EventType.PAGE_VIEW)
    for _ in range(100):
        if expect_page_view.exists():
            break
        page.wait_for_timeout(100)
    assert expect_page_view.exists()
    context.close()
