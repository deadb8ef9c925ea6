"""A segment's members in headless Chromium: from the segments listing to who is in a
dynamic segment, then to the leads listing filtered by it (where the bulk actions are), and
the CSV of its members; on a 390 px phone in Brazilian Portuguese."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadmill.contacts.tests.factories import ContactFactory

from .factories import SegmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-41"
PHONE = {"width": 390, "height": 844}
BRAZIL = {"match": "all", "conditions": [{"field": "country", "op": "equals", "value": "BR"}]}


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def test_a_marketer_sees_a_segments_members_opens_them_in_the_listing_and_downloads_them(
    browser, live_server, django_user_model, page_tree, styled
):
    from wagtail.users.models import UserProfile

    # Given a Portuguese-reading marketer on a phone, and a segment of leads in Brazil
    user = django_user_model.objects.create_superuser("mia", "mia@leadmill.test", PASSWORD)
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "pt-br"
    profile.save()
    ContactFactory(email="rio@example.com", country="BR")
    ContactFactory(email="recife@example.com", country="BR")
    ContactFactory(email="porto@example.com", country="PT")
    SegmentFactory(name="Brasil", definition=BRAZIL)
    page = browser.new_context(viewport=PHONE, accept_downloads=True).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill("mia")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    # When she opens the segments and the members of "Brasil"
    page.goto(f"{live_server.url}/admin/snippets/segments/segment/")
    page.get_by_role("link", name="Membros").click()

    # Then she sees its two leads, and not the one in Portugal
    expect(page.get_by_text("2 leads correspondem aos filtros do segmento agora.")).to_be_visible()
    expect(page.get_by_text("rio@example.com")).to_be_visible()
    expect(page.get_by_text("recife@example.com")).to_be_visible()
    expect(page.get_by_text("porto@example.com")).to_have_count(0)
    page.screenshot(path="/tmp/leadmill-segment-members-phone-pt.png", full_page=True)

    # When she downloads them, the CSV holds those two
    with page.expect_download() as download:
        page.get_by_role("link", name="Baixar CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "rio@example.com" in text and "recife@example.com" in text
    assert "porto@example.com" not in text

    # When she opens them in the leads listing, it is filtered by the segment
    page.get_by_role("link", name="Abrir na listagem de leads (ações em massa)").click()
    expect(page.get_by_role("link", name="rio@example.com", exact=False)).to_be_visible()
    expect(page.get_by_role("link", name="recife@example.com", exact=False)).to_be_visible()
    expect(page.get_by_text("porto@example.com")).to_have_count(0)
    assert "segment=" in page.url
