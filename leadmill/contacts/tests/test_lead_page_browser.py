"""A lead's page at phone width, in headless Chromium: the "Move to stage" form stays on
the screen, even with Portuguese stage names (the longest)."""

import pytest

from .factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def test_the_move_to_stage_form_fits_a_phone_screen_in_portuguese(
    browser, live_server, django_user_model, styled
):
    # Given a back-office user who reads Brazilian Portuguese, and a lead
    from wagtail.users.models import UserProfile

    user = django_user_model.objects.create_superuser("ana", "ana@leadmill.test", "pw-41-long")
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "pt-br"
    profile.save()
    contact = ContactFactory(email="lead@example.com")
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill("ana")
    page.locator("#id_password").fill("pw-41-long")
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    # When they open the lead's page on a 390 px wide phone
    page.goto(f"{live_server.url}/admin/leads/inspect/{contact.pk}/")
    stage = page.get_by_label("Mover para o estágio")
    stage.scroll_into_view_if_needed()

    # Then the stage dropdown (styled by Wagtail: a tall box) and the button end inside it
    assert stage.bounding_box()["height"] > 30
    for control in (stage, page.get_by_role("button", name="Alterar estágio")):
        box = control.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
