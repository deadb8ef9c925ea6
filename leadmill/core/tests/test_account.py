"""The back office's account page: a user without a name or an email changes their
language (issue 14: the form demanded both and showed the error on another tab)."""

import pytest
from wagtail.users.models import UserProfile

pytestmark = pytest.mark.django_db

# What the browser sends from the "Theme" panel as it stands (its choices have no empty one).
THEME = {"theme-theme": "system", "theme-contrast": "system", "theme-density": "default"}


def test_an_admin_without_a_name_or_email_switches_to_portuguese(client, django_user_model):
    # Given an admin created with a username and a password only
    admin = django_user_model.objects.create_superuser("root", "", "a-long-password-41")
    client.force_login(admin)

    # When they save the account page with only a language chosen
    response = client.post(
        "/admin/account/",
        {
            "name_email-first_name": "",
            "name_email-last_name": "",
            "name_email-email": "",
            "locale-preferred_language": "pt-br",
            "locale-current_time_zone": "",
            **THEME,
        },
    )

    # Then it is saved, and the names stay empty
    assert response.status_code == 302
    assert UserProfile.get_for_user(admin).preferred_language == "pt-br"
    admin.refresh_from_db()
    assert (admin.first_name, admin.last_name, admin.email) == ("", "", "")


def test_a_malformed_email_is_still_refused(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "", "a-long-password-41")
    client.force_login(admin)

    response = client.post(
        "/admin/account/",
        {"name_email-email": "not-an-address", "locale-preferred_language": "pt-br", **THEME},
    )

    assert response.status_code == 200
    assert UserProfile.get_for_user(admin).preferred_language != "pt-br"
