"""A lead's page and "My leads" as a salesperson uses them, in headless Chromium: the timeline
names what the lead did (pages, the e-book download, the email as sent), a call is logged
from the lead's page, and a lead given by hand reaches "My leads" — also at 390 px in pt-BR."""

import time

import pytest
from django.contrib.auth import get_user_model

from leadmill.capture.demo import demo_seed
from leadmill.contacts.models import Contact, Temperature
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.setup import groups_ensure
from leadmill.nurture.demo import nurture_demo_seed
from leadmill.scoring.demo import scoring_demo_seed

from ..demo import sales_demo_seed
from ..models import Activity, SalesLead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-41"
PHONE = {"width": 390, "height": 844}
# A person's Chrome: headless Chromium says "HeadlessChrome", which the bot rules drop.
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture
def seeded_demo(settings, styled):
    settings.LEADMILL_FORM_MIN_SECONDS = 1
    groups_ensure()
    admin = get_user_model().objects.create_superuser(
        "admin", "admin@example.com", PASSWORD, first_name="Leadmill", last_name="Admin"
    )
    demo_seed()
    nurture_demo_seed()
    scoring_demo_seed()
    sales_demo_seed()
    return admin


def log_in(page, base_url: str, username: str = "admin") -> None:
    page.goto(f"{base_url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{base_url}/admin/")


def fill_and_send(page, button: str, shown_at: float) -> None:
    for checkbox in page.get_by_role("checkbox").all():
        checkbox.check()
    time.sleep(max(0.0, shown_at + 1.3 - time.monotonic()))  # the form's minimum time
    page.get_by_role("button", name=button).click()


def test_the_timeline_names_what_the_lead_did_and_a_call_is_logged_from_the_lead_page(
    browser, live_server, seeded_demo
):
    # Given a visitor who gets the e-book, downloads it, then asks for a demo
    visitor = browser.new_context(viewport={"width": 1366, "height": 900}, user_agent=CHROME)
    page = visitor.new_page()
    page.goto(f"{live_server.url}/ebook/")
    shown_at = time.monotonic()
    page.get_by_role("textbox", name="Email", exact=True).fill("rita@example.com")
    page.get_by_label("First name").fill("Rita")
    fill_and_send(page, "Send me the e-book", shown_at)
    with page.expect_download():
        page.get_by_role("link", name="Download The Lead Generation Playbook").click()
    page.goto(f"{live_server.url}/demo/")
    shown_at = time.monotonic()
    page.get_by_role("textbox", name="Email", exact=True).fill("rita@example.com")
    page.get_by_label("First name").fill("Rita")
    page.locator("input[name=company_name]").fill("Northwind")
    fill_and_send(page, "Request my demo", shown_at)
    expect(page.get_by_role("heading", level=1)).to_have_text("Thanks, we will be in touch")
    page.evaluate("window.leadmill && window.leadmill('flush')")  # the tracker's last batch
    contact = Contact.objects.get(email="rita@example.com")

    # When the admin opens her from "My leads"
    admin = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    log_in(admin, live_server.url)
    admin.get_by_role("link", name="My leads").first.click()
    admin.locator(f"tr[data-lead='{contact.pk}']").get_by_role("link", name="Rita").click()

    # Then the timeline names the pages, the forms, the download and the email as sent
    timeline = admin.get_by_role("region", name="Timeline", exact=True)
    expect(timeline).to_contain_text("Viewed The Lead Generation Playbook")
    expect(timeline).to_contain_text("Downloaded The Lead Generation Playbook")
    expect(timeline).to_contain_text("Sent the form E-book: The Lead Generation Playbook")
    expect(timeline).to_contain_text("Marketing email sent: “Rita, start with chapter 2”")
    for code in ("{{", "/d/", "form:ebook", "the form ebook"):
        expect(timeline).not_to_contain_text(code)
    stages = admin.get_by_role("region", name="Lifecycle stage history")
    expect(stages).to_contain_text("the form “E-book: The Lead Generation Playbook”")

    # When she logs a call from the page's "⋯" menu
    admin.get_by_role("button", name="Actions").click()
    admin.get_by_role("link", name="Log a call, note or task").click()
    sales = admin.get_by_role("region", name="Sales", exact=True)
    sales.get_by_label("Subject").fill("Discovery call")
    sales.get_by_role("button", name="Log").click()

    # Then she is back on the lead's page: the call is on the timeline, the lead "Attempting"
    expect(admin.get_by_text("Call logged on")).to_be_visible()
    expect(admin.get_by_role("region", name="Timeline", exact=True)).to_contain_text(
        "Call: Discovery call (admin)"
    )
    expect(admin.get_by_role("region", name="Sales", exact=True)).to_contain_text("Attempting")
    assert SalesLead.objects.get(contact=contact).status == "attempting"

    # And "Accept (SQL)" is offered until she is accepted
    admin.get_by_role("link", name="My leads").first.click()
    row = admin.locator(f"tr[data-lead='{contact.pk}']")
    row.get_by_role("button", name="Accept (SQL)").click()
    expect(admin.locator(f"tr[data-lead='{contact.pk}']")).to_be_visible()
    expect(
        admin.locator(f"tr[data-lead='{contact.pk}']").get_by_role("button", name="Accept (SQL)")
    ).to_have_count(0)


def test_a_rep_on_a_phone_in_portuguese_finds_a_lead_given_by_hand_and_logs_a_note(
    browser, live_server, seeded_demo
):
    # Given a warm lead the admin (who reads Brazilian Portuguese) was given by hand, never
    # an MQL, not in any sequence
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(seeded_demo)
    profile.preferred_language = "pt-br"
    profile.save()
    lead = ContactFactory(
        email="joana@example.com",
        first_name="Joana",
        temperature=Temperature.WARM,
        owner=seeded_demo,
    )
    page = browser.new_context(viewport=PHONE, locale="pt-BR").new_page()
    log_in(page, live_server.url)

    # When they open "Meus leads" on a 390 px wide phone
    page.goto(f"{live_server.url}/admin/my-leads/")

    # Then she is there, said to be not yet with sales, and the screen says who is listed
    row = page.locator(f"tr[data-lead='{lead.pk}']")
    expect(row).to_contain_text("Joana")
    expect(row).to_contain_text("Ainda não passado a vendas")
    expect(page.get_by_text("Todo lead seu que precisa de você")).to_be_visible()
    # and her actions column is reachable: the table scrolls inside the page
    log = row.locator("summary").first
    log.scroll_into_view_if_needed()
    box = log.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(log).to_contain_text("Registrar uma ligação ou nota")

    # When they open her page and log a note from it
    row.get_by_role("link", name="Joana").click()
    sales = page.get_by_role("region", name="Vendas", exact=True)
    sales.get_by_label("Registrar").select_option("note")
    sales.get_by_label("Assunto").fill("Pediu proposta")
    button = sales.get_by_role("button", name="Registrar")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    button.click()

    # Then the note is on her timeline, and nothing on the page is wider than the phone
    expect(page.get_by_role("region", name="Linha do tempo")).to_contain_text("Pediu proposta")
    assert Activity.objects.get(contact=lead).kind == "note"
    enrol = page.get_by_role("link", name="Inscrever nesta sequência")
    expect(enrol).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
