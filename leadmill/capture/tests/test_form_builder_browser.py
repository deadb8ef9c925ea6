"""The form builder as a marketer meets it (issue 14), in headless Chromium."""

import pytest
from django.contrib.auth import get_user_model

from leadmill.capture.demo import demo_seed
from leadmill.capture.models import Form

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-41"
SHOTS = "/tmp/leftovers-shots"


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def logged_in(browser, live_server, *, locale="en-US"):
    get_user_model().objects.create_superuser("admin", "admin@example.com", PASSWORD)
    page = browser.new_context(viewport={"width": 1366, "height": 900}, locale=locale).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def child_headings(page) -> list[str]:
    return page.locator(
        "#id_fields-FORMS > [data-inline-panel-child]:not(.deleted) [data-labelled-child-heading]"
    ).all_inner_texts()


def test_a_new_form_starts_with_its_email_its_slug_follows_the_name_fields_show_labels(
    browser, live_server
):
    # Given a marketer in the form editor, on a new form
    demo_seed()
    page = logged_in(browser, live_server)
    page.goto(f"{live_server.url}/admin/snippets/capture/form/add/")

    # Then the email field is already there, required, and headed by its name
    assert child_headings(page) == ["Email"]
    expect(page.locator("#id_fields-0-kind")).to_have_value("email")
    expect(page.locator("#id_fields-0-required")).to_be_checked()
    page.screenshot(path=f"{SHOTS}/form-builder-new.png", full_page=True)

    # When she names the form, the slug follows
    page.locator("#id_name").press_sequentially("Spring webinar")
    expect(page.locator("#id_slug")).to_have_value("spring-webinar")

    # When she adds a field and picks its kind, it is headed by that kind, then by its label
    page.get_by_role("button", name="Add Field").click()
    page.locator("#id_fields-1-kind").select_option("company_name")
    assert child_headings(page) == ["Email", "Company"]
    page.locator("#id_fields-1-label").fill("Your company")
    expect(page.locator("#id_fields-1-label")).to_have_value("Your company")
    assert child_headings(page) == ["Email", "Your company"]

    # and the consent purpose is a plain choice among the purposes
    page.get_by_role("button", name="Add Consent checkboxes").click()
    purpose = page.locator("#id_consents-0-purpose")
    assert purpose.evaluate("element => element.tagName") == "SELECT"
    purpose.select_option(label="Marketing email")

    # and the yes/no settings are not marked with a ticked box as if already chosen
    for name in ("progressive_profiling", "double_opt_in"):
        icon = page.locator(f"#panel-{name}-section .w-panel__icon use").first
        assert icon.get_attribute("href") not in ("#icon-tick-inverse", "#icon-tick")
    page.locator("#panel-progressive_profiling-section").screenshot(
        path=f"{SHOTS}/form-builder-options.png"
    )

    # When she saves it
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_text("Form 'Spring webinar' created.")).to_be_visible()

    # Then the form has her fields, in order, and its slug
    form = Form.objects.get(name="Spring webinar")
    assert form.slug == "spring-webinar"
    assert list(form.fields.values_list("kind", "label", "required")) == [
        ("email", "", True),
        ("company_name", "Your company", False),
    ]
    assert [c.purpose.key for c in form.consents.all()] == ["email-marketing"]

    # When she opens it again and renames it, the fields keep their headings, the slug stays
    page.goto(f"{live_server.url}/admin/snippets/capture/form/edit/{form.pk}/")
    assert child_headings(page) == ["Email", "Your company"]
    page.locator("#id_name").press_sequentially(" 2027")
    page.locator("#id_name").blur()
    expect(page.locator("#id_slug")).to_have_value("spring-webinar")


def test_the_fields_are_headed_by_their_names_in_portuguese(browser, live_server):
    from wagtail.users.models import UserProfile

    demo_seed()
    page = logged_in(browser, live_server, locale="pt-BR")
    profile = UserProfile.get_for_user(get_user_model().objects.get(username="admin"))
    profile.preferred_language = "pt-br"
    profile.save()

    page.goto(f"{live_server.url}/admin/snippets/capture/form/add/")
    expect(page.locator("#id_fields-0-kind")).to_have_value("email")
    page.get_by_role("button", name="Adicionar Campo").click()
    page.locator("#id_fields-1-kind").select_option("first_name")

    assert child_headings(page) == ["E-mail", "Nome"]
