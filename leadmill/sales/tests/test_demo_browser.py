"""The demo shows the whole machine: a visitor asks for a demo on /demo/, and the lead lands
in the first admin's "My leads" by itself, hot, qualified, with why — in headless Chromium."""

import time

import pytest
from django.contrib.auth import get_user_model

from leadmill.capture.demo import demo_seed
from leadmill.contacts.models import Contact, LifecycleStage, Temperature
from leadmill.core.setup import groups_ensure
from leadmill.scoring.demo import scoring_demo_seed

from ..demo import sales_demo_seed
from ..models import AssignmentRule, SalesLead, SalesRep

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-41"


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture
def seeded_demo(settings):
    settings.LEADMILL_FORM_MIN_SECONDS = 1
    groups_ensure()
    admin = get_user_model().objects.create_superuser(
        "admin", "admin@example.com", PASSWORD, first_name="Leadmill", last_name="Admin"
    )
    demo_seed()
    assert scoring_demo_seed() is True
    assert sales_demo_seed() is True
    return admin


def test_the_sales_demo_is_seeded_once():
    # Given the demo's pages and a first admin
    groups_ensure()
    get_user_model().objects.create_superuser("admin", "admin@example.com", PASSWORD)
    demo_seed()

    # When scoring and sales are seeded twice
    assert (scoring_demo_seed(), sales_demo_seed()) == (True, True)
    assert (scoring_demo_seed(), sales_demo_seed()) == (False, False)

    # Then there are three reps (the admin takes any lead) and one rule per territory
    assert sorted(
        SalesRep.objects.values_list("user__username", "territories", "user__groups__name")
    ) == [
        ("admin", "", None),
        ("ana.souza", "BR, PT", "Sales"),
        ("ben.carter", "US, CA, GB", "Sales"),
    ]
    assert list(AssignmentRule.objects.values_list("countries", "reps__user__username")) == [
        ("BR, PT", "ana.souza"),
        ("US, CA, GB", "ben.carter"),
    ]
    assert not get_user_model().objects.get(username="ana.souza").has_usable_password()


def test_a_demo_request_reaches_my_leads_by_itself_with_the_reason(
    browser, live_server, seeded_demo
):
    # Given a visitor on the demo page
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{live_server.url}/demo/")
    shown_at = time.monotonic()

    # When she asks for a demo with her work email and her company
    page.get_by_role("textbox", name="Email", exact=True).fill("rita@example.com")
    page.get_by_label("First name").fill("Rita")
    page.locator("input[name=company_name]").fill("Northwind")
    for checkbox in page.get_by_role("checkbox").all():
        checkbox.check()
    time.sleep(max(0.0, shown_at + 1.3 - time.monotonic()))
    page.get_by_role("button", name="Request my demo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thanks, we will be in touch")

    # Then, with nobody touching it, she is hot, an MQL, and owned by the first admin
    contact = Contact.objects.get(email="rita@example.com")
    assert (contact.temperature, contact.lifecycle_stage, contact.owner_id) == (
        Temperature.HOT,
        LifecycleStage.MQL,
        seeded_demo.pk,
    )
    assert SalesLead.objects.get(contact=contact).owner_id == seeded_demo.pk

    # When the admin logs in and opens "My leads" from the menu
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    page.get_by_role("link", name="My leads").first.click()

    # Then her row says why she is hot: the demo request, an intent signal, and her scores
    row = page.locator(f"tr[data-lead='{contact.pk}']")
    expect(row).to_contain_text("Rita")
    expect(row).to_contain_text("Hot")
    expect(row).to_contain_text("Strong buying intent")
    expect(row).to_contain_text("Asked for a demo: 1×")
    expect(row).to_contain_text("Fit 30, engagement 30.")

    # When she opens the lead's page from there
    row.get_by_role("link", name="Rita").click()

    # Then the page shows the scores and why, above where the lead came from
    scores = page.get_by_role("region", name="Scores")
    expect(scores).to_contain_text("Fit30")
    expect(scores).to_contain_text("Engagement30")
    expect(scores).to_contain_text("Total60")
    expect(scores.get_by_role("listitem").first).to_contain_text("Strong buying intent")

    # And the leads listing sorts and filters by them, and exports them
    page.goto(f"{live_server.url}/admin/leads/?ordering=-score_total&score_total=50")
    expect(page.locator("table.listing tbody tr")).to_have_count(1)
    expect(page.locator("table.listing tbody tr").first).to_contain_text("60")
    page.goto(f"{live_server.url}/admin/leads/?score_total=61")
    expect(page.locator("table.listing tbody tr")).to_have_count(0)
    export = page.request.get(f"{live_server.url}/admin/leads/?export=csv").text()
    heading, values = export.splitlines()[:2]
    assert heading.endswith("Chance to win (%),Fit score,Engagement score,Total score")
    assert values.endswith(",,30,30,60")


def test_a_brazilian_salesperson_reads_why_a_lead_is_hot_in_portuguese(
    browser, live_server, seeded_demo, client
):
    # Given an admin who reads Brazilian Portuguese, and a demo request from the Brazilian page
    from wagtail.users.models import UserProfile

    from leadmill.capture import tokens
    from leadmill.capture.models import Form
    from leadmill.capture.pages import LandingPage

    profile = UserProfile.get_for_user(seeded_demo)
    profile.preferred_language = "pt-br"
    profile.save()
    form = Form.objects.get(slug="demo-request-pt-br")
    data = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "_page": str(LandingPage.objects.get(slug="demo", locale__language_code="pt-br").pk),
        "website": "",
        "email": "joana@example.com",
        "first_name": "Joana",
        "company_name": "Nordeste Ltda",
    }
    data.update({f"consent_{c.purpose.key}": "on" for c in form.consents.select_related("purpose")})
    assert client.post("/f/demo-request-pt-br/", data=data).status_code == 303
    contact = Contact.objects.get(email="joana@example.com")

    # When she opens "Meus leads" from the menu
    page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="pt-BR").new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Meus leads").first.click()

    # Then the reasons are in Portuguese, the rule's name included
    row = page.locator(f"tr[data-lead='{contact.pk}']")
    expect(row).to_contain_text("Forte intenção de compra")
    expect(row).to_contain_text("Pediu uma demonstração: 1× nos últimos")
    expect(row).not_to_contain_text("Asked for a demo")

    # and so they are on her page, under "Pontuações"
    row.get_by_role("link", name="Joana").click()
    scores = page.get_by_role("region", name="Pontuações")
    expect(scores).to_contain_text("Pediu uma demonstração: 1×")
    expect(scores).to_contain_text("Perfil 30, engajamento 30.")
