"""A quick person in headless Chromium (issue 12 item 22): a form filled and sent sooner
than the minimum fill time still ends in a real success, through the proof-of-work the
form's script solves; without JavaScript, the form asks to be sent again; a bot's post
without the proof stays silent spam."""

import json
import re
import time

import pytest

from leadmill.contacts.models import Contact

from .. import tokens
from ..demo import demo_seed
from ..models import Form, Submission
from .test_browser import expect, partner_site, wait_past_minimum_time  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1200, "height": 800}
PHONE = {"width": 390, "height": 844}
TOO_SHORT_TO_FILL_S = 60  # every person here is "too fast"


@pytest.fixture
def slow_rule(settings):
    settings.LEADMILL_FORM_MIN_SECONDS = TOO_SHORT_TO_FILL_S
    settings.LEADMILL_FORM_PROOF_MAX_NUMBER = 50_000  # the default
    return settings


@pytest.mark.parametrize(
    ("language", "viewport", "html_lang"),
    [
        ("en", DESKTOP, "en"),
        ("en", PHONE, "en"),
        ("pt-BR", DESKTOP, "pt-br"),
        ("pt-BR", PHONE, "pt-br"),
    ],
    ids=["en-desktop", "en-phone", "pt-desktop", "pt-phone"],
)
def test_a_person_who_fills_the_form_quicker_than_the_minimum_time_gets_the_e_book(
    browser, live_server, slow_rule, language, viewport, html_lang
):
    # Given the demo's e-book page, opened in the person's language
    demo_seed()
    context = browser.new_context(
        viewport=viewport, locale=language, extra_http_headers={"Accept-Language": language}
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/ebook/")
    expect(page.locator("html")).to_have_attribute("lang", html_lang)

    # When they fill it in and send it at once (well under the minimum fill time)
    page.locator("#id_email").click()
    page.locator("#id_email").fill("quick@example.com")
    page.locator("#id_first_name").fill("Quinn")
    page.locator("#lead-form button[type=submit]").click()

    # Then the thank-you page gives them the e-book, and they are a lead
    # The Brazilian translation's thank-you page is asked for in its language (ADR 43).
    language_query = "lang=pt-br&" if html_lang == "pt-br" else ""
    expect(page).to_have_url(
        re.compile(rf"{re.escape(live_server.url)}/ebook/thanks/\?{language_query}s=[\w:.-]+")
    )
    link = page.locator("a.lm-button[download]")
    expect(link).to_have_attribute("href", re.compile(r"^/d/[\w:.-]+/$"))
    assert (
        page.request.get(live_server.url + link.get_attribute("href"))
        .body()
        .startswith(b"%PDF-1.4")
    )
    submission = Submission.objects.get()
    assert (submission.status, submission.spam_reason) == ("accepted", "")
    assert Contact.objects.get().email == "quick@example.com"
    context.close()


def test_a_quick_person_on_another_site_gets_the_download_link_from_the_embed(
    browser,
    live_server,
    slow_rule,
    partner_site,  # noqa: F811 (the fixture)
    settings,
):
    settings.BASE_URL = live_server.url
    demo_seed()
    Form.objects.filter(slug="ebook").update(allowed_origins=partner_site)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{partner_site}/blog/post")

    page.get_by_role("textbox", name="Email", exact=True).fill("quick@example.com")
    page.get_by_role("button", name="Send me the e-book").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Thank you! Your e-book is ready to download."
    )
    assert (
        page.get_by_role("link", name="Download now")
        .get_attribute("href")
        .startswith(f"{live_server.url}/d/")
    )
    assert Submission.objects.get().status == "accepted"
    context.close()


def test_without_javascript_a_quick_person_is_asked_to_send_again_and_then_gets_the_e_book(
    browser, live_server, settings
):
    settings.LEADMILL_FORM_MIN_SECONDS = 4
    demo_seed()
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/ebook/")
    shown_at = time.monotonic()

    page.locator("#id_email").fill("nojs@example.com")
    page.locator("#lead-form button[type=submit]").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "Please check your details and send the form again."
    )
    expect(page.locator("#id_email")).to_have_value("nojs@example.com")
    wait_past_minimum_time(shown_at, settings.LEADMILL_FORM_MIN_SECONDS)
    page.locator("#lead-form button[type=submit]").click()

    expect(page).to_have_url(re.compile(rf"{re.escape(live_server.url)}/ebook/thanks/\?s="))
    expect(page.locator("a.lm-button[download]")).to_be_visible()
    assert list(Submission.objects.order_by("pk").values_list("status", "spam_reason")) == [
        ("spam", "too_fast"),
        ("accepted", ""),
    ]
    context.close()


def test_a_bots_quick_post_without_the_proof_is_spam_with_the_silent_answer(
    browser, live_server, slow_rule
):
    demo_seed()
    form = Form.objects.get(slug="ebook")
    context = browser.new_context()
    body = {
        "_rt": tokens.render_token_make(form_id=form.pk),
        "website": "",
        "email": "bot@example.com",
    }

    answer = context.request.post(
        f"{live_server.url}/f/ebook/",
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )

    assert answer.status == 201
    assert answer.json()["status"] == "accepted"
    assert answer.json()["download_url"] == ""
    assert list(Submission.objects.values_list("status", "spam_reason")) == [("spam", "too_fast")]
    assert not Contact.objects.exists()
    context.close()
