"""Erasure in the back office in headless Chromium, as an admin does it: tick two leads with
the mouse, "Delete (erase)", confirm, and they are gone; "⋯" → "Delete" on a lead's page."""

from __future__ import annotations

import pytest

from leadmill.consent.selectors import is_suppressed
from leadmill.contacts.models import Contact
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.contacts.tests.test_admin_bulk_browser import sign_in, tick

from ..models import ErasureRecord

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("page_tree", "styled"),
]


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def test_an_admin_erases_the_two_leads_she_ticks(browser, live_server, django_user_model):
    # Given three leads
    ana = ContactFactory(email="ana@example.com", first_name="Ana")
    bia = ContactFactory(email="bia@example.com", first_name="Bia")
    caio = ContactFactory(email="caio@example.com", first_name="Caio")
    page = sign_in(browser, live_server, django_user_model)
    page.goto(f"{live_server.url}/admin/leads/")

    # When she ticks Ana and Bia and picks "Delete (erase)"
    tick(page, ana, bia)
    footer = page.locator("[data-bulk-action-footer]")
    footer.get_by_role("link", name="Delete (erase)").click()

    # Then the confirmation says what happens, and nothing is erased yet
    expect(page.get_by_text("2 leads are selected.")).to_be_visible()
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    assert Contact.objects.count() == 3

    # When she gives a reason and confirms
    page.get_by_label("Reason").fill("requests of 7 December")
    page.get_by_role("button", name="Yes, erase them").click()

    # Then she is back on the listing, which shows only Caio
    expect(page.get_by_text("2 of 2 leads erased; their addresses are suppressed.")).to_be_visible()
    expect(page.locator(f"#lead_{caio.pk}_title")).to_be_visible()
    expect(page.locator(f"#lead_{ana.pk}_title")).to_have_count(0)
    expect(page.locator(f"#lead_{bia.pk}_title")).to_have_count(0)
    assert list(Contact.objects.values_list("pk", flat=True)) == [caio.pk]
    assert sorted(ErasureRecord.objects.values_list("contact_id", flat=True)) == [ana.pk, bia.pk]
    assert is_suppressed(email="ana@example.com") and is_suppressed(email="bia@example.com")


def test_an_admin_erases_a_lead_from_the_menu_of_its_page(browser, live_server, django_user_model):
    # Given Ana's page
    ana = ContactFactory(email="ana@example.com", first_name="Ana")
    rui = ContactFactory(email="rui@example.com", first_name="Rui")
    page = sign_in(browser, live_server, django_user_model)
    page.goto(f"{live_server.url}/admin/leads/inspect/{ana.pk}/")

    # When she picks "Delete" in the "⋯" menu
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("link", name="Delete", exact=True).click()

    # Then the confirmation names Ana alone; she confirms
    expect(page.get_by_text("1 lead is selected.")).to_be_visible()
    expect(page.locator(".lead-bulk-sample")).to_contain_text("Ana")
    page.get_by_role("button", name="Yes, erase them").click()

    # Then she is on the leads listing, without Ana
    expect(page.get_by_text("1 of 1 lead erased; its address is suppressed.")).to_be_visible()
    assert page.url.endswith("/admin/leads/")
    expect(page.locator(f"#lead_{rui.pk}_title")).to_be_visible()
    assert list(Contact.objects.values_list("pk", flat=True)) == [rui.pk]
    assert ErasureRecord.objects.get().contact_id == ana.pk
