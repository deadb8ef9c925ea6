"""The sequence's performance screen in Chromium: reached from the sequences' listing, in
Brazilian Portuguese, on a desktop and on a 390 px phone (tables scroll in their box)."""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from ..admin_nurture import SEQUENCE_URL_NAME
from .browser import DESKTOP, PHONE, back_office_user, expect, signed_in_page, user_language_set
from .known_nurture import known_held_out_sequence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def held_out_sequence():
    return known_held_out_sequence()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE])
def test_the_marketer_opens_a_sequences_performance_in_portuguese(
    browser,
    live_server,
    django_user_model,
    held_out_sequence,
    page_tree,
    viewport,
    tmp_path,  # noqa: F811
):
    back_office_user(django_user_model, username="ana", language="pt-br")
    page = signed_in_page(browser, live_server, viewport, username="ana")

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


BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def test_a_click_in_a_forwarded_broadcast_brings_a_lead_the_marketer_sees_in_both_languages(
    browser, live_server, django_user_model, settings, tmp_path
):
    import datetime as dt
    import time

    from django.utils import timezone

    from leadmill.capture.demo import demo_seed
    from leadmill.contacts.tests.factories import ContactFactory
    from leadmill.messaging.emails import links_track
    from leadmill.messaging.models import Message
    from leadmill.nurture.models import Broadcast
    from leadmill.nurture.tests.factories import BroadcastFactory

    from ..admin_nurture import BROADCASTS_URL_NAME

    # Given a broadcast sent an hour ago to Ana, who forwards it to Bea
    settings.BASE_URL = live_server.url
    settings.LEADMILL_FORM_MIN_SECONDS = 1
    demo_seed()
    ana = ContactFactory(email="ana@example.com")
    spring = BroadcastFactory(
        name="Spring launch", segment__members=[ana], status=Broadcast.Status.SENT
    )
    message = Message.objects.create(
        contact=ana,
        broadcast_id=spring.pk,
        kind=Message.Kind.MARKETING,
        status=Message.Status.SENT,
        sent_at=timezone.now() - dt.timedelta(hours=1),
    )
    email_html = links_track(
        f'<p><a href="{live_server.url}/ebook/">Get the playbook</a></p>', message_pk=message.pk
    )

    # When Bea clicks the link in the email and asks for the e-book on the page it opens
    bea = browser.new_context(user_agent=BROWSER_UA).new_page()
    bea.set_content(email_html)
    bea.get_by_role("link", name="Get the playbook").click()
    bea.wait_for_url(f"{live_server.url}/ebook/")
    shown_at = time.monotonic()
    bea.get_by_role("textbox", name="Email", exact=True).fill("bea@example.com")
    bea.get_by_label("First name").fill("Bea")
    bea.get_by_label("Yes, send me marketing emails").check()
    time.sleep(max(0.0, shown_at + 1.3 - time.monotonic()))
    bea.get_by_role("button", name="Send me the e-book").click()
    expect(bea.get_by_role("heading", level=1)).to_have_text("Your e-book is ready")

    # Then the marketer sees Bea as the broadcast's new lead, in English and in Portuguese,
    # on a desktop and on a phone
    user = back_office_user(django_user_model, username="ana")
    directory = Path(os.environ.get("LEADMILL_SCREENSHOTS_DIR") or tmp_path)
    for language, heading in (
        ("en", "Leads captured through the links"),
        ("pt-br", "Leads captados pelos links"),
    ):
        user_language_set(user, language)
        for viewport in (DESKTOP, PHONE):
            page = signed_in_page(browser, live_server, viewport, username="ana")
            page.goto(f"{live_server.url}{reverse(BROADCASTS_URL_NAME)}")
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
            row = page.get_by_test_id("captured-leads").get_by_role("row", name="Spring launch")
            expect(row.locator("td")).to_have_text(["1", "1", "0", "0", "0"])
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            page.screenshot(
                path=str(directory / f"broadcasts-performance-{language}-{viewport['width']}.png"),
                full_page=True,
            )
            page.context.close()
