"""Bulk actions on the leads listing in headless Chromium, as a marketer uses them: tick
leads with the mouse, pick an action in the footer, confirm, see the result; "select all
that match" across pages; at a 390 px phone width in Brazilian Portuguese too.

Set ``LEADMILL_SCREENSHOTS_DIR`` (e.g. ``docs/screenshots``) to keep the README's screenshot
of the listing with its bulk actions (``leads-bulk-actions.png``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from leadmill.nurture.models import Enrollment
from leadmill.nurture.tests.factories import SequenceFactory
from leadmill.segments.models import SegmentMember
from leadmill.segments.tests.factories import StaticSegmentFactory

from ..models import Contact
from .factories import ContactFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-41"
PHONE = {"width": 390, "height": 844}


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def sign_in(browser, live_server, django_user_model, *, language="en", viewport=None):
    from wagtail.users.models import UserProfile

    user = django_user_model.objects.create_superuser("mia", "mia@leadmill.test", PASSWORD)
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.save()
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill("mia")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def save_screenshot(page, name: str) -> None:
    """A 256-colour PNG for the README, where ``LEADMILL_SCREENSHOTS_DIR`` says."""
    from PIL import Image

    if directory := os.environ.get("LEADMILL_SCREENSHOTS_DIR"):
        page.wait_for_timeout(500)  # the footer slides in: picture it in place
        Image.open(io.BytesIO(page.screenshot())).quantize(colors=256).save(
            Path(directory) / name, optimize=True
        )


def tick(page, *contacts):
    for contact in contacts:
        page.locator(f'input[data-bulk-action-checkbox][data-object-id="{contact.pk}"]').click()


def test_a_marketer_runs_each_bulk_action_on_the_leads_she_ticks(
    browser, live_server, django_user_model, page_tree, styled
):
    # Given three leads, a sequence, a static list and a salesperson
    ana = ContactFactory(email="ana@example.com", first_name="Ana")
    bia = ContactFactory(email="bia@example.com", first_name="Bia")
    caio = ContactFactory(email="caio@example.com", first_name="Caio")
    welcome = SequenceFactory(name="Welcome")
    vip = StaticSegmentFactory(name="VIP")
    UserFactory(username="rita", first_name="Rita", last_name="Reis")
    page = sign_in(browser, live_server, django_user_model)
    page.goto(f"{live_server.url}/admin/leads/")

    # When she ticks Ana and Bia, the footer says two are selected
    tick(page, ana, bia)
    footer = page.locator("[data-bulk-action-footer]")
    expect(footer).to_be_visible()
    expect(footer.locator("[data-bulk-action-num-objects]")).to_contain_text("2")
    save_screenshot(page, "leads-bulk-actions.png")

    # and moves them to MQL: a confirmation names them, then the listing shows the result
    footer.get_by_role("link", name="Change stage").click()
    expect(page.get_by_text("2 leads are selected.")).to_be_visible()
    page.get_by_label("Move to stage").select_option("mql")
    page.get_by_role("button", name="Move them").click()
    expect(page.get_by_text("2 of 2 leads moved to “Marketing qualified (MQL)”")).to_be_visible()
    row = page.locator("tr", has=page.locator(f"#lead_{ana.pk}_title"))
    expect(row).to_contain_text("MQL")
    assert dict(Contact.objects.values_list("email", "lifecycle_stage")) == {
        "ana@example.com": "mql",
        "bia@example.com": "mql",
        "caio@example.com": "lead",
    }

    # When she enrols Bia and Caio in "Welcome"
    tick(page, bia, caio)
    footer.get_by_role("link", name="Enrol in sequence").click()
    page.get_by_label("Sequence").select_option(label="Welcome")
    page.get_by_role("button", name="Enrol them").click()
    expect(page.get_by_text("2 of 2 leads enrolled in “Welcome”")).to_be_visible()
    assert set(
        Enrollment.objects.filter(sequence=welcome).values_list("contact_id", flat=True)
    ) == {bia.pk, caio.pk}

    # When she adds Ana to the "VIP" list
    tick(page, ana)
    footer.get_by_role("link", name="Add to list").click()
    page.get_by_label("Static list").select_option(label="VIP")
    page.get_by_role("button", name="Add them").click()
    expect(page.get_by_text("1 of 1 lead added to “VIP”")).to_be_visible()
    assert list(SegmentMember.objects.filter(segment=vip).values_list("contact_id", flat=True)) == [
        ana.pk
    ]

    # When she gives all three to Rita, ticking them all at once
    page.locator("[data-bulk-action-select-all-checkbox]").first.click()
    footer.get_by_role("link", name="Assign owner").click()
    expect(page.get_by_text("3 leads are selected.")).to_be_visible()
    page.get_by_label("Owner").select_option(label="Rita Reis")
    page.get_by_role("button", name="Assign them").click()
    expect(page.get_by_text("3 of 3 leads now owned by Rita Reis")).to_be_visible()
    assert set(Contact.objects.values_list("owner__username", flat=True)) == {"rita"}

    # When she exports Caio, the CSV holds Caio alone
    tick(page, caio)
    with page.expect_download() as download:
        footer.get_by_role("link", name="Export").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "caio@example.com" in text
    assert "ana@example.com" not in text


def test_select_all_that_match_reaches_the_leads_on_other_pages(
    browser, live_server, django_user_model, page_tree, styled
):
    # Given 52 warm leads (two pages of 50) and a cold one
    ContactFactory.create_batch(52, temperature="warm")
    ContactFactory(email="cold@example.com", temperature="cold")
    page = sign_in(browser, live_server, django_user_model)
    page.goto(f"{live_server.url}/admin/leads/?temperature=warm")

    # When she ticks the page, then "all leads that match", and moves them to SQL
    page.locator("[data-bulk-action-select-all-checkbox]").first.click()
    page.get_by_role("button", name="Select all leads that match").click()
    page.get_by_role("link", name="Change stage").click()
    expect(page.get_by_text("52 leads are selected.")).to_be_visible()
    page.get_by_label("Move to stage").select_option("sql")
    page.get_by_role("button", name="Move them").click()

    # Then the 52 warm leads moved, and the cold one did not
    expect(page.get_by_text("52 of 52 leads moved to “Sales qualified (SQL)”")).to_be_visible()
    assert Contact.objects.filter(lifecycle_stage="sql").count() == 52
    assert Contact.objects.get(email="cold@example.com").lifecycle_stage == "lead"


def test_on_a_phone_in_portuguese_the_footer_fits_and_adding_to_a_list_works(
    browser, live_server, django_user_model, page_tree, styled
):
    # Given a marketer who reads Brazilian Portuguese, on a 390 px wide phone
    lead = ContactFactory(email="ana@example.com")
    vip = StaticSegmentFactory(name="VIP")
    page = sign_in(browser, live_server, django_user_model, language="pt-br", viewport=PHONE)
    page.goto(f"{live_server.url}/admin/leads/")

    # When she ticks the lead, the footer's actions are in Portuguese and on the screen
    tick(page, lead)
    footer = page.locator("[data-bulk-action-footer]")
    add = footer.get_by_role("link", name="Adicionar à lista")
    expect(add).to_be_visible()
    expect(add).to_have_attribute("title", "Adicionar os leads selecionados a uma lista estática")
    page.screenshot(path="/tmp/leadmill-bulk-footer-phone-pt.png")
    for button in footer.locator(".bulk-action-btn").all():
        box = button.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
    page.screenshot(path="/tmp/leadmill-bulk-footer-phone-pt.png")

    # and adding it to "VIP" works, in Portuguese
    add.click()
    expect(page.get_by_text("1 lead está selecionado.")).to_be_visible()
    page.get_by_label("Lista estática").select_option(label="VIP")
    page.screenshot(path="/tmp/leadmill-bulk-confirm-phone-pt.png", full_page=True)
    page.get_by_role("button", name="Adicionar").click()
    expect(page.get_by_text("1 de 1 lead adicionado a “VIP”")).to_be_visible()
    assert SegmentMember.objects.filter(segment=vip, contact=lead).exists()
