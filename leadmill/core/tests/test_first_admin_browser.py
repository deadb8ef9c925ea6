"""The first admin, as ``leadmill run`` creates it, in headless Chromium: their first visit to
the account page saves (a language here) instead of asking for a name and an email."""

import pytest

from ..setup import admin_ensure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-41"


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def test_the_first_admin_switches_the_back_office_to_brazilian_portuguese(
    browser, live_server, monkeypatch
):
    # Given the first admin, created the way `leadmill run` creates it
    monkeypatch.setenv("LEADMILL_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.delenv("LEADMILL_ADMIN_USER", raising=False)
    monkeypatch.delenv("LEADMILL_ADMIN_EMAIL", raising=False)
    assert admin_ensure() == ("admin", ADMIN_PASSWORD)
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")

    # When they open their account, choose Portuguese and save, changing nothing else
    page.goto(f"{live_server.url}/admin/account/")
    page.get_by_label("Preferred language").select_option("pt-br")
    page.get_by_role("button", name="Save").click()

    # Then the account is saved and the back office speaks Portuguese
    expect(page.get_by_text("This field is required.")).to_have_count(0)
    expect(page.locator(".messages")).to_contain_text(
        "Your account settings have been changed successfully!"
    )
    page.goto(f"{live_server.url}/admin/leads/")
    expect(page).to_have_title("Leads - Wagtail")
    expect(page.get_by_role("link", name="Meus leads")).to_be_visible()
