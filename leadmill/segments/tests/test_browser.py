"""The segment editor in headless Chromium: adding a condition updates the live size."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from leadmill.contacts.tests.factories import ContactFactory

from ..models import Segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-41"


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def test_the_marketer_builds_a_segment_and_sees_its_size_change(
    browser, live_server, django_user_model
):
    # Given three leads, two in Brazil and one of them hot
    (
        ContactFactory(country="BR", temperature="hot"),
        ContactFactory(country="BR"),
        ContactFactory(country="PT"),
    )
    django_user_model.objects.create_superuser("marketer", "marketer@leadmill.test", ADMIN_PASSWORD)
    context = browser.new_context()
    page = context.new_page()
    page.set_viewport_size({"width": 1200, "height": 800})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")

    # When she opens a new segment and adds "Country is BR"
    page.goto(f"{live_server.url}{reverse(Segment.snippet_viewset.get_url_name('add'))}")
    page.locator("#id_name").fill("Brazil, hot")
    page.get_by_role("button", name="Add a condition").click()
    row = page.locator("[data-row='0']")
    row.locator("[data-field]").select_option("country")
    row.locator("[data-op]").select_option("equals")
    row.locator("[data-value]").fill("BR")

    # Then the live size says two leads
    size = page.locator("[data-size]")
    expect(size).to_have_attribute("data-count", "2")
    expect(size).to_have_text("2 leads match now")

    # When she adds "Temperature is Hot", the size follows
    page.get_by_role("button", name="Add a condition").click()
    second = page.locator("[data-row='1']")
    second.locator("[data-field]").select_option("temperature")
    second.locator("[data-value]").select_option("hot")
    expect(size).to_have_attribute("data-count", "1")

    # And an unfinished condition is explained instead of counted
    page.get_by_role("button", name="Add a condition").click()
    page.locator("[data-row='2'] [data-field]").select_option("created_at")
    expect(page.locator("[data-errors]")).to_contain_text(
        "Condition 3: enter a whole number of days for “Created”."
    )
    page.locator("[data-row='2'] button", has_text="Remove").click()
    expect(size).to_have_attribute("data-count", "1")

    # And saving keeps the definition she built
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("link", name="Brazil, hot")).to_be_visible()
    segment = Segment.objects.get(name="Brazil, hot")
    assert segment.definition == {
        "match": "all",
        "conditions": [
            {"field": "country", "op": "equals", "value": "BR"},
            {"field": "temperature", "op": "equals", "value": "hot"},
        ],
    }, json.dumps(segment.definition)
    context.close()
