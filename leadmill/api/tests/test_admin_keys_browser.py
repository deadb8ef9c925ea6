"""API keys in the back office, in headless Chromium (issue 14, item 13): an admin creates a
key with its scopes, sees it once, the key works, its last use shows, and revoking it stops it."""

from __future__ import annotations

import httpx
import pytest
from django.urls import reverse

from ..models import ApiKey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-41"


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(
    browser, live_server, django_user_model, page_tree
):
    # Given an admin signed in
    django_user_model.objects.create_superuser("dev", "dev@leadmill.test", ADMIN_PASSWORD)
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("dev")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")

    # When she opens Settings → API keys and creates a read-only key for leads
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("link", name="New API key").click()
    page.get_by_label("Name").fill("Warehouse")
    page.get_by_label("leads:read: Read leads and their consents").check()
    page.get_by_role("button", name="Create the key").click()

    # Then the key is shown once, and it reads leads but may not write them
    secret = page.locator("[data-secret]").input_value()
    assert secret.startswith("lm_")
    api = f"{live_server.url}/api/v1/leads/"
    auth = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(api, headers=auth, timeout=10).status_code == 200
    refused = httpx.post(api, json={"email": "a@example.com"}, headers=auth, timeout=10)
    assert refused.status_code == 403
    assert ApiKey.objects.get().scopes == ["leads:read"]

    # And the listing shows its last use and not the key
    page.get_by_role("link", name="Done").click()
    row = page.locator("tr[data-key]")
    expect(row).to_contain_text("Warehouse")
    expect(row.locator("[data-last-used]")).not_to_have_text("Never used")
    assert secret not in page.content()

    # When she revokes it, the key stops working
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("API key “Warehouse” revoked.")).to_be_visible()
    expect(row.locator("[data-status]")).to_contain_text("Revoked")
    assert httpx.get(api, headers=auth, timeout=10).status_code == 401
    assert page.url.endswith(reverse("api_keys"))


def test_a_key_without_any_scope_is_refused_with_a_message(
    browser, live_server, django_user_model, page_tree
):
    django_user_model.objects.create_superuser("dev", "dev@leadmill.test", ADMIN_PASSWORD)
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("dev")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}{reverse('api_key_add')}")
    page.get_by_label("Name").fill("Nothing")
    page.get_by_role("button", name="Create the key").click()

    expect(page.get_by_text("Give the key at least one scope.")).to_be_visible()
    assert not ApiKey.objects.exists()
