"""Rotating a webhook endpoint's secret in the back office, in headless Chromium: an admin
clicks "Rotate secret…" on Settings → Webhooks, chooses the grace period, and sees the new
secret once; during the grace a delivery verifies with either secret. On a desktop in
English and on a 390 px phone in Brazilian Portuguese."""

from __future__ import annotations

import os

import pytest

from leadmill.integrations import services
from leadmill.integrations.models import WebhookEndpoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-47"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("LEADMILL_SCREENSHOTS", "")


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


@pytest.mark.parametrize(
    ("language", "viewport", "words"),
    [
        (
            "en",
            DESKTOP,
            {"rotate": "Rotate secret…", "hours": "The current secret", "do": "Rotate secret"},
        ),
        (
            "pt-br",
            PHONE,
            {"rotate": "Trocar o segredo…", "hours": "O segredo atual", "do": "Trocar o segredo"},
        ),
    ],
)
def test_an_admin_rotates_a_secret_and_sees_the_new_one_once(
    browser, live_server, django_user_model, page_tree, styled, language, viewport, words
):
    # Given an admin (reading the back office in ``language``) and an endpoint
    from wagtail.users.models import UserProfile

    user = django_user_model.objects.create_superuser("dev", "dev@leadmill.test", PASSWORD)
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.save()
    endpoint = services.endpoint_create(
        url="https://93.184.215.14/hook", events=[], description="CRM"
    )
    old = endpoint.secret
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill("dev")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    # When she opens Settings → Webhooks and clicks the endpoint's "Rotate secret…"
    page.goto(f"{live_server.url}/admin/webhooks/")
    row = page.locator("tr", has_text="93.184.215.14")
    row.get_by_role("link", name=words["rotate"]).click()
    hours = page.get_by_label(words["hours"])
    expect(hours).to_have_value("24")
    hours.fill("6")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/webhook-rotate-ask-{language}.png", full_page=True)
    page.get_by_role("button", name=words["do"], exact=True).click()

    # Then the new secret is on the page, once, inside the screen, and the old one still signs
    secret_shown = page.locator("#webhook-secret")
    expect(secret_shown).to_be_visible()
    endpoint = WebhookEndpoint.objects.get()
    assert secret_shown.inner_text() == endpoint.secret != old
    assert endpoint.previous_secret == old
    box = secret_shown.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    assert old not in page.content()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/webhook-rotate-done-{language}.png", full_page=True)
    page.goto(f"{live_server.url}/admin/webhooks/")
    assert endpoint.secret not in page.content()
