"""The Brazilian Portuguese demo page in headless Chromium (ADR 43): a visitor whose browser
asks for Portuguese gets the page, its form, its thank-you page and its email in Portuguese;
at 1366 px and on a 390 px phone. The email goes through a real SMTP server (aiosmtpd).

Screenshots go to ``LEADMILL_SCREENSHOTS_DIR`` when set, else to a temporary directory.
"""

import re
import time

import pytest

from leadmill.contacts.models import Contact

from ..demo import demo_seed
from .test_browser import expect, save_screenshot, screenshots_dir, wait_past_minimum_time  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width,height", [(1366, 900), (390, 844)])
def test_a_brazilian_visitor_gets_the_page_the_thanks_and_the_email_in_portuguese(
    browser,
    live_server,
    settings,
    smtp_server,
    screenshots_dir,  # noqa: F811
    width,
    height,
):
    # Given the demo, and a visitor whose browser asks for Brazilian Portuguese
    settings.LEADMILL_FORM_MIN_SECONDS = 1
    demo_seed()
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="pt-BR", accept_downloads=True
    )
    page = context.new_page()

    # When she opens the e-book page at its usual address
    page.goto(f"{live_server.url}/ebook/")
    shown_at = time.monotonic()

    # Then it is the Portuguese page, labelled as such, with a way back to English
    expect(page).to_have_title("O Playbook de Geração de Leads")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    expect(page.get_by_role("navigation", name="Idiomas desta página")).to_contain_text("English")
    save_screenshot(page, screenshots_dir / f"ebook-pt-br-{width}.png")

    # When she fills in the form and agrees to marketing email
    page.get_by_role("textbox", name="E-mail", exact=True).fill("joana@example.com")
    page.get_by_label("Nome").fill("Joana")
    page.get_by_label("Sim, quero receber e-mails de marketing sobre o Leadmill").check()
    wait_past_minimum_time(shown_at, settings.LEADMILL_FORM_MIN_SECONDS)
    page.get_by_role("button", name="Quero receber o e-book").click()

    # Then the thank-you page is in Portuguese and gives her the e-book
    expect(page.get_by_role("heading", level=1)).to_have_text("Seu e-book está pronto")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    save_screenshot(page, screenshots_dir / f"thanks-pt-br-{width}.png")
    link = page.get_by_role("link", name=re.compile("^Baixar"))
    direct = page.request.get(live_server.url + link.get_attribute("href"))
    assert (direct.status, direct.body()[:5]) == (200, b"%PDF-")

    # And she is a lead whose language is Portuguese, and her email is in Portuguese
    contact = Contact.objects.get(email="joana@example.com")
    assert (contact.first_name, contact.language) == ("Joana", "pt-br")
    [message] = smtp_server.messages
    assert smtp_server.recipients == [["joana@example.com"]]
    assert message["Subject"] == "Seu exemplar do Playbook de Geração de Leads"
    text = message.get_body(("plain",)).get_content()
    assert "Comece pelo capítulo 2" in text

    # When she switches to English
    page.goto(f"{live_server.url}/ebook/")
    page.get_by_role("link", name="English").click()

    # Then the English page is served, labelled English
    expect(page).to_have_title("The Lead Generation Playbook")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    context.close()
