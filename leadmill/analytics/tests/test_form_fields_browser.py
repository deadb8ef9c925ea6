"""The tracker's field events in headless Chromium (issue 15, forms report): a person fills
two fields of the e-book form and leaves; the tracker sends each field's name as entered
and filled in, never what she typed, and the forms report says she left at the last one."""

import json
import time

import pytest
from django.db import OperationalError
from django.utils import timezone

from leadmill.capture.demo import demo_seed
from leadmill.capture.models import Form
from leadmill.tracking.models import Event, EventType

from ..form_report import form_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A person's browser: Chromium's own headless user agent is a seeded bot rule.
DESKTOP_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
EXPECTED = {
    ("email", "focus"),
    ("email", "complete"),
    ("first_name", "focus"),
    ("first_name", "complete"),
}


def field_events() -> set:
    try:
        rows = Event.objects.filter(type=EventType.FORM_FIELD).values_list("name", "properties")
        return {(name, properties["field"], properties["action"]) for name, properties in rows}
    except OperationalError:  # the live server is writing
        return set()


def test_field_events_carry_names_not_values_and_feed_the_forms_report(
    browser, live_server, settings
):
    # Given the demo's e-book page, opened by a person
    settings.LEADMILL_FORM_MIN_SECONDS = 0
    demo_seed()
    page = browser.new_context(user_agent=DESKTOP_CHROME).new_page()
    page.goto(f"{live_server.url}/ebook/")

    # When she types her email and first name, then clicks away and leaves without sending
    page.get_by_role("textbox", name="Email", exact=True).fill("nora.secret@example.com")
    page.get_by_label("First name").fill("Noralee")
    page.get_by_role("heading", level=1).click()
    for _ in range(100):
        if page.evaluate("typeof window.leadmill") == "function":
            break
        page.wait_for_timeout(100)
    page.evaluate("leadmill('flush')")
    deadline = time.monotonic() + 10
    while {(f, a) for _n, f, a in field_events()} != EXPECTED and time.monotonic() < deadline:
        time.sleep(0.1)

    # Then each field was recorded as entered and filled in, by name, for the e-book form
    assert field_events() == {("ebook", field, action) for field, action in EXPECTED}
    stored = json.dumps(list(Event.objects.values_list("properties", flat=True)))
    assert "nora.secret" not in stored and "Noralee" not in stored  # never the values

    # And the forms report counts her start, the fields she reached and where she left
    today = timezone.localdate()
    report = form_report(form=Form.objects.get(slug="ebook"), since=today, until=today)
    fields = {row["field"]: row for row in report["fields"]}
    assert (report["starts"], report["submissions"]) == (1, 0)
    assert (fields["email"]["reached"], fields["email"]["left_here"]) == (1, 0)
    assert (fields["first_name"]["reached"], fields["first_name"]["left_here"]) == (1, 1)
    assert fields["company_name"]["reached"] == 0
