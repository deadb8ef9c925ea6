"""The sequence's performance screen in Chromium: reached from the sequences' listing, in
Brazilian Portuguese, on a desktop and on a 390 px phone (tables scroll in their box)."""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from ..admin_nurture import SEQUENCE_URL_NAME
from .known_nurture import known_held_out_sequence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-41"


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


@pytest.fixture
def held_out_sequence():
    return known_held_out_sequence()


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]
)
def test_the_marketer_opens_a_sequences_performance_in_portuguese(
    browser,
    live_server,
    django_user_model,
    held_out_sequence,
    page_tree,
    viewport,
    tmp_path,  # noqa: F811
):
    from wagtail.users.models import UserProfile

    user = django_user_model.objects.create_superuser("ana", "ana@example.com", PASSWORD)
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "pt-br"
    profile.save()
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill("ana")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}{reverse('wagtailsnippets_nurture_sequence:list')}")
    page.get_by_role("row", name="Onboarding").get_by_role("button", name="Mais opções").click()
    page.get_by_role("link", name="Desempenho", exact=True).click()

    expect(page).to_have_url(
        f"{live_server.url}{reverse(SEQUENCE_URL_NAME, args=[held_out_sequence.pk])}"
    )
    expect(
        page.get_by_role("heading", name="Ganho: leads nutridos contra o grupo de controle")
    ).to_be_visible()
    uplift = page.get_by_test_id("sequence-uplift")
    expect(uplift.get_by_role("row", name="MQL")).to_contain_text("6 / 10")
    expect(uplift.get_by_role("row", name="MQL")).to_contain_text("3 / 10")
    costs = page.get_by_test_id("cost-per-sql")
    expect(costs.get_by_role("row", name="Nutridos")).to_contain_text("25,00")
    expect(costs.get_by_role("row", name="Grupo de controle")).to_contain_text("100,00")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    directory = Path(os.environ.get("LEADMILL_SCREENSHOTS_DIR") or tmp_path)
    page.screenshot(
        path=str(directory / f"sequence-performance-{viewport['width']}.png"), full_page=True
    )
