"""What the analytics browser tests share: a back-office user, and a page of a given size
signed in as that user (the login form filled as a person fills it)."""

from __future__ import annotations

PASSWORD = "a-long-test-password-41"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def back_office_user(django_user_model, *, username: str = "dev", language: str = ""):
    """A superuser who signs in with :data:`PASSWORD`; ``language`` ("pt-br") is the one
    of its back-office profile."""
    user = django_user_model.objects.create_superuser(
        username, f"{username}@leadmill.test", PASSWORD
    )
    if language:
        user_language_set(user, language)
    return user


def user_language_set(user, language: str) -> None:
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.save()


def signed_in_page(browser, live_server, viewport: dict, *, username: str = "dev"):
    """A new page of ``viewport`` ({"width": …, "height": …}) in a context of its own,
    signed in to the back office as ``username``, on the admin's home."""
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    return page
